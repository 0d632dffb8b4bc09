"""The local store's outbound side of webhooks: the creation ping and deliveries, as core sends them.

The ping (``WC_Webhook::deliver_ping``): an unsigned form POST ``webhook_id=<id>``. The REST create
sends it after the webhook is saved and IGNORES its result (the answer is 201 either way); only
an answer of exactly 200 clears ``pending_delivery``. Every later save of an active webhook that is
still pending (or whose URL changed) pings again (``WC_Webhook_Data_Store::update``).

Deliveries (``deliver``): the body is ``wp_json_encode`` of the payload (``\\/`` and ``\\uXXXX``
escapes; ``{"id": N}`` only for ``*.deleted``), signed base64(HMAC-SHA256(body, secret)), with the
``X-WC-Webhook-*`` headers. A 2xx, 300, 301 or 302 answer resets ``failure_count``; any other
outcome is a failure: with ``failure_count > 5`` already the webhook becomes ``disabled`` (so the
7th consecutive failure disables it), else the count grows by one. Nothing resets the count but a
success: a webhook switched back to ``active`` through the API is disabled again by its next
failure. ``drop_deliveries`` simulates a delivery the store never sends.
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-webhook.php
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/data-stores/class-wc-webhook-data-store.php
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from tests.servers.woocommerce_rest import post_out

MAX_FAILURES = 5                # apply_filters('woocommerce_max_webhook_delivery_failures', 5)
PING_TIMEOUT, DELIVERY_TIMEOUT = 5.0, 60.0      # wp_safe_remote_post's default; MINUTE_IN_SECONDS


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt (or one that the store never sent)."""
    webhook_id: int
    topic: str
    sent: bool                  # False: the webhook was not active, or drop_deliveries() was on
    status: int | None          # what the endpoint answered; None when not sent or unanswered
    error: str | None
    body: bytes
    headers: dict[str, str]


def php_json(payload: Any) -> bytes:
    """``wp_json_encode``: compact, ``\\uXXXX`` for non-ASCII and ``\\/`` for every slash."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


class DeliveriesMixin:
    """Mixed into ``WooCommerceTestServer`` (which provides ``_lock``, ``_clock``, ``url``, ``resolve`` and
    ``_orders``) with ``WebhooksMixin`` (``_webhooks``)."""

    def _init_deliveries(self) -> None:
        self._deliveries: list[Delivery] = []
        self._pings: list[tuple[int, int | None]] = []
        self._dropping = False
        self._salt = secrets.token_bytes(16)      # wp_hash()'s salt, for X-WC-Webhook-Delivery-ID

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def pings(self) -> list[tuple[int, int | None]]:
        """(webhook id, status answered or None) for every ping sent."""
        with self._lock:
            return list(self._pings)

    def drop_deliveries(self, on: bool = True) -> None:
        """While on, ``deliver`` sends nothing: a webhook the store never sent (a lost Action
        Scheduler job, a plugin that skipped the hook). No failure is counted."""
        with self._lock:
            self._dropping = on

    # -- deliveries --------------------------------------------------------------------------
    def deliver(self, target: int | str, order: dict[str, Any] | int) -> list[Delivery]:
        """Deliver ``order`` (a dict, or the id of an order of this store: its current state, as core
        builds the body at delivery time) to webhook ``target`` (an id, int or str) or to every
        webhook of topic ``target``, as ``WC_Webhook::deliver`` does."""
        with self._lock:
            hooks = [dict(h) for h in self._webhooks.values() if str(h["id"]) == str(target) or h["topic"] == target]
            payload = json.loads(json.dumps(self._orders[order] if isinstance(order, int) else order))
        if not hooks:
            raise ValueError(f"no webhook {target!r}")
        return [self._deliver_one(hook, payload) for hook in hooks]

    def _deliver_one(self, hook: dict[str, Any], payload: dict[str, Any]) -> Delivery:
        body = php_json({"id": payload.get("id")} if hook["topic"].endswith(".deleted") else payload)
        headers = self._delivery_headers(hook, body)
        with self._lock:
            skip = "webhook is not active" if hook["status"] != "active" else (
                "dropped" if self._dropping else None)
        status, error = (None, skip) if skip else post_out(self.resolve, hook["delivery_url"], body, headers,
                                                           DELIVERY_TIMEOUT)
        delivery = Delivery(hook["id"], hook["topic"], skip is None, status, error, body, headers)
        with self._lock:
            self._deliveries.append(delivery)
            if skip is None:
                self._count(hook["id"], status)
        if skip is None:
            self._after_save(hook["id"], url_changed=False)
        return delivery

    def _delivery_headers(self, hook: dict[str, Any], body: bytes) -> dict[str, str]:
        signature = base64.b64encode(hmac.new(hook["secret"].encode(), body, hashlib.sha256).digest()).decode()
        resource, _, event = hook["topic"].partition(".")
        delivery_id = hmac.new(self._salt, f"{hook['id']}{int(self._clock())}".encode(), hashlib.md5).hexdigest()
        return {"Content-Type": "application/json", "X-WC-Webhook-Source": self.url + "/",
                "X-WC-Webhook-Topic": hook["topic"], "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event, "X-WC-Webhook-Signature": signature,
                "X-WC-Webhook-ID": str(hook["id"]), "X-WC-Webhook-Delivery-ID": delivery_id}

    def _count(self, webhook_id: int, status: int | None) -> None:
        """``WC_Webhook::log_delivery`` then ``failed_delivery`` (call with the lock held)."""
        hook = self._webhooks.get(webhook_id)
        if hook is None:
            return
        if status is not None and 200 <= status < 303:
            hook["failure_count"] = 0
        elif hook["failure_count"] > MAX_FAILURES:
            hook["status"] = "disabled"
        else:
            hook["failure_count"] += 1
        hook["modified"] = int(self._clock())

    # -- the ping ----------------------------------------------------------------------------
    def _ping(self, webhook_id: int) -> int | None:
        with self._lock:
            url = self._webhooks[webhook_id]["delivery_url"]
        status, _ = post_out(self.resolve, url, f"webhook_id={webhook_id}".encode(),
                             {"Content-Type": "application/x-www-form-urlencoded"}, PING_TIMEOUT)
        with self._lock:
            self._pings.append((webhook_id, status))
            hook = self._webhooks.get(webhook_id)
            if status == 200 and hook is not None:
                hook.update(pending_delivery=False, modified=int(self._clock()))
        return status

    def _after_save(self, webhook_id: int, url_changed: bool) -> None:
        """``WC_Webhook_Data_Store::update``: an active webhook still pending (or moved) is pinged."""
        with self._lock:
            hook = self._webhooks.get(webhook_id)
            due = hook is not None and hook["status"] == "active" and (url_changed or hook["pending_delivery"])
        if due:
            self._ping(webhook_id)
