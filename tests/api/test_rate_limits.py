"""Rate limits (OWASP API4): per client address, per token, on sign-ins, shared via Redis."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import yaml
from flask import Flask
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import sessionmaker
from werkzeug.test import TestResponse

from api import create_app, openapi_document
from core.database import Database
from core.settings import Settings
from tests.conftest import PASSWORD, register, unique_email

REDIS_URL = os.environ.get("KNOTLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
ROOMY = "10000 per minute"  # a limit that a test never reaches

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(settings: Settings, engine: Engine, connection: Connection) -> MakeApp:
    """An app with some settings replaced, joined to the test's transaction like `app`."""

    def make(**changes: Any) -> Flask:
        sessions = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        limits = {
            "rate_limit_per_ip": ROOMY,
            "rate_limit_per_token": ROOMY,
            "login_limit_per_ip": ROOMY,
        }
        replaced = dataclasses.replace(settings, **(limits | changes))
        return create_app(replaced, Database(engine=engine, sessions=sessions))

    return make


def from_address(address: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_rate_limited(response: TestResponse, limit: str, whose: str) -> None:
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 429
    assert body["title"] == "Too Many Requests"
    assert body["code"] == "rate_limited"
    assert limit in body["detail"]
    assert whose in body["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60


# ---- per client address -----------------------------------------------------------


def test_a_flood_from_one_address_gets_429_with_retry_after(make_app: MakeApp) -> None:
    client = make_app(rate_limit_per_ip="3 per minute").test_client()
    user = register(client)  # 2 calls from 127.0.0.1
    assert client.get("/v1/me", headers=user["headers"]).status_code == 200

    refused = client.get("/v1/me", headers=user["headers"])
    assert_rate_limited(refused, "3 per 1 minute", "per client address")
    assert refused.headers["X-Request-ID"]  # still logged and traceable like any response

    # Another address has its own budget, even with the same token.
    other = client.get("/v1/me", headers=user["headers"], **from_address("192.0.2.7"))
    assert other.status_code == 200


def test_unknown_paths_count_against_the_address_too(make_app: MakeApp) -> None:
    client = make_app(rate_limit_per_ip="2 per minute").test_client()
    assert client.get("/nope").status_code == 404
    assert client.get("/nope").status_code == 404
    assert_rate_limited(client.get("/nope"), "2 per 1 minute", "per client address")


def test_health_checks_and_metrics_are_never_limited(make_app: MakeApp) -> None:
    client = make_app(rate_limit_per_ip="1 per minute").test_client()
    client.get("/openapi.yaml")
    assert client.get("/openapi.yaml").status_code == 429
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_the_address_is_the_clients_behind_a_trusted_proxy(make_app: MakeApp) -> None:
    client = make_app(rate_limit_per_ip="1 per minute", proxy_hops=1).test_client()
    first = {"X-Forwarded-For": "198.51.100.1"}
    assert client.get("/openapi.yaml", headers=first).status_code == 200
    assert client.get("/openapi.yaml", headers=first).status_code == 429
    # Same proxy (same remote address), another client behind it: its own budget.
    second = {"X-Forwarded-For": "198.51.100.2"}
    assert client.get("/openapi.yaml", headers=second).status_code == 200


# ---- per token ----------------------------------------------------------------------


def test_two_tokens_have_separate_budgets(make_app: MakeApp) -> None:
    client = make_app(rate_limit_per_token="2 per minute").test_client()
    user = register(client)
    second = client.post(
        "/v1/tokens", json={"email": user["email"], "password": PASSWORD, "device_name": "tablet"}
    ).get_json()
    tablet = {"Authorization": f"Bearer {second['token']}"}

    for _ in range(2):
        assert client.get("/v1/me", headers=user["headers"]).status_code == 200
    assert_rate_limited(client.get("/v1/me", headers=user["headers"]), "2 per 1 minute", "token")

    assert client.get("/v1/me", headers=tablet).status_code == 200
    assert client.get("/v1/sessions", headers=tablet).status_code == 200
    assert_rate_limited(client.get("/v1/sessions", headers=tablet), "2 per 1 minute", "token")


def test_calls_without_a_token_use_no_token_budget(make_app: MakeApp) -> None:
    client = make_app(rate_limit_per_token="1 per minute").test_client()
    for _ in range(3):
        assert client.get("/openapi.yaml").status_code == 200


# ---- sign-ups and sign-ins per address ----------------------------------------------------


def test_account_and_token_creation_share_a_tighter_budget(make_app: MakeApp) -> None:
    client = make_app(login_limit_per_ip="3 per minute").test_client()
    user = register(client)  # 1 account + 1 token
    wrong = {"email": user["email"], "password": "not the password", "device_name": "x"}
    assert client.post("/v1/tokens", json=wrong).status_code == 401

    body = {"email": unique_email(), "password": PASSWORD, "timezone": "UTC"}
    assert_rate_limited(
        client.post("/v1/accounts", json=body), "3 per 1 minute", "sign-ups and sign-ins"
    )
    assert_rate_limited(client.post("/v1/tokens", json=wrong), "3 per 1 minute", "sign-ins")
    # Only sign-ups and sign-ins: the signed-in phone goes on syncing.
    assert client.get("/v1/me", headers=user["headers"]).status_code == 200
    # And another address may still sign in.
    right = wrong | {"password": PASSWORD}
    assert client.post("/v1/tokens", json=right, **from_address("192.0.2.9")).status_code == 201


def test_the_default_limits() -> None:
    defaults = Settings.from_env({})
    assert defaults.rate_limit_per_token == "1200 per minute"
    assert defaults.rate_limit_per_ip == "600 per minute"
    assert defaults.login_limit_per_ip == "30 per minute"
    assert defaults.redis_url is None
    configured = Settings.from_env(
        {
            "KNOTLOG_RATE_LIMIT_PER_TOKEN": "5 per second",
            "KNOTLOG_RATE_LIMIT_PER_IP": "100 per hour",
            "KNOTLOG_LOGIN_LIMIT_PER_IP": "10 per hour",
            "KNOTLOG_RATE_LIMIT_KEY_PREFIX": "staging",
            "REDIS_URL": "redis://cache:6379/1",
        }
    )
    assert configured.rate_limit_per_token == "5 per second"
    assert configured.rate_limit_per_ip == "100 per hour"
    assert configured.login_limit_per_ip == "10 per hour"
    assert configured.rate_limit_key_prefix == "staging"
    assert configured.redis_url == "redis://cache:6379/1"


def test_every_documented_operation_but_health_checks_lists_429(app: Flask) -> None:
    spec = yaml.safe_load(openapi_document(app))
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue  # path-level "parameters"
            documented = "429" in operation["responses"]
            assert documented == (path not in {"/healthz", "/readyz"}), (method, path)


# ---- shared through Redis ----------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are removed afterwards."""
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        # Never a skip: shared limits are a promise; KNOTLOG_TEST_REDIS_URL names another server.
        pytest.fail(f"no Redis at {REDIS_URL}: the shared-limit tests need one")
    prefix = f"knotlog-test-{uuid.uuid4().hex}"
    yield prefix
    keys = list(connection.scan_iter(f"*{prefix}*"))
    assert keys, "the limiter wrote nothing to Redis"
    connection.delete(*keys)
    connection.close()


def test_two_app_instances_sharing_redis_share_the_budget(
    make_app: MakeApp, redis_prefix: str
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "rate_limit_key_prefix": redis_prefix,
        "rate_limit_per_ip": "4 per minute",
    }
    first = make_app(**shared).test_client()
    second = make_app(**shared).test_client()

    assert first.get("/openapi.yaml").status_code == 200
    assert second.get("/openapi.yaml").status_code == 200
    assert first.get("/openapi.yaml").status_code == 200
    assert second.get("/openapi.yaml").status_code == 200
    assert_rate_limited(first.get("/openapi.yaml"), "4 per 1 minute", "per client address")
    assert_rate_limited(second.get("/openapi.yaml"), "4 per 1 minute", "per client address")

    # A process counting in its own memory would still have its whole budget.
    alone = make_app(rate_limit_per_ip="4 per minute").test_client()
    assert alone.get("/openapi.yaml").status_code == 200


def test_another_key_prefix_is_another_budget(make_app: MakeApp, redis_prefix: str) -> None:
    limited = {"redis_url": REDIS_URL, "rate_limit_per_ip": "1 per minute"}
    first = make_app(rate_limit_key_prefix=redis_prefix, **limited).test_client()
    other = make_app(rate_limit_key_prefix=f"{redis_prefix}-b", **limited).test_client()
    assert first.get("/openapi.yaml").status_code == 200
    assert first.get("/openapi.yaml").status_code == 429
    assert other.get("/openapi.yaml").status_code == 200


def test_an_unreachable_redis_falls_back_to_counting_in_memory(make_app: MakeApp) -> None:
    client = make_app(redis_url="redis://127.0.0.1:1/0", rate_limit_per_ip="2 per minute")
    client_ = client.test_client()
    assert client_.get("/openapi.yaml").status_code == 200
    assert client_.get("/openapi.yaml").status_code == 200
    refused = client_.get("/openapi.yaml")
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
