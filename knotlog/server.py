"""gunicorn in-process, for `knotlog serve` (the Procfile runs the gunicorn command itself)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from core.settings import Settings


class _Server(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from api import create_app

        return create_app(self.settings)


def run_gunicorn(settings: Settings, bind: str, workers: int) -> None:
    from knotlog import gunicorn_conf  # the Procfile's settings: JSON logs, metrics across workers

    hooks = {
        name: getattr(gunicorn_conf, name)
        for name in ("when_ready", "post_worker_init", "child_exit", "accesslog", "keepalive")
    }
    _Server(
        settings,
        {"bind": bind, "workers": workers, "threads": 4, "worker_class": "gthread", **hooks},
    ).run()
