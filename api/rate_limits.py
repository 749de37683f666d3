"""Rate limits (flask-limiter): per client address on every call, per bearer token on
authenticated calls, and a tighter budget per address for sign-ups and sign-ins.

Counters live in Redis when REDIS_URL is set, so every web process and machine shares
them; otherwise in this process's memory. A refused call gets 429 as a problem
document with Retry-After. Health checks and /metrics are never limited: a load
balancer or a scraper must not be locked out by traffic that shares its address.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded, RequestLimit

from api.auth import bearer_credentials
from api.errors import problem
from core.settings import Settings

log = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
LOGIN_ENDPOINTS = frozenset({"accounts.create_account", "tokens.create_token"})

# Scope of each limit -> how the 429's detail names whose budget ran out.
_WHOSE = {
    "ip": "per client address",
    "token": "per token",
    "login": "for sign-ups and sign-ins per client address",
}


def client_address() -> str:
    # ProxyFix (KNOTLOG_PROXY_HOPS) has already put the client's own address here.
    return request.remote_addr or "unknown"


def token_key() -> str:
    # A digest, never the token: the keys may sit in a Redis other programs can read.
    return hashlib.sha256((bearer_credentials() or "").encode()).hexdigest()[:32]


def _without_token() -> bool:
    return bearer_credentials() is None


def _not_a_login() -> bool:
    return request.endpoint not in LOGIN_ENDPOINTS


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def _too_many(request_limit: RequestLimit) -> Response:
    """on_breach: the 429 problem document, with the seconds until the window resets."""
    scope = request_limit.request_args[-1] if request_limit.request_args else ""
    whose = _WHOSE.get(scope, "per client address")
    wait = _retry_after(request_limit.window[0] - time.time())  # [0]: the reset time
    return problem(
        429,
        f"Rate limit of {request_limit.limit} {whose} exceeded; retry after {wait} s.",
        code="rate_limited",
        headers={"Retry-After": wait},
    )


def _rate_limited(error: RateLimitExceeded) -> ResponseReturnValue:
    if error.response is not None:
        return error.response
    # on_breach failed (its storage call was swallowed): wait one whole window.
    limit = error.limit.limit
    return problem(
        429,
        f"Rate limit of {limit} exceeded; retry later.",
        code="rate_limited",
        headers={"Retry-After": _retry_after(limit.get_expiry())},
    )


def init_app(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        client_address,
        application_limits=[
            ApplicationLimit(settings.rate_limit_per_ip, key_function=client_address, scope="ip"),
            ApplicationLimit(
                settings.rate_limit_per_token,
                key_function=token_key,
                scope="token",
                exempt_when=_without_token,
            ),
            ApplicationLimit(
                settings.login_limit_per_ip,
                key_function=client_address,
                scope="login",
                exempt_when=_not_a_login,
            ),
        ],
        storage_uri=settings.redis_url or "memory://",
        key_prefix=settings.rate_limit_key_prefix,
        strategy="fixed-window",  # one counter per key: cheapest in Redis, exact Retry-After
        on_breach=_too_many,
        # Redis down: count per process rather than refuse every call (or let all through).
        in_memory_fallback=[settings.rate_limit_per_ip],
        swallow_errors=True,
        # Unrouted paths (404, 405) count against the address too.
        request_identifier=lambda: request.endpoint or "unrouted",
    )
    limiter.request_filter(lambda: request.path in EXEMPT_PATHS)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    app.extensions["knotlog.limiter"] = limiter
    return limiter
