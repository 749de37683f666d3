"""Settings read once from the environment, with the defaults a new user needs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _render_workers() -> int:
    """One per CPU this process may run on, less the one its own threads use (uploads,
    the database, SMTP): on 2 cores one worker draws as fast as two, in less memory.
    CPU affinity, not a cgroup CPU quota: set KNOTLOG_RENDER_PROCESSES under a quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) - 1)


@dataclass(frozen=True)
class Settings:
    """Every knob of knotlog. `from_env()` is the only place that reads os.environ."""

    database_url: str | None = None
    data_dir: Path = Path("var")
    secret_key: str | None = None
    reports_url: str = "file://var/reports"
    s3_endpoint_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "knotlog <weekly@knotlog.local>"
    public_base_url: str = "http://localhost:8000"
    redis_url: str | None = None
    log_level: str = "INFO"
    metrics_token: str | None = None
    proxy_hops: int = 0
    clock_metrics_port: int | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    push_max_items: int = 500
    tombstone_retention_days: int = 90
    audit_retention_days: int = 365
    db_pool_size: int = 10
    # Rate limits, in the `limits` notation ("N per second|minute|hour|day", ";" between
    # several). Per bearer token on authenticated calls; per client address on every call
    # but /healthz, /readyz and /metrics; per client address on sign-ups and sign-ins.
    rate_limit_per_token: str = "1200 per minute"
    rate_limit_per_ip: str = "600 per minute"
    login_limit_per_ip: str = "30 per minute"
    # Prefix of the limiter's keys, so several deployments can share one Redis.
    rate_limit_key_prefix: str = "knotlog"
    # NIST SP 800-63B 5.2.2: at most 100 consecutive failed sign-ins per account, then
    # the account refuses sign-ins for a while, even with the right password.
    login_max_failures: int = 100
    login_lockout_s: int = 15 * 60
    # Worker processes that draw reports and emails in the weekly run (0: in-process).
    render_processes: int = field(default_factory=_render_workers)
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        data_dir = Path(env.get("KNOTLOG_DATA_DIR") or "var")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=data_dir,
            secret_key=env.get("SECRET_KEY") or None,
            reports_url=env.get("REPORTS_URL") or f"file://{(data_dir / 'reports').resolve()}",
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            smtp_url=env.get("SMTP_URL") or None,
            mail_from=env.get("MAIL_FROM") or cls.mail_from,
            public_base_url=(env.get("PUBLIC_BASE_URL") or cls.public_base_url).rstrip("/"),
            redis_url=env.get("REDIS_URL") or None,
            log_level=(env.get("LOG_LEVEL") or cls.log_level).upper(),
            metrics_token=env.get("METRICS_TOKEN") or None,
            proxy_hops=_int(env, "KNOTLOG_PROXY_HOPS", cls.proxy_hops),
            clock_metrics_port=(
                _int(env, "CLOCK_METRICS_PORT", 0) if env.get("CLOCK_METRICS_PORT") else None
            ),
            max_body_bytes=_int(env, "KNOTLOG_MAX_BODY_BYTES", cls.max_body_bytes),
            audit_retention_days=_int(
                env, "KNOTLOG_AUDIT_RETENTION_DAYS", cls.audit_retention_days
            ),
            tombstone_retention_days=_int(
                env, "KNOTLOG_TOMBSTONE_RETENTION_DAYS", cls.tombstone_retention_days
            ),
            db_pool_size=_int(env, "KNOTLOG_DB_POOL_SIZE", cls.db_pool_size),
            rate_limit_per_token=(
                env.get("KNOTLOG_RATE_LIMIT_PER_TOKEN") or cls.rate_limit_per_token
            ),
            rate_limit_per_ip=env.get("KNOTLOG_RATE_LIMIT_PER_IP") or cls.rate_limit_per_ip,
            login_limit_per_ip=env.get("KNOTLOG_LOGIN_LIMIT_PER_IP") or cls.login_limit_per_ip,
            rate_limit_key_prefix=(
                env.get("KNOTLOG_RATE_LIMIT_KEY_PREFIX") or cls.rate_limit_key_prefix
            ),
            login_max_failures=_int(env, "KNOTLOG_LOGIN_MAX_FAILURES", cls.login_max_failures),
            login_lockout_s=_int(env, "KNOTLOG_LOGIN_LOCKOUT_SECONDS", cls.login_lockout_s),
            render_processes=_int(env, "KNOTLOG_RENDER_PROCESSES", _render_workers()),
        )
