"""The weekly summary of PRODUCT.md, computed set-based for many accounts in one statement.

Everything about week W comes from its sessions (by their own `local_date`).
What looks back (the streak through W-1, the baseline of the 4 weeks before)
reads the stored summaries of those weeks: the pipeline recomputes an
account's weeks in order and queues every week a change can reach, so they are
current. Weeks that were never summarised (before the account existed, a first
run) are computed from the sessions instead, for the accounts that need it only.
Rounding is PostgreSQL's round(numeric): half away from zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.weeks import format_week

# The plan in force for week :w, one row per account (PRODUCT.md: the most recently
# recorded change effective at or before W, else the plan the account was created with).
_PLAN_ORDER = (
    "(pc.effective_week <= {w}) DESC, CASE WHEN pc.effective_week <= {w} THEN pc.id END DESC, pc.id"
)

# Monday of a session's ISO week, in date arithmetic (date_trunc would go through a time zone).
_MONDAY = "(s.local_date - (extract(isodow FROM s.local_date)::int - 1))"

# A session's relief is clinically meaningful when it drops >= 2 points and >= 30 %.
_MEANINGFUL = (
    "pain_before >= 2 AND pain_before - pain_after >= 2 "
    "AND 10 * (pain_before - pain_after) >= 3 * pain_before"
)


def _breakdown_items(column: str) -> str:
    """One breakdown's JSON array, from the cells grouped by that column."""
    return f"""jsonb_agg(jsonb_build_object(
             '{column}', {column}, 'sessions', n, 'minutes', round(seconds / 60.0, 1),
             'mean_relief', round(relief::numeric / n, 2),
             'meaningful_relief_share',
               CASE WHEN eligible > 0 THEN round(meaningful::numeric / eligible, 2) END)
           ORDER BY {column}) FILTER (WHERE {column} IS NOT NULL)"""


