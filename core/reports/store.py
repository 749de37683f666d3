"""The report store: one interface, two backends (S3 through boto3, or a local folder).

Keys are deterministic (`accounts/<id>/weekly/2026-W47.json`), so a rerun
overwrites the same objects instead of adding new ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from core.settings import Settings

PUT_THREADS = 16  # boto3 spends ~2 ms of CPU per PUT; the rest is waiting on the network


class ReportStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def put_many(self, objects: Iterable[tuple[str, bytes, str]]) -> int:
        """Write them all (raising the first failure once every write has ended); how many.

        `objects` may be a generator: S3 starts each write as soon as it is produced, so
        rendering the next report overlaps the uploads of the previous ones."""
        ...

    def get(self, key: str) -> bytes: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def presigned_url(self, key: str, expires_s: int) -> str | None: ...

    def list_keys(self, prefix: str) -> list[str]: ...


def account_prefix(account_id: uuid.UUID) -> str:
    return f"accounts/{account_id}/"


def weekly_keys(account_id: uuid.UUID, week_label: str) -> tuple[str, str]:
    """(JSON key, HTML key) of one account's report for one ISO week."""
    base = f"{account_prefix(account_id)}weekly/{week_label}"
    return f"{base}.json", f"{base}.html"


def cohort_key(week_label: str) -> str:
    return f"cohort/weekly/{week_label}.json"


class S3ReportStore:
    """Objects in a bucket under a prefix; server-side encrypted, typed, retried with backoff."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(
            retries={"mode": "standard", "max_attempts": 5},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=PUT_THREADS * 2,
            # S3-compatible stores are usually reached by path, not by bucket subdomain.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        # A session of its own: boto3's default session is not safe to build clients from in
        # several threads, while one client is safe to share between the put threads.
        session = boto3.session.Session()
        self.client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=body,
            ContentType=content_type,
            ServerSideEncryption="AES256",
        )

    def put_many(self, objects: Iterable[tuple[str, bytes, str]]) -> int:
        with ThreadPoolExecutor(max_workers=PUT_THREADS) as pool:
            # map() submits each object as the iterable yields it; list() re-raises the
            # first failure after every put has finished or failed.
            return len(list(pool.map(lambda o: self.put(*o), objects)))

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            # Some S3-compatible stores answer a bare 404 instead of NoSuchKey.
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise
        body: bytes = response["Body"].read()
        return body

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys.extend(obj["Key"][len(self.prefix) :] for obj in page.get("Contents", []))
        return keys

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("refusing to delete the whole report store")
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        # A listing page holds at most 1000 keys: exactly what one delete_objects call takes.
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=self._key(prefix), PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            objects = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if not objects:
                continue
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
            )
            # Quiet mode still reports failures; a half-deleted account must not pass as done.
            if response.get("Errors"):
                first = response["Errors"][0]
                raise RuntimeError(
                    f"S3 refused to delete {len(response['Errors'])} objects under "
                    f"{prefix!r}, e.g. {first.get('Key')}: {first.get('Code')}"
                )
            deleted += len(objects)
        return deleted

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_s,
        )
        return url


class FileReportStore:
    """Objects as files under a folder; each write is atomic (temp file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"report key escapes the store: {key!r}")
        return path

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A reader sees the old file or the new one, never half of one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_many(self, objects: Iterable[tuple[str, bytes, str]]) -> int:
        written = 0
        for key, body, content_type in objects:
            self.put(key, body, content_type)
            written += 1
        return written

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def list_keys(self, prefix: str) -> list[str]:
        base = self.root.resolve()
        # Walk only the folder the prefix is inside, not the whole store.
        start = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else base
        if not start.is_dir():
            return []
        return sorted(
            key
            for p in start.rglob("*")
            if p.is_file()
            and not p.name.startswith(".tmp-")
            and (key := p.relative_to(base).as_posix()).startswith(prefix)
        )

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("refusing to delete the whole report store")
        keys = self.list_keys(prefix)
        for key in keys:
            self._path(key).unlink(missing_ok=True)
        if prefix.endswith("/"):
            # Also the now-empty folders and any temp file a crashed write left behind.
            shutil.rmtree(self._path(prefix), ignore_errors=True)
        return len(keys)

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        return None  # the API serves local files itself, behind a signed link


def open_store(settings: Settings) -> ReportStore:
    """The store named by REPORTS_URL: `s3://bucket/prefix` or `file:///absolute/folder`.

    `file://relative/folder` (netloc + path) is read as a folder relative to the working
    directory, because that is how the built-in default was first written.
    """
    raw = settings.reports_url
    url = urlparse(raw)
    if url.scheme == "s3":
        if not url.netloc:
            raise ValueError(f"REPORTS_URL names no bucket (want s3://bucket/prefix): {raw!r}")
        return S3ReportStore(url.netloc, url.path, settings.s3_endpoint_url)
    if url.scheme == "file":
        if url.query or url.fragment:
            raise ValueError(f"REPORTS_URL file:// takes no query or fragment: {raw!r}")
        folder = unquote(url.path if url.netloc in ("", "localhost") else url.netloc + url.path)
        if not folder or folder == "/":
            raise ValueError(f"REPORTS_URL names no folder (want file:///abs/path): {raw!r}")
        return FileReportStore(Path(folder))
    raise ValueError(
        f"REPORTS_URL must be s3://bucket/prefix or file:///absolute/folder, got {raw!r}"
    )
