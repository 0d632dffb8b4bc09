"""The local store's webhooks REST controller, ``/wp-json/wc/v3/webhooks``, as core answers it.

REST (``WC_REST_Webhooks_V1/V2_Controller``; v3 only changes the namespace): ``GET webhooks``
(``status`` all|active|paused|disabled, ``orderby`` date|id|title, ``order``, ``per_page``,
``page``; ``X-WP-Total``/``X-WP-TotalPages``), ``POST webhooks`` (``topic`` and ``delivery_url``
required; a topic is ``<resource>.<event>`` of coupon|customer|order|product and
created|updated|deleted|restored, or ``action.woocommerce_*``/``action.wc_*``; a new webhook is
always ``active`` whatever ``status`` says; no ``secret`` -> a generated one), ``GET|PUT
webhooks/<id>`` (a missing id is 400 ``ID is invalid.``), ``DELETE webhooks/<id>`` (``force=true``
required: 501 without it; 404 when missing). The secret is never shown.
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/rest-api/Controllers/Version1/class-wc-rest-webhooks-v1-controller.php

The ping and deliveries are ``tests.servers.woocommerce_deliveries``.
"""
from __future__ import annotations

import itertools
import math
import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from tests.servers.woocommerce_rest import Reply, WooError, json_object, one_of, per_page, positive, require, site_dates

STATUSES = ("active", "paused", "disabled")
RESOURCES, EVENTS = ("coupon", "customer", "order", "product"), ("created", "updated", "deleted", "restored")
TOPIC_HOOKS = {   # WC_Webhook::get_default_topic_hooks(), the order topics (others: see core)
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
}
ITEM = re.compile(r"^/wp-json/wc/v3/webhooks/(?P<id>\d+)/?$")


def valid_topic(topic: str) -> bool:
    """``wc_is_webhook_valid_topic``."""
    if topic in ("action.woocommerce_login_credentials", "action.woocommerce_webhook_should_deliver",
                 "action.woocommerce_product_csv_importer_check_import_file_path"):
        return False
    if topic.startswith(("action.woocommerce_", "action.wc_")):
        return True
    resource, _, event = topic.partition(".")
    return resource in RESOURCES and event in EVENTS


def valid_url(url: str) -> bool:
    """``wc_is_valid_url``: starts with http:// or https:// and passes FILTER_VALIDATE_URL."""
    parts = urlsplit(url)
    return url.startswith(("http://", "https://")) and bool(parts.hostname) and not re.search(r"\s", url)