_COMPUTE = """
WITH accts AS (SELECT id AS account_id FROM accounts {account_filter}),
plan AS (
  SELECT DISTINCT ON (pc.account_id) pc.account_id,
         pc.sessions_per_week AS target, pc.minutes_per_week AS minutes_target
  FROM plan_changes pc JOIN accts USING (account_id)
  ORDER BY pc.account_id, {plan_order_w}
),
week_sessions AS MATERIALIZED (
  SELECT s.account_id, s.local_date, s.duration_s, s.region, s.tool, s.pain_before, s.pain_after
  FROM sessions s
  WHERE s.local_date >= :w AND s.local_date < :w + 7 AND NOT s.deleted {session_filter}
),
agg AS (
  SELECT account_id, count(*) AS sessions, count(DISTINCT local_date) AS active_days,
         sum(duration_s) AS seconds, sum(pain_before) AS pain_before_sum,
         sum(pain_after) AS pain_after_sum,
         count(*) FILTER (WHERE pain_before >= 2) AS eligible,
         count(*) FILTER (WHERE {meaningful}) AS meaningful,
         count(*) FILTER (WHERE pain_after >= pain_before + 2) AS worsened
  FROM week_sessions GROUP BY account_id
),
-- Both breakdowns from one pass over the week: a cell per (account, region) and per
-- (account, tool), the other column NULL in each.
cells AS (
  SELECT account_id, region, tool, count(*) AS n, sum(duration_s) AS seconds,
         sum(pain_before - pain_after) AS relief,
         count(*) FILTER (WHERE pain_before >= 2) AS eligible,
         count(*) FILTER (WHERE {meaningful}) AS meaningful
  FROM week_sessions GROUP BY GROUPING SETS ((account_id, region), (account_id, tool))
),
breakdowns AS (
  SELECT account_id, {by_region} AS by_region, {by_tool} AS by_tool
  FROM cells GROUP BY account_id
),
stored AS MATERIALIZED (
  SELECT ws.account_id, ws.week, ws.sessions, ws.pain_before_sum, ws.streak_weeks
  FROM weekly_summaries ws
  WHERE ws.week >= :w - 28 AND ws.week < :w {stored_filter}
),
-- Per account, in one pass: the 4 weeks before W as stored (baseline inputs: the sum and
-- count of the means of the weeks with sessions) and the streak through W-1.
stored_by_account AS (
  SELECT account_id, count(*) AS weeks,
         sum(CAST(pain_before_sum AS numeric(60, 40)) / sessions)
           FILTER (WHERE sessions > 0) AS mean_sum,
         count(*) FILTER (WHERE sessions > 0) AS active_weeks,
         max(streak_weeks) FILTER (WHERE week = :w - 7) AS prev_streak
  FROM stored GROUP BY account_id
),
-- Fallback, only for the accounts with fewer than 4 stored weeks before W (a first run,
-- weeks before the account existed): those weeks from the sessions.
lacking AS (
  SELECT a.account_id, sa.prev_streak
  FROM accts a LEFT JOIN stored_by_account sa USING (account_id)
  WHERE coalesce(sa.weeks, 0) < 4
),
computed_prior AS (
  SELECT account_id, sum(mean) AS mean_sum, count(*) AS active_weeks FROM (
    SELECT s.account_id, {monday} AS week,
           CAST(sum(s.pain_before) AS numeric(60, 40)) / count(*) AS mean
    FROM sessions s JOIN lacking USING (account_id)
    WHERE s.local_date >= :w - 28 AND s.local_date < :w AND NOT s.deleted
    GROUP BY 1, 2) c
  WHERE NOT EXISTS (SELECT 1 FROM stored st WHERE st.account_id = c.account_id AND st.week = c.week)
  GROUP BY account_id
),
-- The streak through W-1 when W-1 is not stored: from the account's whole history.
history AS (
  SELECT s.account_id, {monday} AS week, count(*) AS n
  FROM sessions s JOIN lacking l USING (account_id)
  WHERE l.prev_streak IS NULL AND s.local_date < :w AND NOT s.deleted
  GROUP BY 1, 2
),
history_met AS (
  SELECT h.account_id, h.week FROM history h
  CROSS JOIN LATERAL (SELECT pc.sessions_per_week FROM plan_changes pc
                      WHERE pc.account_id = h.account_id
                      ORDER BY {plan_order_h} LIMIT 1) p
  WHERE p.sessions_per_week > 0 AND h.n >= p.sessions_per_week
),
computed_streak AS (
  SELECT account_id, count(*) AS streak_weeks FROM (
    SELECT account_id, week,
           row_number() OVER (PARTITION BY account_id ORDER BY week DESC) AS back
    FROM history_met) met
  WHERE week = :w - 7 * back::int  -- still contiguous with W-1
  GROUP BY account_id
),
figures AS (
  SELECT a.account_id, coalesce(g.sessions, 0) AS sessions,
         coalesce(g.active_days, 0) AS active_days, coalesce(g.seconds, 0) AS seconds,
         g.pain_before_sum, g.pain_after_sum, g.eligible, g.meaningful,
         coalesce(g.worsened, 0) AS worsened, p.target, p.minutes_target,
         coalesce(g.sessions, 0) >= p.target AND p.target > 0 AS target_met,
         coalesce(sa.prev_streak, cs.streak_weeks, 0) AS prior_streak,
         (coalesce(sa.mean_sum, 0) + coalesce(cp.mean_sum, 0))
           / nullif(coalesce(sa.active_weeks, 0) + coalesce(cp.active_weeks, 0), 0) AS prior_mean,
         coalesce(b.by_region, '[]') AS by_region, coalesce(b.by_tool, '[]') AS by_tool
  FROM accts a
  JOIN plan p USING (account_id)
  LEFT JOIN agg g USING (account_id)
  LEFT JOIN breakdowns b USING (account_id)
  LEFT JOIN stored_by_account sa USING (account_id)
  LEFT JOIN computed_prior cp USING (account_id)
  LEFT JOIN computed_streak cs USING (account_id)
)
INSERT INTO weekly_summaries AS ws (
  account_id, week, sessions, active_days, minutes, pain_before_sum, target, adherence,
  minutes_target, minutes_adherence, target_met, streak_weeks, mean_pain_before,
  mean_pain_after, mean_relief, meaningful_relief_share, worsened_sessions, baseline_trend,
  by_region, by_tool, version, computed_at)
SELECT
  account_id, :w, sessions, active_days, round(seconds / 60.0, 1), coalesce(pain_before_sum, 0),
  target,
  CASE WHEN target > 0 THEN round(least(sessions::numeric / target, 1), 2) END,
  minutes_target,
  CASE WHEN minutes_target > 0
       THEN round(least(seconds::numeric / (60 * minutes_target), 1), 2) END,
  target_met,
  CASE WHEN target_met THEN prior_streak + 1 ELSE 0 END,
  round(pain_before_sum::numeric / nullif(sessions, 0), 2),
  round(pain_after_sum::numeric / nullif(sessions, 0), 2),
  round((pain_before_sum - pain_after_sum)::numeric / nullif(sessions, 0), 2),
  round(meaningful::numeric / nullif(eligible, 0), 2),
  worsened,
  -- Means of up to 5 weeks, each exact to 1e-40, then cut at 1e-30: a trend that is exactly
  -- x.xx5 cannot come out as x.xx4999... and round the wrong way.
  round(round(CAST(pain_before_sum AS numeric(60, 40)) / nullif(sessions, 0) - prior_mean, 30),
        2),
  by_region, by_tool, 1, now()
FROM figures
ON CONFLICT (account_id, week) DO UPDATE SET
  sessions = EXCLUDED.sessions, active_days = EXCLUDED.active_days,
  minutes = EXCLUDED.minutes, pain_before_sum = EXCLUDED.pain_before_sum,
  target = EXCLUDED.target, adherence = EXCLUDED.adherence,
  minutes_target = EXCLUDED.minutes_target, minutes_adherence = EXCLUDED.minutes_adherence,
  target_met = EXCLUDED.target_met, streak_weeks = EXCLUDED.streak_weeks,
  mean_pain_before = EXCLUDED.mean_pain_before, mean_pain_after = EXCLUDED.mean_pain_after,
  mean_relief = EXCLUDED.mean_relief,
  meaningful_relief_share = EXCLUDED.meaningful_relief_share,
  worsened_sessions = EXCLUDED.worsened_sessions, baseline_trend = EXCLUDED.baseline_trend,
  by_region = EXCLUDED.by_region, by_tool = EXCLUDED.by_tool,
  version = ws.version + 1, computed_at = now()
RETURNING account_id
"""


