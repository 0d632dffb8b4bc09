"""Reminder messages: pick the language, pick the template, render it safely.

The worker calls ``render_reminder`` for every due step; the admin page calls
``check_template`` before saving a merchant's override and ``default_template`` to
show the starting point. Templates are Liquid (what Shopify merchants already
write) and run in the sandbox of ``bridge.templating_sandbox``. Default templates
live as files in ``bridge/templates_default/<language>/step<N>.<field>.liquid``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from bridge.discounts import EXPIRY_STEP_OFFSET, DiscountOffer
from bridge.model import CartSnapshot
from bridge.templating_context import sample_cart, sample_discount, template_variables
from bridge.templating_lines import locate
from bridge.templating_sandbox import error_line, error_message, render_source

SUPPORTED_LANGUAGES = ("en", "ru", "uk", "bg", "kk")
FALLBACK_LANGUAGE = "en"
LAST_DEFAULT_STEP = 3
FIELDS = ("subject", "html", "text")

# Country codes that storefronts misconfigure as language codes ("ua" is Ukraine,
# the language is "uk"; "kz" is Kazakhstan, the language is "kk").
_LANGUAGE_ALIASES = {"ua": "uk", "kz": "kk"}


@dataclass(frozen=True)
class TemplateSource:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str
    language: str
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class TemplateProblem:
    field: str          # "subject" | "html" | "text"
    line: int | None    # 1-based line in that field's source, when known
    message: str


class TemplateRenderError(Exception):
    """A template failed to parse or render; says which field, where and why."""

    def __init__(self, field: str, line: int | None, message: str):
        where = f"{field} line {line}" if line is not None else field
        super().__init__(f"{where}: {message}")
        self.field = field
        self.line = line
        self.message = message


def _language_of(tag: str | None) -> str | None:
    primary = re.split(r"[-_]", (tag or "").strip().lower(), maxsplit=1)[0]
    primary = _LANGUAGE_ALIASES.get(primary, primary)
    return primary if primary in SUPPORTED_LANGUAGES else None


def choose_language(customer_locale: str | None, shop_language: str | None) -> str:
    """The customer's language when we have templates for it, else the shop's, else English."""
    return _language_of(customer_locale) or _language_of(shop_language) or FALLBACK_LANGUAGE


@lru_cache(maxsize=64)
def default_template(step: int, language: str) -> TemplateSource:
    """The shipped template for ``step`` in ``language``; steps past 3 reuse the last one.

    Positions from ``EXPIRY_STEP_OFFSET`` (100) up are "your code expires soon"
    reminders, which share the ``expiring`` template.
    """
    if step < 1:
        raise ValueError(f"reminder steps start at 1, got {step}")
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"no default templates for language {language!r}")
    folder = resources.files("bridge") / "templates_default" / language
    name = "expiring" if step >= EXPIRY_STEP_OFFSET else f"step{min(step, LAST_DEFAULT_STEP)}"
    texts = [(folder / f"{name}.{field}.liquid").read_text(encoding="utf-8") for field in FIELDS]
    return TemplateSource(*texts)


def _render_field(field: str, source: str, variables: dict[str, object]) -> str:
    try:
        return render_source(source, field == "html", variables)
    except Exception as err:  # noqa: BLE001
        # Merchant templates are untrusted code: whatever goes wrong inside one
        # (syntax, limits, a filter choking on a value) is that template's failure,
        # reported with its field and line, never a bare library exception.
        raise TemplateRenderError(field, error_line(err), error_message(err)) from err


def _one_line(subject: str) -> str:
    # Only ASCII whitespace: money contains no-break spaces that must survive.
    return re.sub(r"[ \t\r\n]+", " ", subject).strip()


def _tidy_text(text: str) -> str:
    # Liquid tags leave blank lines and trailing spaces behind; readers should not see them.
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _render_all(source: TemplateSource, variables: dict[str, object], language: str) -> RenderedMessage:
    return RenderedMessage(
        subject=_one_line(_render_field("subject", source.subject, variables)),
        html=_render_field("html", source.html, variables).strip() + "\n",
        text=_tidy_text(_render_field("text", source.text, variables)),
        language=language,
    )


def render_reminder(
    cart: CartSnapshot,
    *,
    step: int,
    shop_name: str,
    shop_language: str | None,
    recovery_url: str | None,
    unsubscribe_url: str | None = None,
    override: TemplateSource | None = None,
    tz_name: str = "UTC",
    discount: DiscountOffer | None = None,
) -> RenderedMessage:
    """Render reminder ``step`` for ``cart``: the merchant's override or our default.

    Raises ``TemplateRenderError`` when the template cannot be rendered; the caller
    decides whether to fall back to the default or to hold the step.
    """
    language = choose_language(cart.locale, shop_language)
    source = override if override is not None else default_template(step, language)
    variables = template_variables(
        cart, step=step, language=language, shop_name=shop_name,
        recovery_url=recovery_url, unsubscribe_url=unsubscribe_url, tz_name=tz_name, discount=discount,
    )
    return _render_all(source, variables, language)


def check_template(source: TemplateSource, language: str = FALLBACK_LANGUAGE) -> list[TemplateProblem]:
    """Every problem in ``source``, per field: syntax errors and trial-render failures.

    Each field is rendered against a realistic sample cart, so errors that Liquid
    only finds at render time (an unknown filter, a runaway loop) show up when the
    merchant saves, not when the first customer should get the email.
    """
    variables = template_variables(
        sample_cart(), step=1, language=language, shop_name="Sample Shop",
        recovery_url=None, unsubscribe_url="https://example.com/unsubscribe", tz_name="UTC",
        discount=sample_discount(),
    )
    problems = []
    for field in FIELDS:
        try:
            _render_field(field, getattr(source, field), variables)
        except TemplateRenderError as err:
            problems.append(locate(TemplateProblem(err.field, err.line, err.message), getattr(source, field)))
    return problems
