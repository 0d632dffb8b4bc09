"""Settings from the environment, validated once at start-up.

Two modes:
- embedded default (no ``DATABASE_URL``): SQLite in the instance folder; any secret
  that is not set is generated once and kept in ``<instance>/secrets.json`` so the
  app runs with nothing configured;
- production (``DATABASE_URL`` set): ``SECRET_KEY`` and ``ENCRYPTION_KEYS`` must be
  set, or the boot fails with a message naming what is missing.

Every variable here is declared, with a description, in ``app.json``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as _secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from cryptography.fernet import Fernet

DEFAULT_SENDGRID_HOST = "https://api.sendgrid.com"
GENERATED = ("SECRET_KEY", "ENCRYPTION_KEYS", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET")


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    encryption_keys: tuple[str, ...]
    instance_path: Path
    shopify_api_key: str | None = None
    shopify_api_secret: str | None = None
    shopify_api_secret_previous: str | None = None
    sendgrid_api_key: str | None = None
    sendgrid_api_host: str = DEFAULT_SENDGRID_HOST
    mail_from: str = "reminders@cartbridge.localhost"
    mail_from_name: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    max_webhook_bytes: int = 1_048_576
    worker_poll_seconds: float = 2.0
    claim_seconds: int = 300
    send_timeout_seconds: float = 10.0
    send_concurrency: int = 32
    platform_timeout_seconds: float = 10.0
    shopify_api_version: str = "2026-10"
    sendgrid_webhook_public_key: str | None = None    # base64 DER, as SendGrid shows it
    sendgrid_unsubscribe_group_id: int | None = None  # ASM group for reminder sends
    retention_days: int = 90
    sync_interval_minutes: int = 15       # reconciliation: ask each shop what changed
    backfill_days: int = 7                # an install reads this far back
    webhook_health_minutes: int = 60      # list each shop's webhooks, mend what is off
    embedded: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def shopify_secrets(self) -> tuple[str, ...]:
        """Current secret first, the previous one accepted during rotation."""
        return tuple(s for s in (self.shopify_api_secret, self.shopify_api_secret_previous) if s)

    @property
    def channel(self) -> str:
        return "sendgrid" if self.sendgrid_api_key else "outbox"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    instance = Path(env.get("CARTBRIDGE_INSTANCE") or Path.cwd() / "instance").resolve()
    embedded = not env.get("DATABASE_URL")
    if embedded:
        instance.mkdir(parents=True, exist_ok=True)
        env = {**_embedded_secrets(instance / "secrets.json"), **{k: v for k, v in env.items() if v}}
        env["DATABASE_URL"] = f"sqlite:///{instance / 'cartbridge.db'}"
    if not _fernet_keys(env.get("ENCRYPTION_KEYS") or ""):
        env.pop("ENCRYPTION_KEYS", None)  # "," or spaces: as good as unset
    _require(env, "SECRET_KEY", "ENCRYPTION_KEYS")
    if env.get("SENDGRID_API_KEY"):
        _require(env, "MAIL_FROM")
    return Settings(
        database_url=_normalize_db_url(env["DATABASE_URL"]),
        secret_key=env["SECRET_KEY"],
        encryption_keys=_fernet_keys(env["ENCRYPTION_KEYS"]),
        instance_path=instance,
        shopify_api_key=env.get("SHOPIFY_API_KEY") or None,
        shopify_api_secret=env.get("SHOPIFY_API_SECRET") or None,
        shopify_api_secret_previous=env.get("SHOPIFY_API_SECRET_PREVIOUS") or None,
        sendgrid_api_key=env.get("SENDGRID_API_KEY") or None,
        sendgrid_api_host=env.get("SENDGRID_API_HOST") or DEFAULT_SENDGRID_HOST,
        mail_from=env.get("MAIL_FROM") or Settings.mail_from,
        mail_from_name=env.get("MAIL_FROM_NAME") or None,
        public_url=(env.get("PUBLIC_URL") or Settings.public_url).rstrip("/"),
        max_webhook_bytes=_int(env, "MAX_WEBHOOK_BYTES", Settings.max_webhook_bytes),
        worker_poll_seconds=_float(env, "WORKER_POLL_SECONDS", Settings.worker_poll_seconds),
        claim_seconds=_int(env, "CLAIM_SECONDS", Settings.claim_seconds),
        send_timeout_seconds=_float(env, "SEND_TIMEOUT_SECONDS", Settings.send_timeout_seconds),
        send_concurrency=max(1, _int(env, "SEND_CONCURRENCY", Settings.send_concurrency)),
        platform_timeout_seconds=_float(env, "PLATFORM_TIMEOUT_SECONDS", Settings.platform_timeout_seconds),
        shopify_api_version=env.get("SHOPIFY_API_VERSION", Settings.shopify_api_version),
        sendgrid_webhook_public_key=env.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
        sendgrid_unsubscribe_group_id=_int(env, "SENDGRID_UNSUBSCRIBE_GROUP_ID", 0) or None,
        retention_days=max(1, _int(env, "RETENTION_DAYS", Settings.retention_days)),
        sync_interval_minutes=max(1, _int(env, "SYNC_INTERVAL_MINUTES", Settings.sync_interval_minutes)),
        backfill_days=max(0, _int(env, "BACKFILL_DAYS", Settings.backfill_days)),
        webhook_health_minutes=max(1, _int(env, "WEBHOOK_HEALTH_MINUTES", Settings.webhook_health_minutes)),
        embedded=embedded,
    )


def _embedded_secrets(path: Path) -> dict[str, str]:
    """Generate once and keep: restarting the demo must not orphan encrypted data."""
    kept = json.loads(path.read_text()) if path.exists() else {}
    fresh = {
        "SECRET_KEY": lambda: _secrets.token_urlsafe(32),
        "ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": lambda: "embedded-dev-app",
        "SHOPIFY_API_SECRET": lambda: _secrets.token_urlsafe(32),
    }
    missing = {k: make() for k, make in fresh.items() if k not in kept}
    if missing:
        kept.update(missing)
        # Created 0600 from the start: never readable by others, not even for a moment.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(kept, indent=2))
    return kept


def _require(env: Mapping[str, str], *names: str) -> None:
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise SettingsError(f"missing required setting(s): {', '.join(missing)} (see app.json)")


def _fernet_keys(raw: str) -> tuple[str, ...]:
    return tuple(_fernet_key(position, key.strip())
                 for position, key in enumerate((k for k in raw.split(",") if k.strip()), 1))


def _fernet_key(position: int, key: str) -> str:
    """A Fernet key as is; a long random string (Heroku's "secret" generator) is hashed into one."""
    try:
        Fernet(key)
        return key
    except ValueError:
        if len(key) >= 32:
            return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).decode()
    raise SettingsError(f"ENCRYPTION_KEYS: key #{position} is neither a Fernet key nor a random string of "
                        "32+ characters (make one with `cartbridge keys new`)")


def _normalize_db_url(url: str) -> str:
    # Heroku hands out postgres:// URLs; SQLAlchemy wants an explicit driver (psycopg 3).
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name) or default)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {env.get(name)!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name) or default)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {env.get(name)!r}") from None
