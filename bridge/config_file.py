"""The shop config file agencies copy between clients: parsed and validated, purely.

Every problem is reported as (field, reason) — all of them at once, so a person fixing
a file sees everything wrong in one go — and nothing is applied unless all is well.
"""
from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.config_discounts import parse_discount
from bridge.discounts import EXPIRY_TEMPLATE_STEP
from bridge.manners import validate_manners
from bridge.rules import SequenceSettings, StepSetting, validate_sequence
from bridge.templating import SUPPORTED_LANGUAGES, TemplateSource, check_template

Errors = list[tuple[str, str]]


class ConfigError(ValueError):
    """Config rejected; ``errors`` is a list of (field, reason)."""

    def __init__(self, errors: Errors):
        super().__init__("; ".join(f"{f}: {r}" for f, r in errors))
        self.errors = errors


@dataclass(frozen=True)
class TemplateSetting:
    step: int
    language: str
    source: TemplateSource


@dataclass(frozen=True)
class ShopConfig:
    sequence: SequenceSettings
    shop_fields: dict
    templates: tuple[TemplateSetting, ...]


def parse_config(data) -> ShopConfig:
    if not isinstance(data, dict):
        raise ConfigError([("", "must be a JSON object")])
    errors: Errors = []
    abandon = _whole(data, "abandon_after_minutes", errors, required=True)
    steps = _steps(data.get("steps"), errors)
    sequence = SequenceSettings(abandon if abandon is not None else 0, steps)
    if abandon is not None and steps:
        errors += validate_sequence(sequence)
    fields = check_shop_fields(data, errors)
    templates = _templates(data.get("templates", []), len(steps), errors)
    if errors:
        # One reason per field: a value that did not parse is not also reported as out of range.
        first: dict[str, str] = {}
        for field, reason in errors:
            first.setdefault(field, reason)
        raise ConfigError(list(first.items()))
    return ShopConfig(sequence, fields, templates)


def _whole(data: dict, name: str, errors: Errors, *, required: bool = False, field: str | None = None):
    field = field or name
    if name not in data:
        if required:
            errors.append((field, "is required"))
        return None
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append((field, f"must be a whole number of minutes, got {value!r}"))
        return None
    return value


def _steps(raw, errors: Errors) -> tuple[StepSetting, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(("steps", "is required: a list of steps, each with delay_minutes"))
        return ()
    steps = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors.append((f"steps[{index}]", "must be an object"))
            continue
        delay = _whole(item, "delay_minutes", errors, required=True, field=f"steps[{index}].delay_minutes")
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            errors.append((f"steps[{index}].enabled", "must be true or false"))
        discount = parse_discount(item.get("discount"), f"steps[{index}].discount", errors)
        if delay is not None:
            steps.append(StepSetting(index + 1, delay, item.get("channel", "email"), enabled is not False, discount))
    return tuple(steps)


def check_shop_fields(data: dict, errors: Errors) -> dict:
    fields = {}
    for name, check in _FIELD_CHECKS.items():
        if name in data:
            reason = check(data[name])
            if reason:
                errors.append((name, reason))
            else:
                fields[name] = data[name]
    return fields


def _timezone(value) -> str | None:
    try:
        ZoneInfo(value)
        return None
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return f"must be an IANA time zone such as Europe/Kyiv, got {value!r}"


def _optional_text(limit: int):
    def check(value) -> str | None:
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"must be text of at most {limit} characters, or null"
        return None
    return check


MANNER_FIELDS = ("consent_policy", "frequency_cap_hours", "quiet_hours_start", "quiet_hours_end",
                 "reentry_cooldown_days", "open_order_check")


def _manner(name: str):
    def check(value) -> str | None:
        if value is None:
            return "must not be null"
        return next((reason for _, reason in validate_manners({name: value})), None)
    return check


_FIELD_CHECKS = {
    "language": lambda v: None if v in SUPPORTED_LANGUAGES else f"must be one of {', '.join(SUPPORTED_LANGUAGES)}",
    "timezone": _timezone,
    "sender_name": _optional_text(255),
    "sender_email": lambda v: _optional_text(320)(v) or (
        None if v is None or "@" in v else "must be an email address, or null"),
    "order_match_window_minutes": lambda v: None if isinstance(v, int) and not isinstance(v, bool)
    and 0 <= v <= 90 * 24 * 60 else "must be a whole number of minutes between 0 and 129600",
    "send_without_discount": lambda v: None if isinstance(v, bool) else "must be true or false",
    "expiry_reminder_hours": lambda v: None if v is None or (isinstance(v, int) and not isinstance(v, bool)
                                                             and 1 <= v <= 24 * 30)
    else "must be a whole number of hours between 1 and 720, or null (off)",
    **{name: _manner(name) for name in MANNER_FIELDS},
}


def _templates(raw, step_count: int, errors: Errors) -> tuple[TemplateSetting, ...]:
    if not isinstance(raw, list):
        errors.append(("templates", "must be a list"))
        return ()
    found = []
    for index, item in enumerate(raw):
        where = f"templates[{index}]"
        if not isinstance(item, dict):
            errors.append((where, "must be an object"))
            continue
        missing = [k for k in ("step", "language", "subject", "html", "text")
                   if k not in item or (k != "step" and not isinstance(item[k], str))]
        errors.extend((f"{where}.{k}", "is required") for k in missing)
        if missing:
            continue
        if item["language"] not in SUPPORTED_LANGUAGES:
            errors.append((f"{where}.language", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}"))
        if not isinstance(item["step"], int) or not (1 <= item["step"] <= max(step_count, 1)
                                                     or item["step"] == EXPIRY_TEMPLATE_STEP):
            errors.append((f"{where}.step", f"must be a step number from 1 to {max(step_count, 1)}, "
                                            f"or {EXPIRY_TEMPLATE_STEP} (code expires soon)"))
        source = TemplateSource(item["subject"], item["html"], item["text"])
        errors.extend((f"{where}.{p.field}", f"line {p.line}: {p.message}" if p.line else p.message)
                      for p in check_template(source))
        found.append(TemplateSetting(item["step"], item["language"], source))
    return tuple(found)
