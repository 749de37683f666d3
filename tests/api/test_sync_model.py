"""A model of sync, checked against the live server by Hypothesis (a stateful test).

Several devices of ONE account (one token each) create, edit, delete and pull at
random, over real HTTP. The machine keeps:

- the model of what the server must hold: id -> latest version under the contract's
  rules (a later client_updated_at wins, ties keep the stored version, an item equal
  in every field but client_updated_at is `unchanged` and makes no new change), and
  the order in which accepted writes happened (the pull feed must follow it);
- each device's replica, built ONLY from what that device pulled, plus what the
  device itself knows to edit from, its offline outbox and its pushes whose reply
  was lost.

Every push result, PUT and DELETE status is predicted from the model; every pull
must return exactly the sessions changed after the device's cursor, in write order,
each once, in its latest state. At the end every device pulls everything and its
replica must equal the server's set (GET /v1/sessions, where tombstones are not
listed, while pull passes them on as deleted=true), which must equal the model.

Client clocks: every stamp is made by the machine's own clock, which starts a few
hours before the server's real time and may run ahead of it by a few hours (phones
drift), always within the 24 h the server tolerates. A server-side DELETE stamps
max(server now, stored + 1 ms); its exact value is learnt from the next pull and
must lie in the window of that request.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine
from werkzeug.serving import make_server

from api import create_app
from core import security, vocab
from core.database import Database
from core.settings import Settings
from tests.conftest import PASSWORD, unique_email

DEVICES = 3
TIMEOUT = 30
INPUT_FIELDS = (
    "id",
    "started_at",
    "duration_s",
    "region",
    "tool",
    "side",
    "pain_before",
    "pain_after",
    "note",
    "client_updated_at",
    "deleted",
)
# What a phone may send back from a pulled record; the server must ignore all of it.
SERVER_JUNK = {
    "local_date": "1999-01-01",
    "week": "1999-W01",
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
    "account_id": str(uuid.UUID(int=1)),
    "seq": 1,
}
EXPECT_INVALID = "x_test_expect_invalid"  # an unknown field: ignored by the server

# ---- values within the rules --------------------------------------------------------------

OFFSETS_MIN = (0, 60, 120, -300, 330, 345, -210, 780, -660)
started_at = st.builds(
    lambda days, minute, micro, offset: (
        datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        - timedelta(days=days, minutes=-minute, microseconds=-micro)
    ).astimezone(timezone(timedelta(minutes=offset))),
    st.integers(1, 6),
    st.sampled_from([7 * 60, 7 * 60 + 30, 12 * 60, 23 * 60 + 59]),  # few values: ties in lists
    st.sampled_from([0, 0, 250_000, 1]),
    st.sampled_from(OFFSETS_MIN),
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "started_at": started_at,
    "duration_s": st.one_of(st.sampled_from([1, 600, 14_400]), st.integers(1, 14_400)),
    "region": st.sampled_from(vocab.REGIONS),
    "tool": st.sampled_from(vocab.TOOLS),
    "side": st.sampled_from([None, *vocab.SIDES]),
    "pain_before": st.integers(0, 10),
    "pain_after": st.integers(0, 10),
    "note": st.sampled_from([None, "", "slow pressure and release", 'quotes " \\ ü', "x" * 2000]),
}
REQUIRED = ("started_at", "duration_s", "region", "tool", "pain_before", "pain_after")
new_fields = st.fixed_dictionaries(
    {k: FIELD_VALUES[k] for k in REQUIRED}, optional={"side": FIELD_VALUES["side"]}
).flatmap(
    lambda d: st.fixed_dictionaries(
        {k: st.just(v) for k, v in d.items()}, optional={"note": FIELD_VALUES["note"]}
    )
)
edit_fields = st.fixed_dictionaries({}, optional=FIELD_VALUES)
# How far an edit's stamp lies from the stored one (later, earlier): a microsecond matters.
deltas = st.sampled_from(
    [
        timedelta(microseconds=1),
        timedelta(milliseconds=1),
        timedelta(seconds=1),
        timedelta(minutes=10),
    ]
)
device = st.integers(0, DEVICES - 1)


@dataclass(frozen=True)
class Edit:
    changes: dict[str, Any]  # new field values; none at all: the same content again
    deleted: bool | None  # True: a tombstone; False: undelete (or keep live); None: as known
    stamp: str  # client_updated_at vs the stored one: later, earlier, tie; or the device clock
    delta: timedelta
    seconds: int  # how far the device clock moves, for "clock"
    style: str  # how the times are spelt
    stamp_offset: int  # the UTC offset (minutes) client_updated_at is written in
    junk: bool  # send the server's own fields back too


edits = st.builds(
    Edit,
    changes=edit_fields,
    deleted=st.sampled_from([None, None, None, True, False]),
    stamp=st.sampled_from(["later", "earlier", "tie", "clock", "clock"]),
    delta=deltas,
    seconds=st.integers(1, 120),
    style=st.sampled_from(["iso", "ms", "z"]),
    stamp_offset=st.sampled_from(OFFSETS_MIN),
    junk=st.booleans(),
)
# online: pushed now; offline: queued, pushed by a later flush; lost: reached the server
# but the device never saw the reply, so it retries later
modes = st.sampled_from(["online", "online", "offline", "lost"])
invalid_items = st.sampled_from(
    [
        {"pain_after": 11},
        {"started_at": "2026-11-20T07:30:00"},  # no offset
        {"duration_s": 0},
        {"region": "elbow"},
        {"started_at": "FUTURE"},  # replaced by a time 2 days ahead
    ]
)


def render_time(value: datetime, style: str) -> str:
    """One instant, spelt in one of the RFC 3339 ways a client may use."""
    text = value.isoformat()
    if style == "ms" and value.microsecond % 1000 == 0:
        text = value.isoformat(timespec="milliseconds")
    elif style == "z" and value.utcoffset() == timedelta(0):
        text = text.replace("+00:00", "Z")
    return text


def instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, text
    return parsed.astimezone(UTC)


def content(record: dict[str, Any]) -> tuple[Any, ...]:
    """Every stored field but client_updated_at (started_at: instant AND offset)."""
    started = datetime.fromisoformat(record["started_at"])
    offset = started.utcoffset()
    assert offset is not None
    return (
        started.astimezone(UTC),
        int(offset.total_seconds()),
        record["duration_s"],
        record["region"],
        record["tool"],
        record.get("side"),
        record["pain_before"],
        record["pain_after"],
        record.get("note"),
        bool(record.get("deleted") or False),
    )


@dataclass
class Version:
    content: tuple[Any, ...]
    stamp: datetime | None  # None: server-stamped, not yet seen in a pull
    window: tuple[datetime, datetime] | None = None


@dataclass
class Device:
    name: str
    http: requests.Session
    cursor: str | None = None
    seen: int = 0  # how much of the model's write log this device's cursor has passed
    replica: dict[str, dict[str, Any]] = field(default_factory=dict)  # only what it pulled
    local: dict[str, dict[str, Any]] = field(default_factory=dict)  # what it edits from
    outbox: list[dict[str, Any]] = field(default_factory=list)  # offline edits
    unacked: list[list[dict[str, Any]]] = field(default_factory=list)  # replies lost


def step(fn: Callable[..., None]) -> Callable[..., None]:
    """Marks the machine broken while a rule runs, so teardown's checks never mask a failure."""

    @functools.wraps(fn)
    def wrapper(self: SyncMachine, *args: Any, **kwargs: Any) -> None:
        self.broken = True
        fn(self, *args, **kwargs)
        self.broken = False

    return wrapper


