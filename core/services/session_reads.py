"""Reading sessions back: one by id, filtered lists, and the sync pull feed."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import Gone, InvalidInput, NotFound
from core.weeks import format_week

_COLUMNS = """id, started_at, utc_offset_s, local_date, duration_s, region, tool, side,
              pain_before, pain_after, note, client_updated_at, deleted, seq,
              created_at, updated_at"""


def _offset(seconds: int) -> timezone:
    zone = _OFFSETS.get(seconds)
    if zone is None:
        zone = _OFFSETS[seconds] = timezone(timedelta(seconds=seconds))
    return zone


_OFFSETS: dict[int, timezone] = {}


def session_json(row: Any) -> dict[str, Any]:
    """The wire form of a stored session; started_at keeps the phone's own offset.

    Values stay datetimes, dates and UUIDs: orjson writes them as RFC 3339 and
    strings in C, which keeps a 1,000-change pull page cheap (see bench/pull.py).
    """
    return {
        "id": row.id,
        "started_at": row.started_at.astimezone(_offset(row.utc_offset_s)),
        "duration_s": row.duration_s,
        "region": row.region,
        "tool": row.tool,
        "side": row.side,
        "pain_before": row.pain_before,
        "pain_after": row.pain_after,
        "note": row.note,
        "client_updated_at": row.client_updated_at.astimezone(UTC),
        "deleted": row.deleted,
        "local_date": row.local_date,
        "week": format_week(row.local_date),
        "created_at": row.created_at.astimezone(UTC),
        "updated_at": row.updated_at.astimezone(UTC),
    }


def get_session(
    db: Session, account_id: uuid.UUID, session_id: uuid.UUID, *, include_deleted: bool = False
) -> dict[str, Any]:
    row = db.execute(
        text(f"SELECT {_COLUMNS} FROM sessions WHERE account_id = :a AND id = :id"),
        {"a": account_id, "id": session_id},
    ).one_or_none()
    if row is None or (row.deleted and not include_deleted):
        raise NotFound("No session with this id.")
    return session_json(row)


# ---- opaque cursors -------------------------------------------------------------------


def _encode(payload: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def _decode(cursor: str, field: str) -> Any:
    try:
        return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise InvalidInput(
            {field: ["Not a cursor this server issued."]}, "The cursor is not valid."
        ) from None


# ---- list -----------------------------------------------------------------------------


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_sessions(
    db: Session,
    account_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    region: str | None = None,
    tool: str | None = None,
) -> Page:
    """Live sessions, newest first, keyset-paginated on (started_at, id)."""
    where = ["account_id = :a", "NOT deleted"]
    params: dict[str, Any] = {"a": account_id, "limit": limit + 1}
    if date_from is not None:
        where.append("local_date >= :date_from")
        params["date_from"] = date_from
    if date_to is not None:
        where.append("local_date <= :date_to")
        params["date_to"] = date_to
    if region is not None:
        where.append("region = :region")
        params["region"] = region
    if tool is not None:
        where.append("tool = :tool")
        params["tool"] = tool
    if cursor:  # an empty cursor is the first page, as in pull_changes
        position = _decode(cursor, "cursor")
        try:
            params["c_started"] = datetime.fromisoformat(position["s"])
            params["c_id"] = uuid.UUID(position["i"])
        except (TypeError, KeyError, ValueError):
            raise InvalidInput({"cursor": ["Not a cursor this server issued."]}) from None
        where.append("(started_at, id) < (:c_started, :c_id)")
    rows = db.execute(
        text(
            f"SELECT {_COLUMNS} FROM sessions WHERE {' AND '.join(where)} "
            "ORDER BY started_at DESC, id DESC LIMIT :limit"
        ),
        params,
    ).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode({"s": last.started_at.isoformat(), "i": str(last.id)})
    return Page([session_json(r) for r in rows], next_cursor)


# ---- pull -----------------------------------------------------------------------------


@dataclass
class PullPage:
    changes: list[dict[str, Any]]
    cursor: str
    has_more: bool


def encode_pull_cursor(seq: int) -> str:
    return _encode({"q": seq})


def pull_changes(db: Session, account_id: uuid.UUID, cursor: str | None, limit: int) -> PullPage:
    """Every change after the cursor in counter order, tombstones included."""
    after = 0
    if cursor:
        decoded = _decode(cursor, "cursor")
        value = decoded.get("q") if isinstance(decoded, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInput({"cursor": ["Not a cursor this server issued."]})
        after = value
        state = db.execute(
            text("SELECT change_seq, purged_seq FROM accounts WHERE id = :a"), {"a": account_id}
        ).one()
        if after < state.purged_seq or after > state.change_seq:
            raise Gone(
                "This cursor is older than the tombstone retention (or unknown to this "
                "server). Discard local sync state and pull again without a cursor."
            )
    # The hot read of sync: plain tuples from the driver, no Row objects (see bench/pull.py).
    driver: psycopg.Connection[Any] = db.connection().connection.driver_connection  # type: ignore[assignment]
    with driver.cursor() as raw:
        raw.execute(_PULL_PAGE, {"a": account_id, "after": after, "limit": limit + 1})
        rows = raw.fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][-1] if rows else after
    return PullPage([_pulled(r) for r in rows], encode_pull_cursor(last), has_more)


_PULL_PAGE = f"""SELECT {_COLUMNS}, to_char(local_date, 'IYYY-"W"IW'), seq FROM sessions
    WHERE account_id = %(a)s AND seq > %(after)s ORDER BY seq LIMIT %(limit)s"""


def _pulled(row: tuple[Any, ...]) -> dict[str, Any]:
    """session_json() of a _PULL_PAGE tuple (a test pins that both read the same)."""
    (
        sid,
        started_at,
        offset_s,
        local_date,
        duration_s,
        region,
        tool,
        side,
        pain_before,
        pain_after,
        note,
        client_updated_at,
        deleted,
        _seq,
        created_at,
        updated_at,
        week,
        _,
    ) = row
    return {
        "id": sid,
        "started_at": started_at.astimezone(_offset(offset_s)),
        "duration_s": duration_s,
        "region": region,
        "tool": tool,
        "side": side,
        "pain_before": pain_before,
        "pain_after": pain_after,
        "note": note,
        "client_updated_at": client_updated_at.astimezone(UTC),
        "deleted": deleted,
        "local_date": local_date,
        "week": week,
        "created_at": created_at.astimezone(UTC),
        "updated_at": updated_at.astimezone(UTC),
    }


def purge_tombstones(db: Session, older_than: datetime) -> int:
    """Delete tombstones past retention and remember, per account, how far cursors are void."""
    result = db.execute(
        text(
            """
            WITH purged AS (
                DELETE FROM sessions WHERE deleted AND updated_at < :cutoff
                RETURNING account_id, seq
            ), per_account AS (
                SELECT account_id, max(seq) AS seq, count(*) AS n FROM purged GROUP BY account_id
            ), advanced AS (
                UPDATE accounts a SET purged_seq = greatest(a.purged_seq, p.seq)
                FROM per_account p WHERE a.id = p.account_id
                RETURNING p.n
            )
            SELECT coalesce(sum(n), 0) FROM advanced
            """
        ),
        {"cutoff": older_than},
    )
    return int(result.scalar_one())
