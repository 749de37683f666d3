"""The `knotlog` command: migrate, serve, demo, clock, openapi."""

from __future__ import annotations

import logging
import sys
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import click

from core.database import resolve_url
from core.logs import configure_logging
from core.settings import Settings


def _settings_with_database() -> Settings:
    """Resolve the database once (starting the embedded one if needed) and pin its URL."""
    settings = Settings.from_env()
    return replace(settings, database_url=resolve_url(settings))


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """knotlog: sync API and weekly pipeline for self-massage session logs."""
    configure_logging(logging.INFO if verbose else logging.WARNING)


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision."""
    from core.migrate import upgrade

    settings = _settings_with_database()
    upgrade(settings.database_url)
    click.echo("database schema is at the newest revision")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, envvar="PORT")
@click.option("--workers", default=2, show_default=True, envvar="WEB_CONCURRENCY")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (migrating first)."""
    from core.migrate import upgrade
    from knotlog.server import run_gunicorn

    settings = _settings_with_database()
    upgrade(settings.database_url)
    click.echo(f"knotlog API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    run_gunicorn(settings, f"{host}:{port}", workers)


@main.command()
def demo() -> None:
    """Start or reuse the database, serve the API, sync a demo account as two phones would."""
    from knotlog.demo import run_demo

    sys.exit(run_demo(_settings_with_database()))


@main.command()
@click.option("--once", is_flag=True, help="Run one pass of every job and exit.")
def clock(once: bool) -> None:
    """Run the scheduler of the offline pipeline."""
    from core.database import Database
    from jobs.scheduler import run_clock

    settings = _settings_with_database()
    logging.getLogger().setLevel(settings.log_level)  # a long-running process reports each pass
    sys.exit(run_clock(Database.from_settings(settings), settings, once=once))


@main.command()
@click.option("--week", "first", required=True, help="ISO week, like 2026-W47.")
@click.option("--to", "last", help="Last ISO week of a range (default: --week).")
@click.option("--account", "account", type=click.UUID, help="One account (default: all).")
@click.option("--send-email", is_flag=True, help="Also email (still never twice a week).")
def weekly(first: str, last: str | None, account: uuid.UUID | None, send_email: bool) -> None:
    """Recompute weekly summaries and rewrite their reports for a week or a range."""
    from core.database import Database
    from core.services.week_tasks import enqueue_weeks
    from core.weeks import parse_week
    from jobs.scheduler import build_pipeline
    from jobs.weekly import process_tasks

    try:
        start, end = parse_week(first), parse_week(last or first)
    except ValueError as exc:
        given = first if last is None else f"{first} .. {last}"
        raise click.BadParameter(f"{given}: {exc}") from None
    if end < start:
        raise click.BadParameter("--to must not be before --week")
    weeks = [start + timedelta(weeks=i) for i in range((end - start).days // 7 + 1)]
    settings = _settings_with_database()
    database = Database.from_settings(settings)
    with database.session() as db:
        queued = enqueue_weeks(db, weeks, account, send_email=send_email)
    if queued == 0:
        raise click.ClickException(
            "nothing to do: no account has a final week in that range"
            + (" (is the account id right?)" if account else "")
        )
    pipeline = build_pipeline(database, settings)
    try:
        with click.progressbar(
            length=queued, label="summarising", file=sys.stderr, show_pos=True
        ) as bar:
            stats = process_tasks(pipeline, on_batch=bar.update)
    finally:
        pipeline.close()
    click.echo(stats.line())
    if stats.failed_batches:
        raise click.ClickException("some weeks were not done (see the log); run it again")


@main.command()
@click.option("--check", is_flag=True, help="Fail if openapi.yaml differs from the code.")
@click.argument("path", default="openapi.yaml", type=click.Path(path_type=Path))
def openapi(check: bool, path: Path) -> None:
    """Write (or check) the OpenAPI document generated from the code."""
    # The document does not depend on data: a lazy engine that never connects is enough.
    from sqlalchemy import create_engine

    from api import create_app, openapi_document
    from core.database import Database

    app = create_app(
        Settings.from_env(),
        Database.from_engine(create_engine("postgresql+psycopg://unused@localhost/unused")),
    )
    document = openapi_document(app)
    if check:
        if not path.exists() or path.read_text() != document:
            raise click.ClickException(f"{path} is out of date: run `knotlog openapi`")
        click.echo(f"{path} matches the code")
        return
    path.write_text(document)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
