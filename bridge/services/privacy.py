"""Privacy requests: export and erase a customer's data, erase a shop, stop on uninstall.

(Being written: see issue 4.)
"""
from __future__ import annotations


def record_data_request(session, shop, event, now, keys):
    raise NotImplementedError


def redact_customer(session, shop, event, now, keys):
    raise NotImplementedError


def erase_shop(session, shop, event, now, keys):
    raise NotImplementedError


def uninstall(session, shop, event, now, keys):
    raise NotImplementedError
