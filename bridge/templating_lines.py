"""Where in a template a Liquid error is, when Liquid itself does not say (pure).

Liquid reports no line for the two most common slips: a block left open (``{% if %}``
without ``{% endif %}``) and an expression cut short (``{{ cart.total | }}``): its token is
the end of the input. ``locate`` finds the tag that caused it, so the merchant (admin page,
``config import``) is still told where to look.
"""
from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from bridge.templating_sandbox import PLAIN_ENVIRONMENT

if TYPE_CHECKING:
    from bridge.templating import TemplateProblem

_MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_TAG_NAME = re.compile(r"\{%-?\s*(\w+)")


def locate(problem: "TemplateProblem", source: str) -> "TemplateProblem":
    """The problem with a line wherever one can be found."""
    if problem.line is not None:
        return problem
    unclosed = re.match(r"expected tag end(\w+)", problem.message)
    line = _open_block_line(source, unclosed.group(1)) if unclosed else _failing_markup_line(source, problem.message)
    return dataclasses.replace(problem, line=line)


def _open_block_line(source: str, name: str) -> int | None:
    opened: list[int] = []
    for match in _TAG_NAME.finditer(source):
        if match.group(1) == name:
            opened.append(_line_at(source, match.start()))
        elif match.group(1) == f"end{name}" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _failing_markup_line(source: str, message: str) -> int | None:
    """The first ``{{ }}`` or ``{% %}`` that fails on its own with the same message."""
    for match in _MARKUP.finditer(source):
        try:
            PLAIN_ENVIRONMENT.from_string(match.group(0))
        except Exception as err:  # noqa: BLE001  (any parse failure; only a matching one counts)
            if getattr(err, "message", None) == message:
                return _line_at(source, match.start())
    return None


def _line_at(source: str, index: int) -> int:
    return source.count("\n", 0, index) + 1