def _compute_sql(all_accounts: bool) -> str:
    return _COMPUTE.format(
        account_filter="" if all_accounts else "WHERE id = ANY(CAST(:ids AS uuid[]))",
        session_filter="" if all_accounts else "AND s.account_id = ANY(CAST(:ids AS uuid[]))",
        stored_filter="" if all_accounts else "AND ws.account_id = ANY(CAST(:ids AS uuid[]))",
        plan_order_w=_PLAN_ORDER.format(w="CAST(:w AS date)"),
        plan_order_h=_PLAN_ORDER.format(w="h.week"),
        meaningful=_MEANINGFUL,
        monday=_MONDAY,
        by_region=_breakdown_items("region"),
        by_tool=_breakdown_items("tool"),
    )


_SQL_ALL, _SQL_SOME = _compute_sql(True), _compute_sql(False)
# Set for the one statement (transaction-local, then put back): at the default 4MB the
# per-account sorts and hashes of a whole week spill to disk, and the planner's costs for
# the fallback branches (mostly never executed) trigger JIT compilation, which took longer
# (~1 s) than the rest of the statement at 20k accounts.
_WORK_MEM = "64MB"
_GET_SETTINGS = text(
    "SELECT current_setting('work_mem') AS work_mem, current_setting('jit') AS jit"
)
_SET_SETTINGS = text(
    "SELECT set_config('work_mem', :work_mem, true), set_config('jit', :jit, true)"
)


