"""The agency's Shops list: every shop the viewer may manage, with its key figures for the
last 30 days side by side (from ``bridge.services.stats.shop_summaries``), each linking
to the shop's dashboard.
"""
from __future__ import annotations

from admin_ui import blueprint
from admin_ui.access import runtime, visible_shops
from admin_ui.dashboard import count, money_list, rate_text
from admin_ui.pages import render_page
from bridge.money import format_datetime_local
from bridge.services.stats import DEFAULT_DAYS, shop_summaries

ADMIN_LOCALE = "en"


@blueprint.route("/shops")
def shops():
    rt = runtime()
    with rt.sessions() as db:
        rows = visible_shops(db)
        summaries = shop_summaries(db, [s.id for s in rows], rt.now(), DEFAULT_DAYS)
    return render_page("admin/shops.html", title="Shops", days=DEFAULT_DAYS,
                       shops=[shop_row(shop, summaries.get(shop.id)) for shop in rows])


def shop_row(shop, summary) -> dict:
    locale = shop.language or ADMIN_LOCALE
    last = summary.last_webhook_at if summary else None
    return dict(id=shop.id, name=shop.name, domain=shop.domain, platform=shop.platform, status=shop.status,
                abandoned=count(summary.abandoned if summary else 0, locale),
                recovered=count(summary.recovered if summary else 0, locale),
                revenue=money_list(summary.revenue if summary else (), locale),
                rate=rate_text(summary.rate if summary else None, locale),
                last_webhook=format_datetime_local(last, ADMIN_LOCALE, shop.timezone or "UTC") if last else "never")
