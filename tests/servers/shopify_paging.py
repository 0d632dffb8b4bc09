"""Cursor pagination the way Admin GraphQL connections do it, for the local Shopify server.

A cursor names the position of the record it came from: its sort value and id (Shopify's
cursors are opaque base64 of the same idea), so ``after: cursor`` continues behind that
record even when records were added or changed in between.
https://shopify.dev/docs/api/usage/pagination-graphql
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Callable, Sequence

MAX_PAGE = 250          # "first" and "last" take at most 250 records


def connection(records: Sequence[Any], sort_key: Callable[[Any], tuple], args: dict,
               node: Callable[[Any], dict]) -> dict:
    """The connection answer (``nodes``, ``edges``, ``pageInfo``) for ``first``/``last``,
    ``after``/``before`` and ``reverse``. Raises ValueError the way Shopify refuses."""
    first, last = args.get("first"), args.get("last")
    if (first is None) == (last is None):
        raise ValueError("you must provide one of first or last")
    if not 0 <= (first if first is not None else last) <= MAX_PAGE:
        raise ValueError(f"first and last must be between 0 and {MAX_PAGE}")
    reverse = bool(args.get("reverse"))
    ordered = sorted(records, key=sort_key, reverse=reverse)
    keys = [sort_key(record) for record in ordered]
    start, end = 0, len(ordered)
    if args.get("after"):
        start = _bound(keys, decode(args["after"]), reverse)
    if args.get("before"):
        end = _bound(keys, decode(args["before"]), reverse, before=True)
    window = ordered[start:max(start, end)]
    page = window[:first] if first is not None else window[max(len(window) - last, 0):]
    cursors = [encode(sort_key(record)) for record in page]
    return {"nodes": [node(record) for record in page],
            "edges": [{"cursor": cursor, "node": node(record)} for cursor, record in zip(cursors, page)],
            "pageInfo": {"hasNextPage": first is not None and len(window) > first or end < len(ordered),
                         "hasPreviousPage": last is not None and len(window) > last or start > 0,
                         "startCursor": cursors[0] if cursors else None,
                         "endCursor": cursors[-1] if cursors else None}}


def encode(key: tuple) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode(cursor: str) -> tuple:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise ValueError(f"Invalid cursor: {cursor!r}") from None
    if not isinstance(key, list):
        raise ValueError(f"Invalid cursor: {cursor!r}")
    return tuple(key)


def _bound(keys: list[tuple], cursor: tuple, reverse: bool, before: bool = False) -> int:
    """Index of the first record after the cursor (``before``: of the cursor's own slot)."""
    for index, key in enumerate(keys):
        beyond = key < cursor if reverse else key > cursor
        if beyond or (before and key == cursor):
            return index
    return len(keys)