def compute_week(
    db: Session, week: date, account_ids: Sequence[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Compute and upsert the summaries of ISO week `week` (its Monday); version + 1 on rewrite.

    A row is written for every requested account (None: all), with or without sessions.
    """
    if week.isoweekday() != 1:
        raise ValueError(f"{week} is not a Monday: pass the first day of the ISO week")
    if account_ids is not None and not account_ids:
        return []
    params: dict[str, Any] = {"w": week}
    if account_ids is None:
        sql = _SQL_ALL
    else:
        sql, params["ids"] = _SQL_SOME, list(account_ids)
    previous = db.execute(_GET_SETTINGS).one()
    db.execute(_SET_SETTINGS, {"work_mem": _WORK_MEM, "jit": "off"})
    written = list(db.execute(text(sql), params).scalars())
    # (On an error the transaction is aborted, and its local settings go with it.)
    db.execute(_SET_SETTINGS, {"work_mem": previous.work_mem, "jit": previous.jit})
    return written


_STORED = text("SELECT * FROM weekly_summaries WHERE week = :week AND account_id = ANY(:ids)")


def stored_summaries(
    db: Session, week: date, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The stored rows of `week` for these accounts, by account (absent: never computed)."""
    rows = db.execute(_STORED, {"week": week, "ids": list(account_ids)})
    return {row.account_id: row for row in rows}


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def summary_json(row: Any) -> dict[str, Any]:
    """A stored summary as the API and the reports show it (PRODUCT.md field names)."""
    return {
        "week": format_week(row.week),
        "sessions": row.sessions,
        "active_days": row.active_days,
        "minutes": float(row.minutes),
        "target": row.target,
        "adherence": _num(row.adherence),
        "minutes_target": row.minutes_target,
        "minutes_adherence": _num(row.minutes_adherence),
        "target_met": row.target_met,
        "streak_weeks": row.streak_weeks,
        "mean_pain_before": _num(row.mean_pain_before),
        "mean_pain_after": _num(row.mean_pain_after),
        "mean_relief": _num(row.mean_relief),
        "meaningful_relief_share": _num(row.meaningful_relief_share),
        "worsened_sessions": row.worsened_sessions,
        "baseline_trend": _num(row.baseline_trend),
        "by_region": row.by_region,
        "by_tool": row.by_tool,
        "version": row.version,
        "computed_at": row.computed_at,
    }


_DAYS = text(
    """
    SELECT account_id, local_date, count(*) AS sessions,
           round(avg(pain_before), 2) AS mean_pain_before,
           round(avg(pain_after), 2) AS mean_pain_after
    FROM sessions
    WHERE account_id = ANY(CAST(:ids AS uuid[])) AND local_date >= :w AND local_date < :w + 7
      AND NOT deleted
    GROUP BY 1, 2
    """
)
_CELLS = text(
    """
    SELECT account_id, region, tool, count(*) AS sessions,
           round(avg(pain_before - pain_after), 2) AS mean_relief
    FROM sessions
    WHERE account_id = ANY(CAST(:ids AS uuid[])) AND local_date >= :w AND local_date < :w + 7
      AND NOT deleted
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    """
)
# The chart's 8 weeks: stored summaries, else (weeks never summarised, e.g. before the
# account existed) the sessions of that week, as compute_week's baseline fallback does.
_BASELINE_WEEKS = text(
    """
    WITH pairs AS (
      SELECT i.account_id, wk.week, ws.sessions, ws.mean_pain_before
      FROM unnest(CAST(:ids AS uuid[])) AS i(account_id)
      CROSS JOIN (SELECT CAST(:w AS date) - 7 * k AS week FROM generate_series(0, 7) k) wk
      LEFT JOIN weekly_summaries ws ON ws.account_id = i.account_id AND ws.week = wk.week
    )
    SELECT p.account_id, p.week, coalesce(p.sessions, f.sessions) AS sessions,
           coalesce(p.mean_pain_before, f.mean_pain_before) AS mean_pain_before
    FROM pairs p
    LEFT JOIN LATERAL (
      SELECT count(*) AS sessions, round(avg(s.pain_before), 2) AS mean_pain_before
      FROM sessions s
      WHERE p.sessions IS NULL AND s.account_id = p.account_id
        AND s.local_date >= p.week AND s.local_date < p.week + 7 AND NOT s.deleted
    ) f ON true
    """
)
BASELINE_WEEKS = 8


def report_inputs(
    db: Session, week: date, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """What a report shows beyond the summary: days, region x tool cells, the last 8 weeks."""
    params = {"w": week, "ids": list(account_ids)}
    days: dict[uuid.UUID, dict[date, Any]] = {a: {} for a in account_ids}
    for row in db.execute(_DAYS, params):
        days[row.account_id][row.local_date] = row
    cells: dict[uuid.UUID, list[dict[str, Any]]] = {a: [] for a in account_ids}
    for row in db.execute(_CELLS, params):
        cells[row.account_id].append(
            {
                "region": row.region,
                "tool": row.tool,
                "sessions": row.sessions,
                "mean_relief": _num(row.mean_relief),
            }
        )
    weeks: dict[uuid.UUID, dict[date, Any]] = {a: {} for a in account_ids}
    for row in db.execute(_BASELINE_WEEKS, params):
        weeks[row.account_id][row.week] = row
    mondays = [week - timedelta(weeks=k) for k in range(BASELINE_WEEKS - 1, -1, -1)]
    inputs: dict[uuid.UUID, dict[str, Any]] = {}
    for account_id in account_ids:
        per_day = days[account_id]
        per_week = weeks[account_id]
        inputs[account_id] = {
            "days": [
                _day(week + timedelta(days=i), per_day.get(week + timedelta(days=i)))
                for i in range(7)
            ],
            "region_tool": cells[account_id],
            "baseline_weeks": [
                {
                    "week": format_week(monday),
                    "sessions": per_week[monday].sessions if monday in per_week else 0,
                    "mean_pain_before": _num(per_week[monday].mean_pain_before)
                    if monday in per_week
                    else None,
                }
                for monday in mondays
            ],
        }
    return inputs


def _day(day: date, row: Any) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "sessions": row.sessions if row is not None else 0,
        "mean_pain_before": _num(row.mean_pain_before) if row is not None else None,
        "mean_pain_after": _num(row.mean_pain_after) if row is not None else None,
    }
