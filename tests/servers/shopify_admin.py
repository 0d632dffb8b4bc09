"""A local Shopify Admin API (discount codes, orders, abandoned checkouts and webhook subscriptions
over GraphQL; install and token grants) for tests.

``POST /admin/api/<version>/graphql.json`` is validated and executed with graphql-core against an
SDL subset of the documented Admin schema (``shopify_admin_schema.graphql``), so a query Shopify
would reject fails the same way: 200 with ``errors``. Per shop: the current access token (401 with
Shopify's body otherwise), granted scopes (ACCESS_DENIED), code uniqueness (userErrors TAKEN),
basic validation, and a leaky cost bucket charged the requested cost (a mutation 10 points; in a
query an object 1 and a connection 2 + first x one node): a request the bucket cannot pay for is
answered THROTTLED on a 200 and NOT executed; every answer carries ``extensions.cost``.
https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits

Orders (``add_order``, ``update_order``) are read through ``orders(first, after, sortKey,
reverse, query)`` with Shopify's search syntax (``shopify_orders.py``, ``shopify_search.py``);
``searches`` lists the query strings clients sent. Abandoned checkouts (``add_checkout``...)
live in ``shopify_checkouts.py``, webhook subscriptions in ``shopify_webhooks.py``, and
``POST /admin/oauth/access_token`` (token exchange, authorization code, refresh) with
``GET /admin/oauth/authorize`` in ``shopify_install.py``. A query whose requested cost is above
1000 points is refused (MAX_COST_EXCEEDED) like Shopify's single-query limit.

Shops are told apart by the Host header ``<name>.myshopify.com``. ``http_client()`` is an httpx
client that sends ``https://<name>.myshopify.com/...`` here over plain http (Host kept), so the
real ``shopifyapp`` library runs unmodified. Scripted faults play in order, one per GraphQL
request: ``throttle_next(n)``, ``fail_next(status, retry_after)`` (answer without executing),
``delay_next(seconds)`` (execute, then answer too late); ``expire_token`` and ``revoke_scope``
change a shop.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from graphql import (FieldNode, GraphQLError, GraphQLSyntaxError, InlineFragmentNode, IntValueNode,
                     OperationDefinitionNode, OperationType, VariableNode, build_schema, execute, get_named_type,
                     parse, validate, value_from_ast_untyped)

from tests.servers._local import Fault, Handler, LocalServer
from tests.servers.shopify_checkouts import CheckoutsMixin, StoredCheckout, checkouts_connection, checkouts_count
from tests.servers.shopify_install import InstallMixin, TokenGrant, new_token
from tests.servers.shopify_orders import StoredOrder, orders_connection, orders_count
from tests.servers.shopify_webhooks import StoredSubscription, WebhooksMixin

SCHEMA = build_schema(Path(__file__).with_name("shopify_admin_schema.graphql").read_text())
GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>\d{4}-\d{2}|unstable)/graphql\.json$")
TOKEN_PATH, AUTHORIZE_PATH = "/admin/oauth/access_token", "/admin/oauth/authorize"
DEFAULT_SCOPES = ("read_orders", "write_discounts", "read_customers")
COST = {OperationType.MUTATION: 10, OperationType.QUERY: 1}
MAX_QUERY_COST = 1000       # https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits
UNAUTHORIZED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
FAULT_MESSAGES = {403: "[API] This action requires merchant approval for write_discounts scope.",
                  429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                  503: "Service Unavailable", 504: "Gateway Timeout"}
CUSTOMER_GID = re.compile(r"^gid://shopify/Customer/\d+$")


def _check_decimal(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError('Decimal is serialized as a string, e.g. "5.00"')
    try:
        if not Decimal(value).is_finite():
            raise ValueError("not a finite number")
    except InvalidOperation:
        raise ValueError(f"invalid decimal {value!r}") from None
    return value


def _check_datetime(value: Any) -> str:
    if not isinstance(value, str) or _moment(value) is None:
        raise ValueError("DateTime is an ISO-8601 string with a UTC offset, e.g. 2026-11-23T10:00:00Z")
    return value


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


for _name, _check in {"Decimal": _check_decimal, "DateTime": _check_datetime}.items():
    _scalar = SCHEMA.type_map[_name]
    _scalar.parse_value = _scalar.coerce_input_value = _check      # graphql-core 3.2 / 3.3 names
    _scalar.parse_literal = lambda node, variables=None, check=_check: check(value_from_ast_untyped(node, variables))
    _scalar.coerce_input_literal = lambda node, check=_check: check(value_from_ast_untyped(node))


@dataclass(frozen=True)
class ShopGrant:
    """A shop's credentials as the app holds them after install (or the latest refresh)."""
    domain: str
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class StoredDiscount:
    id: str                     # gid://shopify/DiscountCodeNode/<n>
    code: str
    typename: str               # DiscountCodeBasic | DiscountCodeFreeShipping
    input: dict                 # the input object exactly as the request sent it
    api_version: str


