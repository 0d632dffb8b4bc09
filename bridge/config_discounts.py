"""The ``discount`` object of a step in the agency config file: parsed and written, purely.

``{"type": "percentage", "value": "10", "valid_hours": 72, "minimum_subtotal": null,
"new_customers_only": false, "code_prefix": "CB-"}``; ``null`` or ``{"type": "none"}``
for a plain reminder. Amounts are strings (exact decimals; numbers are accepted too).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bridge.discounts import NO_DISCOUNT, DiscountKind, DiscountSetting

Errors = list[tuple[str, str]]
KINDS = ", ".join(k.value for k in DiscountKind)


def discount_to_json(setting: DiscountSetting) -> dict | None:
    if not setting.active:
        return None
    return {"type": setting.kind.value, "value": str(setting.value), "valid_hours": setting.valid_hours,
            "minimum_subtotal": None if setting.minimum_subtotal is None else str(setting.minimum_subtotal),
            "new_customers_only": setting.new_customers_only, "code_prefix": setting.code_prefix}


def parse_discount(raw, where: str, errors: Errors) -> DiscountSetting:
    """The step's discount; problems are appended to ``errors`` as (field, reason)."""
    if raw is None:
        return NO_DISCOUNT
    if not isinstance(raw, dict):
        errors.append((where, "must be an object or null"))
        return NO_DISCOUNT
    try:
        kind = DiscountKind(raw.get("type", "none"))
    except ValueError:
        errors.append((f"{where}.type", f"must be one of {KINDS}"))
        return NO_DISCOUNT
    if kind == DiscountKind.NONE:
        return NO_DISCOUNT
    value = _amount(raw, "value", where, errors, required=kind != DiscountKind.FREE_SHIPPING)
    hours = raw.get("valid_hours", 72)
    if isinstance(hours, bool) or not isinstance(hours, int):
        errors.append((f"{where}.valid_hours", f"must be a whole number of hours, got {hours!r}"))
        hours = 72
    flag = raw.get("new_customers_only", False)
    if not isinstance(flag, bool):
        errors.append((f"{where}.new_customers_only", "must be true or false"))
    prefix = raw.get("code_prefix", "CB-")
    if not isinstance(prefix, str):
        errors.append((f"{where}.code_prefix", "must be text"))
        prefix = "CB-"
    return DiscountSetting(kind, value or Decimal("0"), hours, _amount(raw, "minimum_subtotal", where, errors),
                           flag is True, prefix.upper())


def _amount(raw: dict, name: str, where: str, errors: Errors, *, required: bool = False) -> Decimal | None:
    value = raw.get(name)
    if value is None:
        if required:
            errors.append((f"{where}.{name}", "is required"))
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors.append((f"{where}.{name}", f"must be a decimal number such as \"10\" or \"4.99\", got {value!r}"))
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        errors.append((f"{where}.{name}", f"must be a decimal number such as \"10\" or \"4.99\", got {value!r}"))
        return None
    if not amount.is_finite():
        errors.append((f"{where}.{name}", "must be a finite number"))
        return None
    return amount
