"""Housekeeping jobs: purge tombstones and audit events past their retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from core.database import Database
from core.services import audit
from core.services.session_reads import purge_tombstones
from core.settings import Settings

log = logging.getLogger(__name__)


def purge_old_tombstones(database: Database, settings: Settings) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=settings.tombstone_retention_days)
    with database.session() as db:
        purged = purge_tombstones(db, cutoff)
    log.info("purged %d tombstones older than %s", purged, cutoff.isoformat())
    return purged


def purge_old_audit_events(database: Database, settings: Settings) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=settings.audit_retention_days)
    with database.session() as db:
        purged = audit.purge_before(db, cutoff)
    log.info("purged %d audit events older than %s", purged, cutoff.isoformat())
    return purged