@dataclass
class _Shop:
    name: str
    scopes: set[str]
    access_token: str
    refresh_token: str
    maximum_available: float
    restore_rate: float
    available: float
    seen: float
    previous_refresh: str | None = None
    token_expired: bool = False
    discounts: dict[str, StoredDiscount] = field(default_factory=dict)
    orders: dict[str, StoredOrder] = field(default_factory=dict)
    checkouts: dict[str, StoredCheckout] = field(default_factory=dict)
    subscriptions: dict[str, StoredSubscription] = field(default_factory=dict)
    searches: list[str] = field(default_factory=list)

    def refill(self, now: float) -> float:
        self.available = min(self.maximum_available, self.available + (now - self.seen) * self.restore_rate)
        self.seen = now
        return self.available

    def throttle_status(self) -> dict:
        return {"maximumAvailable": self.maximum_available, "currentlyAvailable": int(self.available),
                "restoreRate": self.restore_rate}

    def allows(self, scope: str) -> bool:   # a write_ scope includes its read_ scope
        return scope in self.scopes or scope.replace("read_", "write_", 1) in self.scopes


class ShopifyAdminServer(CheckoutsMixin, WebhooksMixin, InstallMixin, LocalServer):
    """``with ShopifyAdminServer() as srv:`` then ``srv.add_shop("demo")`` and ``srv.http_client()``.

    Session tokens are HS256 JWTs signed with ``app_secret``: keep it 32 bytes or longer (PyJWT
    warns about shorter HMAC keys, and tests turn warnings into errors)."""

    METHODS = ("GET", "POST")

    def __init__(self, app_key: str = "cartbridge-test-app",
                 app_secret: str = "shpss_admin_test_secret_0123456789abcdef", host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._lock = threading.RLock()
        self.app_key, self.app_secret = app_key, app_secret
        self._shops: dict[str, _Shop] = {}
        self._counts: collections.Counter[str] = collections.Counter()
        self._throttled = 0
        self._ids = itertools.count(1001)
        self._codes: dict = {}                      # authorization codes (shopify_install)
        self._grants: list[TokenGrant] = []

    def http_client(self, timeout: float = 5.0) -> httpx.Client:
        """An httpx client (for ``shopifyapp``'s ``http_client``) that reaches this server; close it."""
        return httpx.Client(transport=_ToLocalServer(self.port), timeout=timeout)


    # -- shops -------------------------------------------------------------------------
    def add_shop(self, name: str, scopes=DEFAULT_SCOPES, maximum_available: float = 2000.0,
                 restore_rate: float = 100.0) -> ShopGrant:
        shop = _Shop(_shop_name(name), set(scopes), new_token("shpat"), new_token("shprt"), float(maximum_available),
                     float(restore_rate), float(maximum_available), time.monotonic())
        with self._lock:
            self._shops[shop.name] = shop
        return self.grant(shop.name)

    def grant(self, shop: str) -> ShopGrant:
        with self._lock:
            found = self._shops[_shop_name(shop)]
            return ShopGrant(f"{found.name}.myshopify.com", found.access_token, found.refresh_token)

    def _shop(self, shop: str) -> _Shop:
        """The stored shop (call with ``_lock`` held); KeyError for a shop never added."""
        return self._shops[_shop_name(shop)]

    # -- orders ------------------------------------------------------------------------
    def add_order(self, shop: str, email: str | None = None, customer_id: str | int | None = None,
                  financial: str = "PENDING", fulfillment: str = "UNFULFILLED", cancelled: bool = False,
                  closed: bool = False, created_at: datetime | None = None, updated_at: datetime | None = None,
                  total: str = "10.00", currency: str = "USD", discount_codes: tuple[str, ...] = ()) -> StoredOrder:
        """An order placed in the shop (statuses as ``OrderDisplayFinancialStatus`` /
        ``OrderDisplayFulfillmentStatus`` name them), indexed for search at once."""
        moment = _iso(created_at or datetime.now(UTC))
        with self._lock:
            found = self._shops[_shop_name(shop)]
            order = StoredOrder(f"gid://shopify/Order/{next(self._ids)}", f"#{1001 + len(found.orders)}", moment,
                                email, _customer_gid(customer_id), financial, fulfillment,
                                moment if cancelled else None, closed, _iso(updated_at) if updated_at else "",
                                total=total, currency=currency, discount_codes=tuple(discount_codes)).reindexed()
            found.orders[order.id] = order
            return order

    def update_order(self, shop: str, order_id: str, reindex: bool = True, **changes: Any) -> StoredOrder:
        """Change an order (``financial``, ``fulfillment``, ``cancelled``, ``closed``...). With
        ``reindex=False`` the search index keeps the old values, as Shopify's does for a while.
        ``updated_at`` moves to now unless given."""
        if "cancelled" in changes:
            changes["cancelled_at"] = _iso(datetime.now(UTC)) if changes.pop("cancelled") else None
        changes["updated_at"] = _iso(changes.get("updated_at") or datetime.now(UTC))
        with self._lock:
            orders = self._shops[_shop_name(shop)].orders
            order = dataclasses.replace(orders[order_id], **changes)
            orders[order_id] = order.reindexed() if reindex else order
            return orders[order_id]

    def searches(self, shop: str) -> list[str]:
        """The ``query`` strings of every ``orders`` read of this shop, in order."""
        with self._lock:
            return list(self._shops[_shop_name(shop)].searches)

    # -- scripted faults ---------------------------------------------------------------
    def throttle_next(self, n: int = 1) -> None:
        """The next ``n`` GraphQL requests find the bucket empty (another client drained it): THROTTLED."""
        self._push(*[Fault(throttle=True)] * n)

    def fail_next(self, status: int, retry_after: float | None = None, message: str | None = None) -> None:
        """Answer the next GraphQL request with ``status`` without executing it."""
        if status < 400:
            raise ValueError("fail_next is for error statuses")
        self._push(Fault(status=status, retry_after=retry_after, message=message or FAULT_MESSAGES.get(status)))

    def delay_next(self, seconds: float) -> None:
        """Execute the next GraphQL request, then wait ``seconds`` before answering."""
        self._push(Fault(delay=seconds))

    def expire_token(self, shop: str) -> None:
        with self._lock:
            self._shops[_shop_name(shop)].token_expired = True

    def revoke_scope(self, shop: str, scope: str) -> None:
        with self._lock:
            self._shops[_shop_name(shop)].scopes.discard(scope)

    def discounts(self, shop: str) -> list[StoredDiscount]:
        with self._lock:
            return list(self._shops[_shop_name(shop)].discounts.values())

    def count(self, operation: str) -> int:
        """Requests naming this root field (``discountCodeBasicCreate``...), failed ones included;
        ``oauth/access_token`` counts refresh requests."""
        with self._lock:
            return self._counts[operation]

    @property
    def throttled(self) -> int:
        """How many requests were answered THROTTLED (scripted or by the bucket)."""
        with self._lock:
            return self._throttled

    # -- request handling --------------------------------------------------------------
    def _handle(self, rq: Handler) -> None:
        raw = rq.rfile.read(int(rq.headers.get("Content-Length") or 0))
        name, (path, _, query) = _shop_from_host(rq.headers.get("Host")), rq.path.partition("?")
        with self._lock:
            shop = self._shops.get(name)
        match = GRAPHQL_PATH.match(path) if rq.command == "POST" else None
        if shop is not None and match:
            return self._graphql(rq, shop, match["version"], raw)
        if shop is not None and (rq.command, path) == ("POST", TOKEN_PATH):
            return self._token(rq, shop, raw)
        if shop is not None and (rq.command, path) == ("GET", AUTHORIZE_PATH):
            status, answer = self._authorize_answer(shop, dict(parse_qsl(query)))
            return _redirect(rq, answer) if status == 302 else _respond(rq, status, {"errors": answer})
        _respond(rq, 404, {"errors": "Not Found"})

    def _graphql(self, rq: Handler, shop: _Shop, version: str, raw: bytes) -> None:
        body = _json_object(raw)
        document, operation, errors = _read_operation(body)
        with self._lock:
            self._counts.update(_root_fields(operation))
            fault = self._next_fault() or Fault()
        if fault.status:
            return _respond(rq, fault.status, {"errors": fault.message}, fault.retry_after)
        if not self._authorized(shop, rq.headers.get("X-Shopify-Access-Token")):
            return _respond(rq, 401, UNAUTHORIZED)
        if errors is not None:
            return _respond(rq, 400 if document is None else 200, {"errors": errors})
        answer = self._execute(shop, version, document, operation, body, fault.throttle)
        if "data" in answer:
            self._pause(fault)
        _respond(rq, 200, answer)

    def _execute(self, shop: _Shop, version: str, document, operation, body: dict, drained: bool) -> dict:
        variables = body.get("variables") if isinstance(body.get("variables"), dict) else {}
        cost = _requested_cost(operation, variables)
        if cost > MAX_QUERY_COST:           # refused before the bucket is charged
            return {"errors": [{"message": f"Query cost is {cost}, which exceeds the single query max cost limit "
                                           f"({MAX_QUERY_COST}).", "extensions": {
                "code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST}}]}
        with self._lock:
            now = time.monotonic()
            if drained:
                shop.available, shop.seen = 0.0, now
            if shop.refill(now) < cost:      # not executed: the documented THROTTLED answer
                self._throttled += 1
                return {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                            "throttleStatus": shop.throttle_status()}}}
            shop.available -= cost
            result = execute(SCHEMA, document, root_value=self._resolvers(), variable_values=variables,
                             operation_name=body.get("operationName"),
                             context_value={"shop": shop, "version": version, "variables": variables})
            answer: dict[str, Any] = {"data": result.data}
            if result.errors:
                answer["errors"] = [error.formatted for error in result.errors]
            answer["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost,
                                             "throttleStatus": shop.throttle_status()}}
            return answer

    def _authorized(self, shop: _Shop, token: str | None) -> bool:
        with self._lock:
            if shop.token_expired or not token or not secrets.compare_digest(token, shop.access_token):
                return False
            shop.previous_refresh = None    # the app uses its new token: the old refresh token is spent
            return True

    def _token(self, rq: Handler, shop: _Shop, raw: bytes) -> None:
        form = _json_object(raw) or dict(parse_qsl(raw.decode("utf-8", "replace")))
        with self._lock:
            self._counts["oauth/access_token"] += 1
        status, answer = self._token_answer(shop, form)
        _respond(rq, status, answer)

    # -- resolvers (run under the lock) -----------------------------------------------
    def _resolvers(self) -> dict:
        return {"discountCodeBasicCreate": partial(self._create, "basicCodeDiscount", "DiscountCodeBasic"),
                "discountCodeFreeShippingCreate": partial(self._create, "freeShippingCodeDiscount",
                                                          "DiscountCodeFreeShipping"),
                "discountCodeDelete": self._delete, "codeDiscountNodeByCode": self._by_code,
                "orders": self._orders, "ordersCount": partial(self._count, "orders", orders_count),
                "abandonedCheckouts": self._checkouts,
                "abandonedCheckoutsCount": partial(self._count, "checkouts", checkouts_count),
                "webhookSubscriptions": self._list_subscriptions,
                "webhookSubscriptionCreate": self._create_subscription,
                "webhookSubscriptionDelete": self._delete_subscription}

    def _create(self, arg: str, typename: str, info, **args) -> dict:
        shop = _allowed(info, "write_discounts")
        given = args[arg]
        problems = _check_common(arg, given) + CHECKS[typename](arg, given)
        code = given.get("code") or ""
        if not problems and any(d.code.lower() == code.lower() for d in shop.discounts.values()):
            problems = [_problem([arg, "code"], "TAKEN", "Code must be unique. Please try a different code.")]
        if problems:
            return {"codeDiscountNode": None, "userErrors": problems}
        stored = StoredDiscount(f"gid://shopify/DiscountCodeNode/{next(self._ids)}", code, typename,
                                _as_sent(info, arg, given), info.context["version"])
        shop.discounts[stored.id] = stored
        return {"codeDiscountNode": _node(stored), "userErrors": []}

    def _by_code(self, info, code: str) -> dict | None:
        shop = _allowed(info, "read_discounts")
        return next((_node(d) for d in shop.discounts.values() if d.code.lower() == code.lower()), None)

    def _orders(self, info, **args) -> dict:
        shop = _allowed(info, "read_orders")
        shop.searches.append(args.get("query") or "")
        try:
            return orders_connection(list(shop.orders.values()), args)
        except ValueError as problem:       # first/last missing or out of range, a query that does not parse
            raise GraphQLError(str(problem)) from None

    def _checkouts(self, info, **args) -> dict:
        shop = _allowed(info, "read_orders")
        shop.searches.append(args.get("query") or "")
        try:
            return checkouts_connection(list(shop.checkouts.values()), args)
        except ValueError as problem:
            raise GraphQLError(str(problem)) from None

    def _count(self, records: str, count, info, **args) -> dict:
        shop = _allowed(info, "read_orders")
        try:
            return count(list(getattr(shop, records).values()), args)
        except ValueError as problem:
            raise GraphQLError(str(problem)) from None

    def _delete(self, info, id: str) -> dict:
        shop = _allowed(info, "write_discounts")
        if shop.discounts.pop(id, None) is None:
            return {"deletedCodeDiscountId": None,
                    "userErrors": [_problem(["id"], "INVALID", "Discount does not exist")]}
        return {"deletedCodeDiscountId": id, "userErrors": []}


# --- validation the way Shopify reports it: userErrors with field path, code, message --------

def _problem(path: list[str], code: str, message: str) -> dict:
    return {"field": path, "code": code, "message": message, "extraInfo": None}


def _check_common(arg: str, d: dict) -> list[dict]:
    problems = [_problem([arg, name], "BLANK", f"{label} can't be blank")
                for name, label in (("code", "Code"), ("title", "Title"), ("startsAt", "Starts at"))
                if not str(d.get(name) or "").strip()]
    if (d.get("context") is None) == (d.get("customerSelection") is None):
        problems.append(_problem([arg, "context"], "INVALID", "Provide exactly one of context or customerSelection"))
    context = d.get("context") or d.get("customerSelection") or {}
    if sum(context.get(key) not in (None, False) for key in ("all", "customers", "customerSegments")) > 1:
        problems.append(_problem([arg, "context"], "INVALID", "Choose one of all, customers or customerSegments"))
    if any(not CUSTOMER_GID.match(gid) for gid in ((context.get("customers") or {}).get("add") or [])):
        problems.append(_problem([arg, "context", "customers", "add"], "INVALID", "Customer does not exist"))
    starts, ends = _moment(d.get("startsAt") or ""), _moment(d.get("endsAt") or "")
    if starts and ends and ends <= starts:
        problems.append(_problem([arg, "endsAt"], "END_DATE_BEFORE_START_DATE", "Ends at needs to be after starts_at"))
    if d.get("usageLimit") is not None and d["usageLimit"] < 1:
        problems.append(_problem([arg, "usageLimit"], "GREATER_THAN", "Usage limit must be greater than 0"))
    minimum = d.get("minimumRequirement") or {}
    if minimum.get("quantity") and minimum.get("subtotal"):
        problems.append(_problem([arg, "minimumRequirement"], "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT",
                                 "Specify a minimum subtotal or a quantity, but not both"))
    subtotal = (minimum.get("subtotal") or {}).get("greaterThanOrEqualToSubtotal")
    if subtotal is not None and Decimal(subtotal) < 0:
        problems.append(_problem([arg, "minimumRequirement", "subtotal", "greaterThanOrEqualToSubtotal"],
                                 "GREATER_THAN_OR_EQUAL_TO", "Minimum subtotal must be at least 0"))
    return problems


def _check_basic(arg: str, d: dict) -> list[dict]:
    gets = d.get("customerGets")
    if not gets:
        return [_problem([arg, "customerGets"], "BLANK", "Customer gets can't be blank")]
    value, where = gets.get("value") or {}, [arg, "customerGets", "value"]
    given = [key for key in ("percentage", "discountAmount", "discountOnQuantity") if value.get(key) is not None]
    problems = [] if len(given) == 1 else [
        _problem(where, "INVALID", "Give exactly one of percentage, discountAmount or discountOnQuantity")]
    if value.get("percentage") is not None and not 0 < value["percentage"] <= 1:
        problems.append(_problem(where + ["percentage"], "VALUE_OUTSIDE_RANGE", "Value must be between 0.0 and 1.0"))
    if "discountAmount" in given and Decimal(value["discountAmount"].get("amount") or "0") <= 0:
        problems.append(_problem(where + ["discountAmount", "amount"], "GREATER_THAN", "Value must be greater than 0"))
    items = gets.get("items") or {}
    if not (items.get("all") or items.get("products") or items.get("collections")):
        problems.append(_problem([arg, "customerGets", "items"], "BLANK", "Items can't be blank"))
    return problems


def _check_free_shipping(arg: str, d: dict) -> list[dict]:
    problems = []
    destination = d.get("destination") or {}
    if not (destination.get("all") or (destination.get("countries") or {}).get("add")):
        problems.append(_problem([arg, "destination"], "BLANK", "Destination can't be blank"))
    if (d.get("combinesWith") or {}).get("shippingDiscounts"):
        problems.append(_problem([arg, "combinesWith", "shippingDiscounts"], "INVALID_COMBINES_WITH_FOR_DISCOUNT_CLASS",
                                 "A shipping discount can't combine with other shipping discounts"))
    return problems


CHECKS = {"DiscountCodeBasic": _check_basic, "DiscountCodeFreeShipping": _check_free_shipping}


# --- helpers ----------------------------------------------------------------------------------

def _allowed(info, scope: str) -> _Shop:
    shop = info.context["shop"]
    if not shop.allows(scope):
        raise GraphQLError(
            f"Access denied for {info.field_name} field. Required access: `{scope}` access scope.",
            extensions={"code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes",
                        "requiredAccess": f"`{scope}` access scope."})
    return shop


def _node(stored: StoredDiscount) -> dict:
    d, now = stored.input, datetime.now(UTC)
    starts, ends = _moment(d.get("startsAt") or ""), _moment(d.get("endsAt") or "")
    status = "SCHEDULED" if starts and starts > now else "EXPIRED" if ends and ends < now else "ACTIVE"
    return {"id": stored.id, "codeDiscount": {
        "__typename": stored.typename, "title": d.get("title"), "startsAt": d.get("startsAt"),
        "endsAt": d.get("endsAt"), "usageLimit": d.get("usageLimit"),
        "appliesOncePerCustomer": bool(d.get("appliesOncePerCustomer")), "asyncUsageCount": 0, "status": status}}


def _as_sent(info, arg: str, coerced: dict) -> dict:
    """The argument as the request carried it (a variable's raw JSON), not GraphQL's defaults-filled copy."""
    node = next((a.value for a in info.field_nodes[0].arguments if a.name.value == arg), None)
    if isinstance(node, VariableNode):
        return info.context["variables"].get(node.name.value, coerced)
    return coerced


def _read_operation(body: dict) -> tuple[Any, OperationDefinitionNode | None, list | None]:
    """(document, operation, errors): errors as Shopify answers them, None when the query is valid."""
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return None, None, {"query": "Required parameter missing or invalid"}      # Shopify answers 400
    try:
        document = parse(query)
    except GraphQLSyntaxError as error:
        return None, None, [error.formatted]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    wanted = body.get("operationName")
    operation = next((o for o in operations if wanted is None or (o.name and o.name.value == wanted)), None)
    problems = [error.formatted for error in validate(SCHEMA, document)]
    if operation is None and not problems:
        problems = [{"message": f"No operation named {wanted!r}"}]
    return document, operation, problems or None


def _requested_cost(operation: OperationDefinitionNode | None, variables: dict) -> int:
    """What Shopify charges before running a request: a mutation 10; in a query an object 1, a
    scalar or enum 0, a connection 2 + first (or last) x one node's cost.
    https://shopify.dev/docs/api/usage/limits#cost-calculation"""
    if operation is None or operation.operation != OperationType.QUERY:
        return COST.get(getattr(operation, "operation", None), 1)
    return max(1, _selection_cost(SCHEMA.query_type, operation.selection_set, variables))


def _selection_cost(parent, selection_set, variables: dict) -> int:
    total = 0
    for node in selection_set.selections:
        if isinstance(node, InlineFragmentNode):
            total += _selection_cost(SCHEMA.type_map[node.type_condition.name.value], node.selection_set, variables)
        elif isinstance(node, FieldNode) and node.selection_set is not None:
            named = get_named_type(parent.fields[node.name.value].type)
            inner = _selection_cost(named, node.selection_set, variables)
            if named.name.endswith("Connection"):
                total += 2 + _page_size(node, variables) * inner
            elif node.name.value == "edges" or named.name == "PageInfo":
                total += inner                  # edges and pageInfo cost nothing of their own
            else:
                total += 1 + inner
    return total


def _page_size(node: FieldNode, variables: dict) -> int:
    for argument in node.arguments:
        if argument.name.value in ("first", "last"):
            if isinstance(argument.value, IntValueNode):
                return int(argument.value.value)
            if isinstance(argument.value, VariableNode) and isinstance(variables.get(argument.value.name.value), int):
                return variables[argument.value.name.value]
    return 1


def _root_fields(operation: OperationDefinitionNode | None) -> list[str]:
    if operation is None:
        return []
    return [s.name.value for s in operation.selection_set.selections if hasattr(s, "name")]


def _shop_from_host(host: str | None) -> str | None:
    name = (host or "").split(":", 1)[0].lower()
    return name.removesuffix(".myshopify.com") if name.endswith(".myshopify.com") else None


def _customer_gid(customer_id: str | int | None) -> str | None:
    if customer_id is None or str(customer_id).startswith("gid://"):
        return customer_id
    return f"gid://shopify/Customer/{customer_id}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _shop_name(shop: str) -> str:
    return shop.lower().removesuffix(".myshopify.com")


def _json_object(raw: bytes) -> dict:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _redirect(rq: Handler, location: str) -> None:
    rq.close_connection = True
    rq.send_response(302)
    rq.send_header("Location", location)
    rq.send_header("Content-Length", "0")
    rq.send_header("Connection", "close")
    rq.end_headers()


def _respond(rq: Handler, status: int, payload: dict, retry_after: float | None = None) -> None:
    data = json.dumps(payload).encode()
    rq.close_connection = True
    try:
        rq.send_response(status)
        rq.send_header("Content-Type", "application/json; charset=utf-8")
        if retry_after is not None:
            rq.send_header("Retry-After", f"{retry_after:g}")
        rq.send_header("Content-Length", str(len(data)))
        rq.send_header("Connection", "close")
        rq.end_headers()
        rq.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass                                # the client stopped waiting (delay_next)


class _ToLocalServer(httpx.BaseTransport):
    """Sends ``https://<name>.myshopify.com/...`` to the local server over plain http; Host is kept
    (httpx set it from the original URL), which is how the server tells shops apart."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https" or not request.url.host.endswith(".myshopify.com"):
            raise httpx.ConnectError(f"the test server only serves *.myshopify.com, not {request.url.host}",
                                     request=request)
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