class SyncMachine(RuleBasedStateMachine):
    base = ""  # the live server, set by the test

    def __init__(self) -> None:
        super().__init__()
        self.broken = False
        email = unique_email("model")
        reply = requests.post(
            f"{self.base}/v1/accounts",
            json={"email": email, "password": PASSWORD, "timezone": "Europe/Berlin"},
            timeout=TIMEOUT,
        )
        assert reply.status_code == 201, reply.text
        self.devices = [Device(f"phone {n}", self._login(email, n)) for n in range(DEVICES)]
        self.model: dict[str, Version] = {}
        self.log: list[str] = []  # ids of accepted writes, in the order they happened
        self.clock = datetime.now(UTC) - timedelta(hours=3)
        self.history: list[list[dict[str, Any]]] = []  # acknowledged pushes, for replays
        self.oracle_cursor: str | None = None  # the test's own feed, to learn server stamps
        self.oracle_seen = 0

    def _login(self, email: str, n: int) -> requests.Session:
        http = requests.Session()
        reply = http.post(
            f"{self.base}/v1/tokens",
            json={"email": email, "password": PASSWORD, "device_name": f"phone {n}"},
            timeout=TIMEOUT,
        )
        assert reply.status_code == 201, reply.text
        http.headers["Authorization"] = f"Bearer {reply.json()['token']}"
        return http

    # ---- the model ----------------------------------------------------------------------

    def tick(self, seconds: int) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def predict(self, items: list[dict[str, Any]]) -> list[str]:
        """Apply a push to the model, item by item as the server must; the statuses."""
        statuses = []
        for item in items:
            if item.get(EXPECT_INVALID):
                statuses.append("invalid")
                continue
            known = self.model.get(item["id"])
            new, stamp = content(item), instant(item["client_updated_at"])
            if known is None:
                status = "created"
            elif known.content == new:
                status = "unchanged"
            else:
                assert known.stamp is not None, "model: an unresolved server stamp"
                status = "updated" if stamp > known.stamp else "stale"
            if status in ("created", "updated"):
                self.model[item["id"]] = Version(new, stamp)
                self.log.append(item["id"])
            statuses.append(status)
        return statuses

    def expected_feed(self, since: int) -> list[str]:
        """Ids written after log position `since`, each once, in the order of its last write."""
        order: dict[str, None] = {}
        for sid in self.log[since:]:
            order.pop(sid, None)
            order[sid] = None
        return list(order)

    def check_record(self, record: dict[str, Any]) -> None:
        """A session the server sent equals the model's version of it (resolving stamps)."""
        version = self.model.get(record["id"])
        assert version is not None, f"server has a session the model lacks: {record}"
        assert content(record) == version.content, (record, version)
        stamp = instant(record["client_updated_at"])
        if version.stamp is None:
            assert version.window is not None
            low, high = version.window
            assert low <= stamp <= high, f"delete stamp {stamp} outside [{low}, {high}]"
            version.stamp, version.window = stamp, None
        assert stamp == version.stamp, (record, version)
        started = datetime.fromisoformat(record["started_at"])
        assert record["local_date"] == started.date().isoformat(), record
        year, week, _ = started.date().isocalendar()
        assert record["week"] == f"{year}-W{week:02d}", record

    # ---- talking to the server ----------------------------------------------------------

    def push(self, http: requests.Session, items: list[dict[str, Any]]) -> None:
        reply = http.post(f"{self.base}/v1/sync/push", json={"sessions": items}, timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        results = reply.json()["results"]
        expected = self.predict(items)
        assert [r["status"] for r in results] == expected, (items, results)
        assert [r["index"] for r in results] == list(range(len(items)))
        for item, result in zip(items, results, strict=True):
            assert result["id"] == item["id"]
            assert (result["errors"] is None) == (result["status"] != "invalid"), result

    def send(self, dev: Device, items: list[dict[str, Any]], mode: str) -> None:
        if mode == "offline":
            dev.outbox.extend(items)
            return
        self.push(dev.http, items)
        if mode == "lost":
            dev.unacked.append(items)
        else:
            self.history.append(items)

    def pull_feed(
        self, http: requests.Session, cursor: str | None, since: int, limit: int | None
    ) -> tuple[list[dict[str, Any]], str]:
        """Follow the cursor until has_more is false; exactly the expected changes."""
        changes: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {} if limit is None else {"limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            reply = http.get(f"{self.base}/v1/sync/pull", params=params, timeout=TIMEOUT)
            assert reply.status_code == 200, reply.text
            page = reply.json()
            if page["has_more"]:
                assert limit is not None and len(page["changes"]) == limit, page
            changes += page["changes"]
            cursor = page["cursor"]
            if not page["has_more"]:
                break
        assert [c["id"] for c in changes] == self.expected_feed(since), "pull feed"
        for change in changes:
            self.check_record(change)
        return changes, cursor

    def pull(self, dev: Device, limit: int | None) -> None:
        changes, dev.cursor = self.pull_feed(dev.http, dev.cursor, dev.seen, limit)
        dev.seen = len(self.log)
        for change in changes:
            dev.replica[change["id"]] = change
            dev.local[change["id"]] = change
        # A device that has pulled everything holds exactly the server's set.
        assert {k: content(v) for k, v in dev.replica.items()} == {
            k: v.content for k, v in self.model.items()
        }

    def listed(self, dev: Device, limit: int) -> list[dict[str, Any]]:
        """GET /v1/sessions page by page: live sessions only, newest first, each once."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            reply = dev.http.get(f"{self.base}/v1/sessions", params=params, timeout=TIMEOUT)
            assert reply.status_code == 200, reply.text
            page = reply.json()
            assert len(page["items"]) <= limit
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        keys = [(instant(i["started_at"]), uuid.UUID(i["id"])) for i in items]
        assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys), "list order"
        return items

    # ---- rules ----------------------------------------------------------------------------

    def new_body(self, dev: Device, fields: dict[str, Any], style: str, seconds: int) -> dict:
        body = {
            "id": str(uuid.uuid4()),
            **fields,
            "started_at": render_time(fields["started_at"], style),
            "client_updated_at": render_time(self.tick(seconds), style),
        }
        dev.local[body["id"]] = body
        return body

    @initialize(sessions=st.lists(new_fields, min_size=DEVICES, max_size=3 * DEVICES))
    @step
    def seed(self, sessions: list[dict[str, Any]]) -> None:
        """Each device starts with a few sessions of its own, pushed in one batch."""
        for n, dev in enumerate(self.devices):
            mine = sessions[n::DEVICES]
            self.send(dev, [self.new_body(dev, f, "iso", 1) for f in mine], "online")

    @rule(
        n=device,
        fields=new_fields,
        style=st.sampled_from(["iso", "ms", "z"]),
        seconds=st.integers(1, 120),
        mode=modes,
        invalid=st.one_of(st.none(), st.none(), st.none(), invalid_items),
    )
    @step
    def create(
        self,
        n: int,
        fields: dict[str, Any],
        style: str,
        seconds: int,
        mode: str,
        invalid: dict[str, Any] | None,
    ) -> None:
        dev = self.devices[n]
        body = self.new_body(dev, fields, style, seconds)
        items = [body]
        if invalid is not None and mode != "offline":
            bad = {**body, "id": str(uuid.uuid4()), **invalid, EXPECT_INVALID: True}
            if bad["started_at"] == "FUTURE":
                bad["started_at"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
            items.insert(0, bad)
        self.send(dev, items, mode)

    @precondition(lambda self: any(d.local for d in self.devices))
    @rule(data=st.data(), n=device, edit=edits, mode=st.sampled_from(["online", "lost", "put"]))
    @step
    def edit(self, data: st.DataObject, n: int, edit: Edit, mode: str) -> None:
        """Edit (or tombstone, or undelete) a session this device knows, and push it now."""
        dev, body = self.edited(data, n, edit)
        if mode == "put":
            self.put(dev, body)
        else:
            self.send(dev, [body], mode)

    @precondition(lambda self: any(d.local for d in self.devices))
    @rule(data=st.data(), n=device, edit=edits)
    @step
    def edit_offline(self, data: st.DataObject, n: int, edit: Edit) -> None:
        """Edit without a network: queued, pushed later, maybe after others' newer edits."""
        dev, body = self.edited(data, n, edit)
        dev.outbox.append(body)

    def edited(self, data: st.DataObject, n: int, edit: Edit) -> tuple[Device, dict[str, Any]]:
        """The next version of a session, made from what the device knows of it."""
        knowing = [d for d in self.devices if d.local]
        dev = knowing[n % len(knowing)]
        sid = data.draw(st.sampled_from(sorted(dev.local)), label="id")
        base = dev.local[sid]
        body = {k: base[k] for k in INPUT_FIELDS if k in base}
        if edit.junk:  # sent back with the server's fields, as a lazy client would
            body = {**SERVER_JUNK, **base, **body}
        for name, value in edit.changes.items():
            body[name] = render_time(value, edit.style) if name == "started_at" else value
        if "started_at" not in edit.changes:  # same instant and offset, maybe spelt otherwise
            started = datetime.fromisoformat(body["started_at"])
            body["started_at"] = render_time(started, edit.style)
        if edit.deleted is not None:
            body["deleted"] = edit.deleted
        known = self.model.get(sid)
        ref = known.stamp if known and known.stamp else instant(body["client_updated_at"])
        when = {
            "later": ref + edit.delta,
            "earlier": ref - edit.delta,
            "tie": ref,
            "clock": self.tick(edit.seconds),
        }[edit.stamp]
        assert when < datetime.now(UTC) + timedelta(hours=20), "test clock ran too far ahead"
        when = when.astimezone(timezone(timedelta(minutes=edit.stamp_offset)))
        body["client_updated_at"] = render_time(when, edit.style)
        dev.local[sid] = body
        return dev, body

    def put(self, dev: Device, body: dict[str, Any]) -> None:
        reply = dev.http.put(f"{self.base}/v1/sessions/{body['id']}", json=body, timeout=TIMEOUT)
        [status] = self.predict([body])
        code = {"created": 201, "updated": 200, "unchanged": 200, "stale": 409}[status]
        assert reply.status_code == code, (status, reply.status_code, reply.text)
        if code != 409:
            self.check_record(reply.json())

    @precondition(lambda self: any(d.outbox or d.unacked for d in self.devices))
    @rule(n=device, lost=st.booleans())
    @step
    def come_online(self, n: int, lost: bool) -> None:
        """Resend the pushes whose reply never came (the server already has them, or newer),
        then push every offline edit in one batch, possibly after others' newer edits."""
        waiting = [d for d in self.devices if d.outbox or d.unacked]
        dev = waiting[n % len(waiting)]
        while dev.unacked:
            items = dev.unacked.pop(0)
            self.push(dev.http, items)
            self.history.append(items)
        if dev.outbox:
            items, dev.outbox = dev.outbox, []
            self.send(dev, items, "lost" if lost else "online")

    @precondition(lambda self: bool(self.history))
    @rule(data=st.data(), n=device)
    @step
    def replay(self, data: st.DataObject, n: int) -> None:
        """The same body again, any time later, from any device (a flaky network's duplicate)."""
        items = data.draw(st.sampled_from(self.history), label="batch")
        self.push(self.devices[n].http, items)

    @rule(data=st.data(), n=device, unknown=st.booleans())
    @step
    def delete(self, data: st.DataObject, n: int, unknown: bool) -> None:
        dev = self.devices[n]
        if unknown or not dev.local:
            sid = str(uuid.uuid4())
        else:
            sid = data.draw(st.sampled_from(sorted(dev.local)), label="id")
        known = self.model.get(sid)
        before = datetime.now(UTC)
        reply = dev.http.delete(f"{self.base}/v1/sessions/{sid}", timeout=TIMEOUT)
        after = datetime.now(UTC)
        if known is None or known.content[-1]:
            assert reply.status_code == 404, reply.text
            return
        assert reply.status_code == 204, reply.text
        assert known.stamp is not None
        floor = known.stamp + timedelta(milliseconds=1)  # the delete beats what it deletes
        window = (max(before, floor), max(after, floor))
        self.model[sid] = Version((*known.content[:-1], True), None, window)
        self.log.append(sid)
        # learn the server's stamp now, from the test's own feed (no device sees this)
        _, self.oracle_cursor = self.pull_feed(
            self.devices[0].http, self.oracle_cursor, self.oracle_seen, None
        )
        self.oracle_seen = len(self.log)

    @rule(
        n=device,
        limit=st.none() | st.integers(1, 4),
        reinstall=st.sampled_from([False, False, False, True]),
    )
    @step
    def pull_changes(self, n: int, limit: int | None, reinstall: bool) -> None:
        """Pull until has_more is false; a reinstalled app has no state and starts over."""
        dev = self.devices[n]
        if reinstall:
            dev.cursor, dev.seen, dev.replica, dev.local = None, 0, {}, {}
            dev.outbox, dev.unacked = [], []
        self.pull(dev, limit)

    @rule(n=device, limit=st.integers(1, 5))
    @step
    def list_sessions(self, n: int, limit: int) -> None:
        items = self.listed(self.devices[n], limit)
        for item in items:
            self.check_record(item)
        live = {k for k, v in self.model.items() if not v.content[-1]}
        assert {i["id"] for i in items} == live

    def teardown(self) -> None:
        if self.broken:
            return  # a rule failed: report that, not a consequence of it
        for dev in self.devices:
            self.pull(dev, 3)
        listed = self.listed(self.devices[0], 4)
        server = {i["id"]: i for i in listed}
        for item in listed:
            self.check_record(item)
        assert set(server) == {k for k, v in self.model.items() if not v.content[-1]}
        for dev in self.devices:
            # live sessions: byte for byte what the list serves; tombstones: pulled as deleted
            assert {k: v for k, v in dev.replica.items() if not v["deleted"]} == server
            tombstones = {k for k, v in dev.replica.items() if v["deleted"]}
            assert tombstones == {k for k, v in self.model.items() if v.content[-1]}
            for sid in tombstones:
                gone = dev.http.get(f"{self.base}/v1/sessions/{sid}", timeout=TIMEOUT)
                assert gone.status_code == 404


@pytest.fixture(scope="module")
def sync_server(settings: Settings, engine: Engine) -> Any:
    """Like `live_server` (the real app over HTTP, committing), with room in the rate limits
    and a cheap argon2: each example signs up and signs in 3 devices (4 hashes at ~0.2 s
    each would be half the run time), and the steps run as fast as HTTP allows."""
    relaxed = dataclasses.replace(
        settings,
        rate_limit_per_ip="100000 per minute",
        rate_limit_per_token="100000 per minute",
        login_limit_per_ip="100000 per minute",
        rate_limit_key_prefix="knotlog-sync-model",
    )
    server = make_server(
        "127.0.0.1", 0, create_app(relaxed, Database.from_engine(engine)), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()


def test_devices_converge_on_the_modelled_server_state(sync_server: str) -> None:
    class Machine(SyncMachine):
        base = sync_server

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
