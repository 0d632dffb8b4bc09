"""What the merchant reads about their webhooks on the admin page (``shop_sync.health_note``).

Plain English sentences naming the topics and the time (UTC), written by the webhook
health check (``bridge.services.webhook_health``). Pure: no I/O.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

PLATFORM_NAMES = {"shopify": "Shopify", "woocommerce": "WooCommerce"}
SHOPIFY_MANAGED_NOTE = "subscriptions are declared in shopify.app.toml and kept by Shopify"


def mended_note(platform: str, enabled: Mapping[str, str], created: list[str], now: datetime) -> str | None:
    """What was switched back on (``enabled``: topic -> the status it had) or recreated."""
    name, at, parts = PLATFORM_NAMES.get(platform, platform), now.strftime("%Y-%m-%d %H:%M UTC"), []
    for status in sorted(set(enabled.values())):
        topics = sorted(t for t, s in enabled.items() if s == status)
        if status == "disabled":
            parts.append(f"{name} had disabled the {_webhooks(topics)} after repeated failed deliveries; "
                         f"cartbridge switched {_it(topics)} back on at {at}.")
        else:
            parts.append(f"The {_webhooks(topics)} {_was(topics)} {status} in {name}; "
                         f"cartbridge switched {_it(topics)} back on at {at}.")
    if created:
        topics = sorted(created)
        parts.append(f"The {_webhooks(topics)} subscription{'s' if len(topics) > 1 else ''} {_was(topics)} missing; "
                     f"cartbridge recreated {_it(topics)} at {at}.")
    return " ".join(parts + ["Reconciliation filled the gap."]) if parts else None


def trouble_note(failures: Mapping[str, tuple[str, str | None]]) -> str | None:
    """Repairs that did not work (``failures``: "list" or a topic -> (outcome, the platform's
    message)). A platform that was merely unreachable is not worth a note: the next check retries."""
    lasting = {what: message or outcome for what, (outcome, message) in failures.items() if outcome != "retry"}
    if not lasting:
        return None
    if "list" in lasting:
        return f"cartbridge could not list this store's webhooks ({lasting['list']}); it tries again at the next check."
    return " ".join(f"cartbridge could not repair the {topic} webhook ({message}); it tries again at the next check."
                    for topic, message in sorted(lasting.items()))


def _webhooks(topics: list[str]) -> str:
    if len(topics) == 1:
        return f"{topics[0]} webhook"
    return f"{', '.join(topics[:-1])} and {topics[-1]} webhooks"


def _it(topics: list[str]) -> str:
    return "it" if len(topics) == 1 else "them"


def _was(topics: list[str]) -> str:
    return "was" if len(topics) == 1 else "were"
