"""The schema can be distributed by account (Citus) without change: checked on the metadata."""

from __future__ import annotations

import pytest
from sqlalchemy import ForeignKeyConstraint, Table, UniqueConstraint

from core.models import load_all

METADATA = load_all()
# Tables that belong to no account: the accounts themselves, server-wide secrets, and
# the audit log, a security record that outlives the accounts it names.
GLOBAL_TABLES = {"accounts", "server_secrets", "audit_events"}
OWNED = [t for name, t in sorted(METADATA.tables.items()) if name not in GLOBAL_TABLES]


def test_every_table_is_either_owned_by_an_account_or_declared_global() -> None:
    assert {t.name for t in OWNED} >= {"sessions", "tokens", "plan_changes", "weekly_summaries"}
    for table in OWNED:
        assert "account_id" in table.c, f"{table.name} has no account_id and is not global"


@pytest.mark.parametrize("table", OWNED, ids=lambda t: t.name)
def test_account_id_leads_the_primary_key(table: Table) -> None:
    first, *_rest = table.primary_key.columns
    assert first.name == "account_id"


@pytest.mark.parametrize("table", OWNED, ids=lambda t: t.name)
def test_rows_go_with_their_account(table: Table) -> None:
    to_accounts = [
        fk
        for fk in table.constraints
        if isinstance(fk, ForeignKeyConstraint) and fk.referred_table.name == "accounts"
    ]
    assert [fk.column_keys for fk in to_accounts] == [["account_id"]]
    assert to_accounts[0].ondelete == "CASCADE"


@pytest.mark.parametrize("table", OWNED, ids=lambda t: t.name)
def test_every_unique_rule_and_index_includes_the_account(table: Table) -> None:
    for index in table.indexes:
        assert "account_id" in [c.name for c in index.columns], index.name
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            assert "account_id" in [c.name for c in constraint.columns], constraint.name
