"""The pure parts of WooCommerce reconciliation and webhook listing: the request, the items, the infos."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bridge.model import CartObserved, Envelope
from connectors.base import WebhookInfo
from connectors.woocommerce import CONNECTOR
from connectors.woocommerce_sync import changes, query, sync_item
from connectors.woocommerce_webhooks import webhook_info
from tests.support.fixtures import load_fixture


def test_the_query_asks_from_one_second_before_since_in_naive_gmt():
    # given a since in Kyiv time with a fraction of a second
    since = datetime(2026, 3, 1, 15, 0, 0, 500000, tzinfo=timezone(timedelta(hours=3)))
    # then WooCommerce is asked, in GMT without an offset, from the second before
    assert query(since, 2) == {"modified_after": "2026-03-01T11:59:59", "dates_are_gmt": "true",
                               "orderby": "modified", "order": "asc", "status": "any", "per_page": "100",
                               "page": "2"}


def test_a_rest_order_becomes_an_order_updated_item_keyed_by_its_version():
    # given a REST order (the webhook's own body)
    order = json.loads(load_fixture("woocommerce", "order_updated__pending.json"))
    # when it is made an item
    item = sync_item(order)
    # then the payload is the order untouched, keyed by id and modification time
    assert (item.topic, item.payload) == ("order.updated", order)
    assert item.key == f"order.updated:{order['id']}:{order['date_modified_gmt']}"
    # and the connector's normalizer reads it as it reads the webhook
    event = CONNECTOR.normalize(Envelope("woocommerce", "1", item.topic, "sync:" + item.key), item.payload)
    assert isinstance(event, CartObserved)


@pytest.mark.parametrize("order", [None, [], {"id": 1}, {"id": "1", "date_modified_gmt": "2026-03-01T12:00:00"},
                                   {"id": True, "date_modified_gmt": "2026-03-01T12:00:00"},
                                   {"id": 1, "date_modified_gmt": ""}])
def test_an_order_without_id_or_modification_time_cannot_be_keyed(order):
    assert sync_item(order) is None


def test_a_listed_webhook_reads_as_webhook_info():
    hook = {"id": 12, "status": "disabled", "topic": "order.updated", "delivery_url": "https://a.test/w/1"}
    assert webhook_info(hook) == WebhookInfo("12", "order.updated", "https://a.test/w/1", False, "disabled")
    assert webhook_info({"status": "active"}) is None


def test_a_naive_since_is_a_programming_error_and_nothing_is_called():
    calls = []
    with pytest.raises(ValueError):
        changes(lambda *args: calls.append(args), "orders", datetime(2026, 3, 1, 12, 0))
    assert calls == []
