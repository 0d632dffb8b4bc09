"""The Dashboard: one shop's recovery figures for the last 7, 30 or 90 days.

Figure cards (abandoned, reminded, recovered, revenue, rate), a daily chart of abandoned
against recovered carts (an inline SVG from ``admin_ui.charts``, with the same numbers as
a table for screen readers), and the funnel per reminder step. The figures come from
``bridge.services.stats``; this module only formats them: money in the shop's language
with Babel, days in English like the rest of the page.
"""
from __future__ import annotations

from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import request
from markupsafe import Markup

from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer
from admin_ui.charts import daily_bars
from admin_ui.pages import render_page
from bridge.discounts import EXPIRY_STEP_OFFSET
from bridge.money import format_money, format_percent, parse_locale
from bridge.services.stats import PERIODS, period_days, shop_stats

ADMIN_LOCALE = "en"


@blueprint.route("/shops/<int:shop_id>/")
def dashboard(shop_id: int):
    days = period_days(request.args.get("days"))
    rt = runtime()
    with rt.sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        stats = shop_stats(db, shop, rt.now(), days)
        locale = shop.language or ADMIN_LOCALE
        timezone = shop.timezone or "UTC"
    series = [(format_date(day, "d MMM", locale=ADMIN_LOCALE), a, r) for day, a, r in stats.series]
    chart = daily_bars(series, title="Abandoned and recovered carts per day")
    return render_page("admin/dashboard.html", shop=shop, active="dashboard", days=days, periods=PERIODS,
                       cards=figure_cards(stats, locale), chart=Markup(chart), series=series,
                       funnel=funnel_rows(stats.funnel, locale), timezone=timezone)


def figure_cards(stats, locale: str) -> list[tuple[str, str]]:
    return [("Carts abandoned", count(stats.abandoned, locale)),
            ("Reminded", count(stats.reminded, locale)),
            ("Recovered", count(stats.recovered, locale)),
            ("Recovered revenue", money_list(stats.revenue, locale)),
            ("Recovery rate", rate_text(stats.rate, locale))]


def funnel_rows(funnel, locale: str) -> list[dict]:
    return [dict(step=step_label(f.position), sent=count(f.sent, locale), delivered=count(f.delivered, locale),
                 opened=count(f.opened, locale), clicked=count(f.clicked, locale),
                 ordered=count(f.ordered, locale), revenue=money_list(f.revenue, locale),
                 per_recipient=money_list(f.revenue_per_recipient(), locale))
            for f in funnel]


def step_label(position: int) -> str:
    if position > EXPIRY_STEP_OFFSET:
        return f"Code expiry notice (step {position - EXPIRY_STEP_OFFSET})"
    return f"Step {position}"


def count(value: int, locale: str) -> str:
    return format_decimal(value, locale=parse_locale(locale))


def money_list(amounts, locale: str) -> str:
    """Each currency's amount, largest first ("$98.00 · €12.00"); "0" when there is none."""
    if not amounts:
        return "0"
    return " · ".join(format_money(amount, currency, locale) for currency, amount in amounts)


def rate_text(rate: Decimal | None, locale: str) -> str:
    return "—" if rate is None else format_percent(rate, locale)
