"""The platform registry: the one place that maps a platform name to its connector.

Adding a platform is one line here (see ARCHITECTURE.md, "Adding a platform touches").
"""
from __future__ import annotations

from connectors import shopify, woocommerce
from connectors.base import Connector

CONNECTORS: dict[str, Connector] = {
    "shopify": shopify.CONNECTOR,
    "woocommerce": woocommerce.CONNECTOR,
}


def get_connector(platform: str) -> Connector:
    """The connector for ``platform``; KeyError naming the known ones otherwise."""
    try:
        return CONNECTORS[platform]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise KeyError(f"unknown platform {platform!r}; known platforms: {known}") from None