class WebhooksMixin:
    """Mixed into ``WooCommerceTestServer`` (which provides ``_lock``, ``_clock``, ``_tz`` and ``url``)
    with ``DeliveriesMixin`` (``_ping``, ``_after_save``)."""

    def _init_webhooks(self) -> None:
        self._webhooks: dict[int, dict[str, Any]] = {}
        self._webhook_ids = itertools.count(1)

    # -- set-up and records ----------------------------------------------------------------
    def add_webhook(self, topic: str, delivery_url: str, secret: str = "", status: str = "active",
                    name: str = "") -> dict[str, Any]:
        """A webhook made in the admin (another integration's, say), without a ping."""
        with self._lock:
            hook = self._new_webhook(topic, delivery_url, secret, name)
            hook.update(status=status, pending_delivery=False)
            return dict(hook)

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        """The stored webhooks with what the API hides (``secret``, ``failure_count``, ``pending_delivery``)."""
        with self._lock:
            return [dict(hook) for hook in self._webhooks.values()]

    def webhook(self, webhook_id: int) -> dict[str, Any] | None:
        return next((hook for hook in self.webhooks if hook["id"] == int(webhook_id)), None)

    # -- the REST controller (called under the lock) -----------------------------------------
    def _list_webhooks(self, key, query: dict, raw: bytes, path: str) -> Reply:
        status = one_of(query, "status", ("all", *STATUSES), "all")
        order = one_of(query, "order", ("asc", "desc"), "desc")
        orderby = one_of(query, "orderby", ("date", "id", "title"), "date")
        size, page = per_page(query), positive(query, "page", 1)
        require(key, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        found = [h for h in self._webhooks.values() if status == "all" or h["status"] == status]
        column = {"date": "created", "id": "id", "title": "name"}[orderby]
        found.sort(key=lambda h: (h[column], h["id"]), reverse=order == "desc")
        pages = math.ceil(len(found) / size) if size > 1 else 1      # max_num_pages, as the data store says
        return Reply(200, [self._webhook_view(h) for h in found[(page - 1) * size:page * size]],
                     {"X-WP-Total": str(len(found)), "X-WP-TotalPages": str(pages)})

    def _create_webhook(self, key, query: dict, raw: bytes, path: str) -> Reply:
        body = json_object(raw)
        missing = [name for name in ("topic", "delivery_url") if name not in body]
        if missing:
            raise WooError(400, "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}",
                           params=missing)
        _check_types(body)
        require(key, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.")
        if not body["topic"] or not valid_topic(body["topic"].lower()):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_topic",
                           "Webhook topic is required and must be valid.")
        if not body["delivery_url"] or not valid_url(body["delivery_url"]):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or https://.")
        hook = self._new_webhook(body["topic"], body["delivery_url"], body.get("secret") or "", body.get("name"))
        location = f"{self.url}/wp-json/wc/v3/webhooks/{hook['id']}"
        return Reply(201, self._webhook_view(hook), {"Location": location}, after=lambda: self._ping(hook["id"]))

    def _get_webhook(self, key, query: dict, raw: bytes, path: str) -> Reply:
        require(key, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        return Reply(200, self._webhook_view(self._existing(path, 400, "ID is invalid.")))

    def _update_webhook(self, key, query: dict, raw: bytes, path: str) -> Reply:
        body = json_object(raw)
        _check_types(body)
        require(key, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
        hook = self._existing(path, 400, "ID is invalid.")
        changes = _changes(body)
        url_changed = "delivery_url" in changes and changes["delivery_url"] != hook["delivery_url"]
        hook.update(changes, modified=int(self._clock()))
        return Reply(200, self._webhook_view(hook), after=lambda: self._after_save(hook["id"], url_changed))

    def _delete_webhook(self, key, query: dict, raw: bytes, path: str) -> Reply:
        require(key, "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
        if query.get("force", "").lower() not in ("1", "true"):
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        hook = self._existing(path, 404, "Invalid ID.")
        del self._webhooks[hook["id"]]
        return Reply(200, self._webhook_view(hook))

    def _existing(self, path: str, status: int, message: str) -> dict[str, Any]:
        hook = self._webhooks.get(int(ITEM.match(path)["id"]))
        if hook is None:
            raise WooError(status, "woocommerce_rest_shop_webhook_invalid_id", message)
        return hook

    def _new_webhook(self, topic: str, delivery_url: str, secret: str, name: str | None) -> dict[str, Any]:
        now = int(self._clock())
        hook = {"id": next(self._webhook_ids), "status": "active", "topic": topic if valid_topic(topic) else "",
                "delivery_url": delivery_url, "secret": secret or secrets.token_urlsafe(37), "failure_count": 0,
                "pending_delivery": True, "user_id": 1, "created": now, "modified": None,
                "name": name or datetime.fromtimestamp(now, self._tz).strftime("Webhook created on %b %d, %Y @ %I:%M %p")}
        self._webhooks[hook["id"]] = hook
        return hook

    def _webhook_view(self, hook: dict[str, Any]) -> dict[str, Any]:
        """``WC_REST_Webhooks_V2_Controller::prepare_item_for_response`` (no secret, ever)."""
        resource, _, event = hook["topic"].partition(".")
        hooks = [event] if resource == "action" else TOPIC_HOOKS.get(hook["topic"], [])
        base = f"{self.url}/wp-json/wc/v3/webhooks"
        return {"id": hook["id"], "name": hook["name"], "status": hook["status"], "topic": hook["topic"],
                "resource": resource, "event": event, "hooks": list(hooks), "delivery_url": hook["delivery_url"],
                **site_dates("date_created", hook["created"], self._tz),
                **site_dates("date_modified", hook["modified"], self._tz),
                "_links": {"self": [{"href": f"{base}/{hook['id']}"}], "collection": [{"href": base}]}}


def _check_types(body: dict[str, Any]) -> None:
    """The schema checks WordPress runs before the controller: strings, and the status enum."""
    for name in ("name", "topic", "delivery_url", "secret", "status"):
        if name in body and not isinstance(body[name], str):
            raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                           params={name: f"{name} is not of type string."})
    if body.get("status") is not None and body["status"] not in STATUSES:
        raise WooError(400, "rest_invalid_param", "Invalid parameter(s): status",
                       params={"status": f"status is not one of {', '.join(STATUSES)}."})


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    """``update_item``: each non-empty field, validated as core does."""
    changes = {}
    if body.get("topic"):
        if not valid_topic(body["topic"].lower()):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.")
        changes["topic"] = body["topic"] if valid_topic(body["topic"]) else ""
    if body.get("delivery_url"):
        if not valid_url(body["delivery_url"]):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or https://.")
        changes["delivery_url"] = body["delivery_url"]
    changes.update({name: body[name] for name in ("secret", "status", "name") if body.get(name)})
    return changes
