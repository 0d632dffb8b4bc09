"""Runs the web app under gunicorn (the production server) from `cartbridge serve`."""
from __future__ import annotations

import re

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

_UNSUBSCRIBE_TOKEN = re.compile(r"/u/[^/?\s]+")


class AccessLogger(Logger):
    """The access log without unsubscribe tokens: a token in a log line would let whoever
    reads the logs opt that customer out (or back in). Every atom is cleaned (the request
    line, the path, and the environ/header atoms a custom format could name)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: _UNSUBSCRIBE_TOKEN.sub("/u/[token]", value) if isinstance(value, str) and "/u/" in value
                else value for name, value in atoms.items()}


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
    _Server({"bind": f"{host}:{port}", "workers": workers, "accesslog": "-", "logger_class": AccessLogger,
             # Shopify allows 5 s; anything near that is a bug worth a restart, not a wait.
             "timeout": 30, "graceful_timeout": 10}).run()
