"""Every failure is an RFC 9457 problem document a client developer can act on."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

from flask.testing import FlaskClient

from tests.conftest import register, unique_email
from tests.factories import session_body

PROBLEM = "application/problem+json"


def _is_problem(reply: object, status: int) -> dict[str, object]:
    assert reply.status_code == status
    assert reply.content_type == PROBLEM
    body: dict[str, object] = reply.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert "Traceback" not in json.dumps(body)
    return body


def test_malformed_json_is_400(client: FlaskClient) -> None:
    user = register(client)
    reply = client.post(
        "/v1/sync/push",
        data=b'{"sessions": [',
        content_type="application/json",
        headers=user["headers"],
    )
    _is_problem(reply, 400)
    not_utf8 = client.post(
        "/v1/sync/push",
        data=b'{"sessions": ["\xff"]}',
        content_type="application/json",
        headers=user["headers"],
    )
    _is_problem(not_utf8, 400)


def test_wrong_types_are_422_with_the_field_named(client: FlaskClient) -> None:
    reply = client.post("/v1/accounts", json={"email": 3, "password": [], "timezone": "Mars/Base"})
    errors = _is_problem(reply, 422)["errors"]
    assert isinstance(errors, dict) and {"email", "password", "timezone"} <= errors.keys()


def test_missing_or_bad_tokens_are_401_with_a_challenge(client: FlaskClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer knotlog_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        reply = client.get("/v1/me", headers=headers)
        _is_problem(reply, 401)
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_path_is_404_and_a_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    _is_problem(client.get("/v1/nothing-here"), 404)
    reply = client.patch("/v1/sync/push", json={})
    _is_problem(reply, 405)
    assert "POST" in reply.headers["Allow"]


def test_a_push_over_500_items_names_the_limit(client: FlaskClient) -> None:
    user = register(client)
    reply = client.post(
        "/v1/sync/push",
        json={"sessions": [session_body() for _ in range(501)]},
        headers=user["headers"],
    )
    assert reply.status_code in (413, 422)
    assert "500" in json.dumps(reply.get_json())


def test_a_body_over_the_limit_is_413_with_content_length(client: FlaskClient) -> None:
    user = register(client)
    huge = b'{"sessions": [], "pad": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    reply = client.post(
        "/v1/sync/push", data=huge, content_type="application/json", headers=user["headers"]
    )
    _is_problem(reply, 413)


def test_a_chunked_body_over_the_limit_is_413_too(live_server: str) -> None:
    # Without Content-Length the limit must still hold (werkzeug PR #2620).
    url = urlparse(live_server)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunk = b"x" * (1024 * 1024)

    def body() -> object:
        yield b'{"sessions": [], "pad": "'
        for _ in range(9):
            yield chunk
        yield b'"}'

    try:
        connection.request(
            "POST",
            "/v1/accounts",
            body=body(),
            encode_chunked=True,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )
        reply = connection.getresponse()
        assert reply.status == 413
        assert reply.getheader("Content-Type") == PROBLEM
        assert json.loads(reply.read())["status"] == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before reading it all; it must never accept it
    finally:
        connection.close()


def test_pull_limits_outside_the_range_name_it(client: FlaskClient) -> None:
    user = register(client)
    for limit in (0, 1001, "many"):
        body = _is_problem(client.get(f"/v1/sync/pull?limit={limit}", headers=user["headers"]), 422)
        assert "limit" in json.dumps(body["errors"])


def test_server_fields_in_a_body_are_ignored(client: FlaskClient) -> None:
    user, other = register(client), register(client)
    body = session_body(
        account_id=other["account"]["id"],
        created_at="2000-01-01T00:00:00+00:00",
        local_date="1999-01-01",
        week="1999-W01",
        seq=1,
    )
    stored = client.put(f"/v1/sessions/{body['id']}", json=body, headers=user["headers"])
    assert stored.status_code == 201
    data = stored.get_json()
    assert data["local_date"] != "1999-01-01" and not data["created_at"].startswith("2000")
    assert client.get(f"/v1/sessions/{body['id']}", headers=other["headers"]).status_code == 404


def test_a_small_chunked_body_is_read_whole(live_server: str) -> None:
    url = urlparse(live_server)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    account = json.dumps(
        {"email": unique_email("chunked"), "password": "a long passphrase", "timezone": "UTC"}
    ).encode()
    try:
        connection.request(
            "POST",
            "/v1/accounts",
            body=iter([account[:10], account[10:]]),
            encode_chunked=True,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )
        reply = connection.getresponse()
        assert reply.status == 201, reply.read()
    finally:
        connection.close()
