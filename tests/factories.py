"""Builders of realistic request bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def session_body(**overrides: Any) -> dict[str, Any]:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "started_at": started.astimezone().isoformat(),
        "duration_s": 600,
        "region": "lower_back",
        "tool": "massage_ball",
        "side": "both",
        "pain_before": 6,
        "pain_after": 3,
        "note": "slow pressure and release",
        "client_updated_at": (started + timedelta(minutes=15)).isoformat(),
    }
    body.update(overrides)
    return body
