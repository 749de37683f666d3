"""The report store against a real S3 API (moto server) and a real folder."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path

import pytest

from core.reports.store import (
    FileReportStore,
    S3ReportStore,
    account_prefix,
    cohort_key,
    open_store,
    weekly_keys,
)
from core.settings import Settings
from tests.services import s3_client

ACCOUNT = uuid.UUID("8a4f5f7e-0000-4000-8000-000000000001")


@pytest.fixture
def s3_store(s3_endpoint: str, s3_bucket: str) -> S3ReportStore:
    return S3ReportStore(s3_bucket, "reports", s3_endpoint)


def test_keys_are_deterministic_per_account_and_week() -> None:
    assert account_prefix(ACCOUNT) == f"accounts/{ACCOUNT}/"
    assert weekly_keys(ACCOUNT, "2026-W47") == (
        f"accounts/{ACCOUNT}/weekly/2026-W47.json",
        f"accounts/{ACCOUNT}/weekly/2026-W47.html",
    )
    assert cohort_key("2026-W47") == "cohort/weekly/2026-W47.json"


def test_s3_round_trip_is_typed_encrypted_and_under_the_prefix(
    s3_store: S3ReportStore, s3_endpoint: str, s3_bucket: str
) -> None:
    json_key, html_key = weekly_keys(ACCOUNT, "2026-W47")
    s3_store.put(json_key, b'{"week": "2026-W47"}', "application/json")
    s3_store.put(html_key, b"<!doctype html>", "text/html; charset=utf-8")

    assert s3_store.get(json_key) == b'{"week": "2026-W47"}'
    assert s3_store.list_keys(account_prefix(ACCOUNT)) == [html_key, json_key]
    raw = s3_client(s3_endpoint)
    head = raw.head_object(Bucket=s3_bucket, Key=f"reports/{html_key}")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["ServerSideEncryption"] == "AES256"

    assert s3_store.delete_prefix(account_prefix(ACCOUNT)) == 2
    assert s3_store.list_keys(account_prefix(ACCOUNT)) == []
    assert raw.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_s3_put_many_writes_every_object(s3_store: S3ReportStore) -> None:
    objects = [
        (
            f"accounts/{uuid.uuid4()}/weekly/2026-W47.json",
            f'{{"n": {i}}}'.encode(),
            "application/json",
        )
        for i in range(50)
    ]
    s3_store.put_many(objects)
    assert sorted(s3_store.list_keys("accounts/")) == sorted(key for key, _, _ in objects)
    assert s3_store.get(objects[31][0]) == b'{"n": 31}'


def test_s3_delete_prefix_leaves_other_accounts_alone(s3_store: S3ReportStore) -> None:
    other = uuid.uuid4()
    s3_store.put_many(
        [
            *[
                (f"{account_prefix(ACCOUNT)}weekly/2026-W{w:02}.json", b"{}", "application/json")
                for w in range(1, 13)
            ],
            (weekly_keys(other, "2026-W01")[0], b"{}", "application/json"),
        ]
    )
    assert s3_store.delete_prefix(account_prefix(ACCOUNT)) == 12
    assert s3_store.list_keys("accounts/") == [weekly_keys(other, "2026-W01")[0]]


def test_s3_missing_key_raises_key_error(s3_store: S3ReportStore) -> None:
    with pytest.raises(KeyError):
        s3_store.get("accounts/nobody/weekly/2026-W01.json")


def test_s3_presigned_url_fetches_the_object(s3_store: S3ReportStore) -> None:
    key = weekly_keys(ACCOUNT, "2026-W47")[1]
    s3_store.put(key, b"<!doctype html><h1>week</h1>", "text/html; charset=utf-8")
    url = s3_store.presigned_url(key, 60)
    assert url is not None
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"<!doctype html><h1>week</h1>"
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_file_store_round_trip_and_delete(tmp_path: Path) -> None:
    store = FileReportStore(tmp_path / "reports")
    json_key, html_key = weekly_keys(ACCOUNT, "2026-W47")
    store.put_many([(json_key, b"{}", "application/json"), (html_key, b"<p>", "text/html")])
    store.put(cohort_key("2026-W47"), b"[]", "application/json")

    assert store.get(html_key) == b"<p>"
    assert store.list_keys(account_prefix(ACCOUNT)) == [html_key, json_key]
    assert store.presigned_url(html_key, 60) is None
    assert store.delete_prefix(account_prefix(ACCOUNT)) == 2
    assert not (tmp_path / "reports" / account_prefix(ACCOUNT)).exists()
    assert store.list_keys("") == [cohort_key("2026-W47")]
    with pytest.raises(KeyError):
        store.get(json_key)


def test_file_store_overwrites_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = FileReportStore(tmp_path)
    key = weekly_keys(ACCOUNT, "2026-W47")[0]
    store.put(key, b"old", "application/json")
    before = (tmp_path / key).stat().st_ino
    store.put(key, b"new", "application/json")

    assert store.get(key) == b"new"
    # A new inode: the old file was replaced by a rename, never rewritten in place.
    assert (tmp_path / key).stat().st_ino != before
    assert [p.name for p in (tmp_path / key).parent.iterdir()] == ["2026-W47.json"]


def test_file_store_refuses_keys_outside_its_folder(tmp_path: Path) -> None:
    store = FileReportStore(tmp_path / "reports")
    with pytest.raises(ValueError, match="escapes"):
        store.put("../outside.json", b"{}", "application/json")
    assert not (tmp_path / "outside.json").exists()


def test_open_store_reads_reports_url(tmp_path: Path, s3_endpoint: str) -> None:
    s3 = open_store(Settings(reports_url="s3://bucket-a/some/prefix", s3_endpoint_url=s3_endpoint))
    assert isinstance(s3, S3ReportStore)
    assert (s3.bucket, s3.prefix) == ("bucket-a", "some/prefix/")

    local = open_store(Settings(reports_url=f"file://{tmp_path}/reports"))
    assert isinstance(local, FileReportStore)
    assert local.root == tmp_path / "reports"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3:///prefix-without-bucket", "names no bucket"),
        ("file://", "names no folder"),
        ("https://example.com/reports", "must be s3://"),
        ("/var/reports", "must be s3://"),
        ("file:///tmp/reports?x=1", "no query"),
    ],
)
def test_open_store_rejects_other_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(Settings(reports_url=url))


def test_s3_delete_prefix_pages_past_one_thousand_keys(s3_store: S3ReportStore) -> None:
    # delete_objects takes at most 1000 keys per call, so this needs a second page.
    prefix = account_prefix(ACCOUNT)
    s3_store.put_many(
        [(f"{prefix}bulk/{i:04}.json", b"{}", "application/json") for i in range(1003)]
    )
    assert s3_store.delete_prefix(prefix) == 1003
    assert s3_store.list_keys(prefix) == []
