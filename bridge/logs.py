"""Logging set-up: one line per record, ids and log codes as key=value, nothing else.

Only the fields listed in SAFE_FIELDS are printed from ``extra``: ids, codes and
statuses. Emails, phones, bodies and secrets are never passed as log fields (house
rule), and this allow-list keeps a careless ``extra`` from leaking one anyway.
"""
from __future__ import annotations

import logging
import sys

SAFE_FIELDS = ("code", "platform", "shop_id", "delivery_id", "topic", "step_id", "message_id", "status",
               "status_code", "reason", "deliveries", "abandoned", "claimed", "discount_id", "calls",
               "codes_cleaned", "count", "provider_events", "purged")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{name}={getattr(record, name)}" for name in SAFE_FIELDS
                          if getattr(record, name, None) is not None)
        return f"{line} {fields}" if fields else line


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
