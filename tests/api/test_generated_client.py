"""A client generated from openapi.yaml by openapi-python-client, run against the live server.

The generated code is never committed: it is generated into a temporary folder here,
so a change of the spec that breaks generated clients fails this test.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.clients.generate import PYTHON_PACKAGE as PACKAGE
from tests.clients.generate import generate_python_client
from tests.conftest import PASSWORD, unique_email
from tests.factories import session_body


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = generate_python_client(tmp_path_factory.mktemp("generated"))
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_register_sign_in_push_and_pull_with_the_generated_client(
    generated: ModuleType, live_server: str
) -> None:
    models = _module("models")
    create_account = _module("api.accounts.create_account")
    create_token = _module("api.tokens.create_token")
    push_sessions = _module("api.sync.push_sessions")
    pull_changes = _module("api.sync.pull_changes")
    list_sessions = _module("api.sessions.list_sessions")
    get_session = _module("api.sessions.get_session")

    anonymous = generated.Client(base_url=live_server)
    email = unique_email("generated")
    created = create_account.sync_detailed(
        client=anonymous,
        body=models.AccountCreate(email=email, password=PASSWORD, timezone="Europe/Berlin"),
    )
    assert created.status_code == 201
    assert created.parsed.email == email

    def device(name: str) -> Any:
        reply = create_token.sync(
            client=anonymous,
            body=models.TokenRequest(email=email, password=PASSWORD, device_name=name),
        )
        assert isinstance(reply, models.TokenCreated), reply
        assert reply.token.startswith("knotlog_")
        return generated.AuthenticatedClient(base_url=live_server, token=reply.token)

    phone, tablet = device("phone"), device("tablet")
    good = [session_body(), session_body(region="glutes", tool="foam_roller")]
    bad = session_body(pain_before=11)
    body = models.PushRequest.from_dict({"sessions": [*good, bad]})
    pushed = push_sessions.sync(client=phone, body=body)
    assert isinstance(pushed, models.PushReply)
    statuses = [(r.index, str(r.status.value)) for r in pushed.results]
    assert statuses == [(0, "created"), (1, "created"), (2, "invalid")]
    assert "pain_before" in pushed.results[2].errors.to_dict()

    pulled = pull_changes.sync(client=tablet, limit=1)
    seen = [str(s.id) for s in pulled.changes]
    while pulled.has_more:
        pulled = pull_changes.sync(client=tablet, cursor=pulled.cursor, limit=1)
        seen += [str(s.id) for s in pulled.changes]
    assert seen == [g["id"] for g in good]

    page = list_sessions.sync(client=tablet)
    assert {str(s.id) for s in page.items} == {g["id"] for g in good}
    one = get_session.sync(client=tablet, session_id=uuid.UUID(good[1]["id"]))
    assert (one.region.value, one.tool.value, one.pain_before) == ("glutes", "foam_roller", 6)
    missing = get_session.sync_detailed(client=tablet, session_id=uuid.uuid4())
    assert missing.status_code == 404
