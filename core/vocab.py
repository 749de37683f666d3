"""The closed vocabularies and numeric limits of a session, shared by validation and the spec."""

from __future__ import annotations

REGIONS: tuple[str, ...] = (
    "neck",
    "shoulders",
    "upper_back",
    "lower_back",
    "glutes",
    "hips",
    "it_band",
    "quadriceps",
    "hamstrings",
    "calves",
    "feet",
    "other",
)
TOOLS: tuple[str, ...] = (
    "massage_ball",
    "foam_roller",
    "quadballer",
    "hands",
    "therapist",
    "other",
)
SIDES: tuple[str, ...] = ("left", "right", "both")
PUSH_STATUSES: tuple[str, ...] = ("created", "updated", "unchanged", "stale", "invalid")

DURATION_MIN_S = 1
DURATION_MAX_S = 14_400
PAIN_MIN = 0
PAIN_MAX = 10
NOTE_MAX_CHARS = 2000
FUTURE_TOLERANCE_S = 24 * 3600

SESSIONS_PER_WEEK_MAX = 21
MINUTES_PER_WEEK_MAX = 1200
DEFAULT_SESSIONS_PER_WEEK = 3
DEFAULT_MINUTES_PER_WEEK = 0

EMAIL_MAX_CHARS = 254
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 1024
DEVICE_NAME_MAX_CHARS = 100
