"""Runs the web app under gunicorn (the production server) from `cartbridge serve`."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        from bridge.app import create_app
        from bridge.logs import configure
        configure()
        return create_app()


def serve(host: str, port: int, workers: int) -> None:
    _Server({"bind": f"{host}:{port}", "workers": workers, "accesslog": "-",
             # Shopify allows 5 s; anything near that is a bug worth a restart, not a wait.
             "timeout": 30, "graceful_timeout": 10}).run()
