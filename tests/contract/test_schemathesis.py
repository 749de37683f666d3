"""Contract fuzzing: schemathesis drives a live HTTP server from the committed openapi.yaml.

Every default check runs (server errors, status codes, content types, response schemas,
positive/negative data, missing or ignored auth, use after free...), in two phases:
- each operation on its own, positive and negative cases (``test_operation``);
- the stateful phase: sequences chained by the spec's OpenAPI links (``test_stateful``).

Bounded and deterministic for CI: a fixed number of examples, derandomized generation,
no example database.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy import Engine
from werkzeug.serving import make_server

from api import create_app
from core.database import Database
from core.settings import Settings
from tests.conftest import PASSWORD, unique_email

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"

schema = schemathesis.openapi.from_path(SPEC)

COMMON: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}

# Calls that end the credentials they are sent with get an account of their own.
SELF_DESTRUCTIVE = {"deleteMe"}

# Rules JSON Schema cannot state, checked by the server with a 422 naming the field:
# opaque cursors and signed tokens only this server issues, a week 53 in a year of 52
# ISO weeks, IANA zone names (the tz database, not a fixed enum), and times that must
# lie between 1970 and 24 h after the server's clock. A schema-valid value the server
# refuses for these reasons alone is not a contract breach, so positive_data_acceptance
# is skipped for exactly those responses (every other check still runs on them).
SERVER_CHECKED = {
    "listSessions": {"cursor"},
    "pullChanges": {"cursor"},
    "confirmUnsubscribe": {"token"},
    "unsubscribe": {"token"},
    "getSummary": {"week"},
    "getReport": {"week"},
    "listSummaries": {"from", "to"},
    # (a password on the list of common passwords is refused: NIST SP 800-63B)
    "createAccount": {"timezone", "password"},
    # (and changing the email or password needs the current password, which only the
    # account knows)
    "updateMe": {"timezone", "plan_effective_week", "password", "current_password"},
    # and a body id, when sent, equal to the path's (a rule across two locations)
    "putSession": {"id", "started_at", "client_updated_at"},
}


def operation_id(case: Any) -> str:
    return str(case.operation.definition.raw.get("operationId"))


def excluded_checks(case: Any, response: requests.Response) -> list[Any]:
    if case.method.upper() != case.operation.method.upper():
        return []  # the coverage phase also sends methods the operation does not have
    op = operation_id(case)
    if response.status_code == 422 and op in SERVER_CHECKED:
        fields = set((response.json().get("errors") or {}).keys())
        if fields and fields <= SERVER_CHECKED[op]:
            return [positive_data_acceptance]
    if op == "pushSessions" and response.status_code == 200:
        body = case.body if isinstance(case.body, dict) else {}
        items = body.get("sessions")
        if isinstance(items, list) and len(items) <= 500:
            # The envelope is valid, so any violation is inside an item, and the contract
            # answers those per item (`invalid` with errors), never by failing the batch
            # (PRODUCT.md: a 4xx would block the phone's queue forever).
            assert len(response.json()["results"]) == len(items), response.text
            return [negative_data_rejection]
    return []


@pytest.fixture(scope="module")
def contract_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The app on a real HTTP server, with rate limits far above what the fuzzer sends."""
    generous = {
        "rate_limit_per_token": "100000 per minute",
        "rate_limit_per_ip": "100000 per minute",
        "login_limit_per_ip": "100000 per minute",
    }
    own = dataclasses.replace(
        settings, **{k: v for k, v in generous.items() if hasattr(settings, k)}
    )
    server = make_server(
        "127.0.0.1", 0, create_app(own, Database.from_engine(engine)), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def register(base_url: str) -> dict[str, str]:
    """A fresh account and a bearer token for it; returns the Authorization header."""
    email = unique_email("fuzz")
    created = requests.post(
        f"{base_url}/v1/accounts",
        json={"email": email, "password": PASSWORD, "timezone": "Europe/Berlin"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    token = requests.post(
        f"{base_url}/v1/tokens",
        json={"email": email, "password": PASSWORD, "device_name": "schemathesis"},
        timeout=10,
    )
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


@pytest.fixture(scope="module")
def auth_headers(contract_server: str) -> dict[str, str]:
    return register(contract_server)


def headers_for(case: Any, base_url: str, shared: dict[str, str]) -> dict[str, str]:
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
        return {}  # the case tests missing or broken credentials: send them as generated
    if operation_id(case) in SELF_DESTRUCTIVE:
        return register(base_url)
    return shared


def call_and_check(case: Any, base_url: str, headers: dict[str, str]) -> Any:
    response = case.call(base_url=base_url, headers=headers)
    case.validate_response(
        response,
        headers=headers,
        excluded_checks=excluded_checks(case, response),
        transport_kwargs={"base_url": base_url, "headers": headers},
    )
    return response


@schema.parametrize()
@hypothesis.settings(max_examples=30, **COMMON)
def test_operation(case: Any, contract_server: str, auth_headers: dict[str, str]) -> None:
    call_and_check(case, contract_server, headers_for(case, contract_server, auth_headers))


def test_stateful(contract_server: str) -> None:
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            # Each scenario starts from an empty account: what the server answers then
            # depends on the scenario alone, so Hypothesis can replay it.
            self._account = register(contract_server)

        def call(self, case: Any, **kwargs: Any) -> Any:
            self._headers = headers_for(case, contract_server, self._account)
            return case.call(base_url=contract_server, headers=self._headers)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(
                response,
                headers=self._headers,
                excluded_checks=excluded_checks(case, response),
                transport_kwargs={"base_url": contract_server, "headers": self._headers},
            )

    Machine.run(
        settings=hypothesis.settings(
            max_examples=20, stateful_step_count=6, phases=[Phase.generate], **COMMON
        )
    )
