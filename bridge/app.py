"""The Flask app factory (flaskr style): ``create_app(test_config=None)``.

The web process receives and stores webhooks and serves pages; it never sends a
message. Settings are validated here, at start-up, so a misconfigured deployment
fails to boot with a message instead of failing on the first webhook.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from bridge.runtime import Runtime
from bridge.settings import load_settings


def create_app(test_config: Mapping[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    app = Flask(__name__)
    if runtime is None:
        runtime = Runtime.from_settings(load_settings())
    app.config.update(SECRET_KEY=runtime.settings.secret_key,
                      MAX_CONTENT_LENGTH=runtime.settings.max_webhook_bytes)
    if test_config:
        app.config.update(test_config)
    app.extensions["cartbridge"] = runtime

    from webhooks import blueprint as webhooks_blueprint
    from webhooks.sendgrid import blueprint as sendgrid_blueprint
    from webhooks.unsubscribe import blueprint as unsubscribe_blueprint
    from webhooks.woocommerce_auth import blueprint as woocommerce_auth_blueprint
    app.register_blueprint(webhooks_blueprint)
    app.register_blueprint(sendgrid_blueprint)
    app.register_blueprint(unsubscribe_blueprint)
    app.register_blueprint(woocommerce_auth_blueprint)
    import admin_ui
    admin_ui.init_app(app)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["cartbridge"]
