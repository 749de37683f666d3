"""Wire shapes of weekly summaries and report links."""

from __future__ import annotations

from marshmallow import fields

from api.resources.common import BaseSchema, WeekField
from core import vocab


class _Figures(BaseSchema):
    sessions = fields.Integer(required=True)
    minutes = fields.Float(required=True)
    mean_relief = fields.Float(required=True, allow_none=True)
    meaningful_relief_share = fields.Float(required=True, allow_none=True)


class RegionFiguresSchema(_Figures):
    region = fields.String(required=True, metadata={"enum": list(vocab.REGIONS)})


class ToolFiguresSchema(_Figures):
    tool = fields.String(required=True, metadata={"enum": list(vocab.TOOLS)})


def _decimal(description: str) -> fields.Float:
    return fields.Float(required=True, allow_none=True, metadata={"description": description})


class SummarySchema(BaseSchema):
    """One account's figures for one ISO week (definitions in PRODUCT.md)."""

    week = fields.String(required=True, metadata={"example": "2026-W47"})
    sessions = fields.Integer(required=True)
    active_days = fields.Integer(required=True)
    minutes = fields.Float(required=True, metadata={"description": "1 decimal."})
    target = fields.Integer(required=True, metadata={"description": "Sessions per week in force."})
    adherence = _decimal("min(sessions / target, 1); null when target is 0.")
    minutes_target = fields.Integer(required=True)
    minutes_adherence = _decimal("min(minutes / minutes_target, 1); null when 0.")
    target_met = fields.Boolean(required=True)
    streak_weeks = fields.Integer(required=True)
    mean_pain_before = _decimal("Null without sessions.")
    mean_pain_after = _decimal("Null without sessions.")
    mean_relief = _decimal("Mean of before - after; null without sessions.")
    meaningful_relief_share = _decimal(
        "Share of sessions (pain_before >= 2) dropping >= 2 points and >= 30 %."
    )
    worsened_sessions = fields.Integer(required=True)
    baseline_trend = _decimal("This week's mean_pain_before minus that of the 4 weeks before.")
    by_region = fields.List(fields.Nested(RegionFiguresSchema), required=True)
    by_tool = fields.List(fields.Nested(ToolFiguresSchema), required=True)
    version = fields.Integer(required=True, metadata={"description": "Raised on every recompute."})
    computed_at = fields.DateTime(required=True)


class SummaryQuerySchema(BaseSchema):
    from_ = WeekField(data_key="from", metadata={"description": "First ISO week included."})
    to = WeekField(metadata={"description": "Last ISO week included."})


class SummaryPageSchema(BaseSchema):
    items = fields.List(fields.Nested(SummarySchema), required=True)
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "Always null: one page."}
    )


class ReportLinkSchema(BaseSchema):
    week = fields.String(required=True, metadata={"example": "2026-W47"})
    version = fields.Integer(required=True)
    html_url = fields.String(required=True, metadata={"description": "Opens without a token."})
    json_url = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
