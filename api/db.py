"""The request's database session: opened on first use, closed (rolled back) at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from core.database import Database


def database() -> Database:
    db: Database = current_app.extensions["knotlog.database"]
    return db


def get_db() -> Session:
    if "db_session" not in g:
        g.db_session = database().sessions()
    session: Session = g.db_session
    return session


def init_app(app: Flask, db: Database) -> None:
    app.extensions["knotlog.database"] = db

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # uncommitted work is rolled back: routes commit explicitly
