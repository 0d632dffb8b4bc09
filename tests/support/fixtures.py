"""Load platform fixtures and sign bodies the way each platform does.

Fixtures follow Zulip's rule: ``tests/fixtures/<platform>/<topic>__<variant>.json`` where the
topic has ``/`` and ``.`` replaced by ``_``. Twins of a fixture share its stem and carry a
second extension: ``<stem>.raw.txt`` holds the exact bytes the platform signed (WooCommerce's
PHP ``json_encode`` output) and ``<stem>.headers.json`` the delivery headers. Only the
``.json`` payload is a fixture; twins are found through it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path
from typing import Iterator, Mapping

from connectors.registry import get_connector

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"

# How each platform separates resource and event in a topic name.
TOPIC_SEPARATORS = {"shopify": "/", "woocommerce": "."}

# ``<topic>__<variant>.json`` with no further dot: twins have a second extension.
_FIXTURE_NAME = re.compile(r"^(?P<topic>[a-z0-9_]+)__(?P<variant>[a-z0-9_-]+)\.json$")


def fixture_path(platform: str, name: str) -> Path:
    """The path of a fixture (or twin) file; FileNotFoundError names it when absent."""
    path = FIXTURES_DIR / platform / name
    if not path.is_file():
        raise FileNotFoundError(f"no fixture {platform}/{name} in {FIXTURES_DIR}")
    return path


def load_fixture(platform: str, name: str) -> bytes:
    """A fixture file's exact bytes."""
    return fixture_path(platform, name).read_bytes()


def raw_body(platform: str, name: str) -> bytes:
    """The bytes the platform sent for a fixture: its ``.raw.txt`` twin when there is one."""
    twin = FIXTURES_DIR / platform / (name.removesuffix(".json") + ".raw.txt")
    return twin.read_bytes() if twin.is_file() else load_fixture(platform, name)


def iter_fixtures(platform: str) -> Iterator[Path]:
    """Every payload fixture of a platform, sorted; twins are skipped."""
    for path in sorted((FIXTURES_DIR / platform).glob("*.json")):
        if _FIXTURE_NAME.match(path.name):
            yield path


def variant_of(filename: str | Path) -> str:
    """``checkouts_create__guest.json`` -> ``guest``."""
    return _split(filename)[1]


def topic_of(filename: str | Path, platform: str | None = None) -> str:
    """Reverse of the naming rule: ``checkouts_create__guest.json`` -> ``checkouts/create``.

    ``_`` is ambiguous (``customers/data_request``, ``action.woocommerce_add_to_cart``), so
    a topic the platform's connector knows wins; otherwise the first ``_`` is the separator.
    The platform is taken from the argument or from the fixture's folder name.
    """
    encoded = _split(filename)[0]
    platform = platform or Path(filename).parent.name
    if platform not in TOPIC_SEPARATORS:
        raise ValueError(f"cannot tell the platform of {filename!r}; pass platform=")
    connector = get_connector(platform)
    for topic in connector.handled_topics | connector.ignored_topics:
        if re.sub(r"[/.]", "_", topic) == encoded:
            return topic
    resource, _, event = encoded.partition("_")
    return f"{resource}{TOPIC_SEPARATORS[platform]}{event}" if event else resource


def sign_shopify(raw: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64(HMAC-SHA256(raw body, client secret))."""
    return _b64_hmac(raw, secret)


def sign_woocommerce(raw: bytes, secret: str) -> str:
    """``X-WC-Webhook-Signature``: base64(HMAC-SHA256(raw body, webhook secret))."""
    return _b64_hmac(raw, secret)


def shopify_headers(topic: str, raw: bytes, secret: str,
                    overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """A signed Shopify delivery's headers; an override of None drops that header."""
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_shopify(raw, secret),
        "X-Shopify-Shop-Domain": "cartbridge-test.myshopify.com",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2025-11-08T09:30:02.123456789Z",
        "X-Shopify-API-Version": "2026-07",
    }
    return _merge(headers, overrides)


def woocommerce_headers(topic: str, raw: bytes, secret: str,
                        overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """A signed WooCommerce delivery's headers (``class-wc-webhook.php`` set); None drops one."""
    resource, _, event = topic.partition(".")
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign_woocommerce(raw, secret),
        "X-WC-Webhook-ID": "16",
        "X-WC-Webhook-Delivery-ID": "4a8d4394fa7b1c883747ad86babf922b",
    }
    return _merge(headers, overrides)


def _merge(headers: dict[str, str], overrides: Mapping[str, str | None] | None) -> dict[str, str]:
    merged = headers | dict(overrides or {})
    return {name: value for name, value in merged.items() if value is not None}


def _b64_hmac(raw: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _split(filename: str | Path) -> tuple[str, str]:
    match = _FIXTURE_NAME.match(Path(filename).name)
    if match is None:
        raise ValueError(f"{filename!r} is not named <topic>__<variant>.json")
    return match["topic"], match["variant"]


def read_path(value, path: str):
    """Follow a dotted path through attributes and list indexes: ``snapshot.line_items.0.title``."""
    for step in path.split("."):
        value = value[int(step)] if step.isdigit() else getattr(value, step)
    return value
