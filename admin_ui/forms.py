"""Server-side form handling: what was typed is kept, and each bad field says why.

A page builds a ``Form`` from ``request.form`` (or from stored values on GET), checks it,
and on a problem re-renders with status 422 and ``form.errors`` filled: the template
macros in ``templates/admin/_forms.html`` show each reason next to its field and a
summary at the top, and keep the typed value in the input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Mapping


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, data: Mapping[str, object]) -> "Form":
        return cls({name: "" if value is None else str(value) for name, value in data.items()})

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def checked(self, name: str) -> bool:
        return self.values.get(name, "") in ("1", "on", "true", "True", "yes")

    def fail(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, reason)

    @property
    def ok(self) -> bool:
        return not self.errors

    def whole(self, name: str, *, low: int | None = None, high: int | None = None,
              required: bool = True) -> int | None:
        """The field as a whole number within bounds, or None with the reason recorded."""
        raw = self.get(name).strip()
        if not raw:
            if required:
                self.fail(name, "is required")
            return None
        try:
            number = int(raw)
        except ValueError:
            self.fail(name, f"must be a whole number, got {raw!r}")
            return None
        if low is not None and number < low or high is not None and number > high:
            bounds = f"between {low} and {high}" if low is not None and high is not None else (
                f"at least {low}" if low is not None else f"at most {high}")
            self.fail(name, f"must be {bounds}")
            return None
        return number

    def amount(self, name: str, *, required: bool = True) -> Decimal | None:
        raw = self.get(name).strip().replace(",", ".")
        if not raw:
            if required:
                self.fail(name, "is required")
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            self.fail(name, f"must be a number, got {self.get(name)!r}")
            return None
        if not value.is_finite() or value < 0:
            self.fail(name, "must be a positive number")
            return None
        return value


def form_from_request(names: list[str] | None = None) -> Form:
    from flask import request
    data = request.form
    keys = names if names is not None else [k for k in data if k not in ("csrf_token",)]
    return Form({name: data.get(name, "") for name in keys})
