"""The Sequence page: the idle threshold, the reminder steps with their discount codes, and
the shop's two discount settings (send without a code when the platform refuses one; the
"code expires soon" reminder), with the whole sequence summed up in one sentence on top.

"Add a step" and "Remove" post the form back and re-render it with one step more or less,
unsaved, so the page needs no JavaScript. Save builds the agency config file's dict from
the form and lets ``bridge.config_file.parse_config`` judge it: the same rules as
``cartbridge config import``, reported as paths (``steps[1].delay_minutes``) that are
mapped back to form fields (``step2_delay``). Whole numbers are read here first, and a
mistyped one is replaced by a harmless stand-in: ``parse_config`` drops a step whose delay
does not parse, which would shift the index of every later step's errors.
Saving goes through ``save_sequence``: waiting reminders of a step that was removed or
turned off are cancelled at once; the others keep their planned times (they are re-timed
on the cart's next activity); codes follow the step's new settings.
"""
from __future__ import annotations

import logging
import re
from decimal import Decimal

from flask import request

from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer
from admin_ui.forms import Form, form_from_request
from admin_ui.pages import redirect_to, render_page
from bridge.config_file import ConfigError, ShopConfig, parse_config
from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from bridge.discounts import DiscountKind
from bridge.rules import SequenceSettings
from bridge.sequence_summary import humanize_minutes, summarize
from bridge.services.shops import save_sequence, sequence_of

log = logging.getLogger(__name__)
MAX_STEPS = 10
STEP_FIELDS = ("delay", "channel", "enabled", "discount", "value", "valid_hours", "minimum", "new_only", "prefix")
NEW_STEP = {"delay": "", "channel": "email", "enabled": "1", "discount": "none", "value": "", "valid_hours": "72",
            "minimum": "", "new_only": "", "prefix": "CB-"}
# Where parse_config's paths inside one step land on the form.
STEP_PATHS = {"delay_minutes": "delay", "channel": "channel", "enabled": "enabled", "discount": "discount",
              "discount.type": "discount", "discount.value": "value", "discount.valid_hours": "valid_hours",
              "discount.minimum_subtotal": "minimum", "discount.new_customers_only": "new_only",
              "discount.code_prefix": "prefix"}
STEP_PATH = re.compile(r"^steps\[(\d+)\]\.?(.*)$")
KIND_OPTIONS = [("none", "No code"), (DiscountKind.PERCENTAGE.value, "Percentage off"),
                (DiscountKind.FIXED_AMOUNT.value, "Fixed amount off"),
                (DiscountKind.FREE_SHIPPING.value, "Free shipping")]
CHANNEL_OPTIONS = [("email", "Email")]


@blueprint.route("/shops/<int:shop_id>/sequence", methods=["GET", "POST"])
def sequence(shop_id: int):
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        stored = sequence_of(db, shop)
    if request.method == "GET":
        return _page(shop, stored, form_of(stored, shop))
    form = form_from_request()
    action = request.form.get("action", "save")
    if action == "add" or action.startswith("remove:"):
        return _page(shop, stored, reshaped(form, action))
    config = config_from(form)
    if config is None or not form.ok:
        return _page(shop, stored, form, status=422)
    with unit_of_work(runtime().sessions) as db:
        shop = shop_for_viewer(db, shop_id)
        for name, value in config.shop_fields.items():
            setattr(shop, name, value)
        save_sequence(db, shop, config.sequence, runtime().now())
    log.info("sequence saved", extra={"shop_id": shop_id, "code": "sequence_saved",
                                      "count": len(config.sequence.steps)})
    return redirect_to("admin.sequence", notice="saved", shop_id=shop_id)


def _page(shop: Shop, stored: SequenceSettings, form: Form, status: int = 200):
    count = step_count(form)
    return render_page("admin/sequence.html", shop=shop, active="sequence", status=status, form=form,
                       summary=summarize(stored), steps=range(1, count + 1), can_add=count < MAX_STEPS,
                       idle_help=_after(form, "idle_minutes", "A quiet cart with an email counts as abandoned"),
                       delay_help={n: _after(form, f"step{n}_delay", "Sent") for n in range(1, count + 1)},
                       kinds=KIND_OPTIONS, channels=CHANNEL_OPTIONS)


def _after(form: Form, name: str, lead: str) -> str:
    """The help under a minutes field: what the typed number means, humanized."""
    raw = form.get(name).strip()
    if raw.isdigit():
        return f"{lead} {humanize_minutes(int(raw))} after the customer left."
    return "Minutes after the customer left the checkout."


def form_of(stored: SequenceSettings, shop: Shop) -> Form:
    values = {"idle_minutes": stored.abandon_after_minutes, "step_count": len(stored.steps),
              "send_without_discount": "1" if shop.send_without_discount else "",
              "expiry_reminder_hours": shop.expiry_reminder_hours}
    for n, step in enumerate(stored.steps, 1):
        d = step.discount
        shown = {"delay": step.delay_minutes, "channel": step.channel, "enabled": "1" if step.enabled else "",
                 "discount": d.kind.value, "value": _plain(d.value) if d.kind in _VALUED else "",
                 "valid_hours": d.valid_hours, "minimum": _plain(d.minimum_subtotal),
                 "new_only": "1" if d.new_customers_only else "", "prefix": d.code_prefix}
        values.update({f"step{n}_{key}": value for key, value in shown.items()})
    return Form.of(values)


_VALUED = (DiscountKind.PERCENTAGE, DiscountKind.FIXED_AMOUNT)


def _plain(amount: Decimal | None) -> str:
    """10.0000 (PostgreSQL's Numeric(18, 4)) reads 10; 4.5 stays 4.5."""
    if amount is None:
        return ""
    return str(amount.quantize(Decimal(1))) if amount == amount.to_integral() else str(amount.normalize())


def step_count(form: Form) -> int:
    raw = form.get("step_count").strip()
    return min(max(int(raw), 1), MAX_STEPS) if raw.isdigit() else 1


def reshaped(form: Form, action: str) -> Form:
    """The form with one empty step more, or step N taken out (later steps move up)."""
    count = step_count(form)
    values = dict(form.values)
    if action == "add" and count < MAX_STEPS:
        values.update({f"step{count + 1}_{key}": value for key, value in NEW_STEP.items()})
        count += 1
    gone = action.removeprefix("remove:")
    if gone.isdigit() and count > 1 and 1 <= int(gone) <= count:
        for n in range(int(gone), count):
            values.update({f"step{n}_{key}": values.get(f"step{n + 1}_{key}", "") for key in STEP_FIELDS})
        for key in STEP_FIELDS:
            values.pop(f"step{count}_{key}", None)
        count -= 1
    values["step_count"] = str(count)
    return Form(values)


def config_from(form: Form) -> ShopConfig | None:
    """The config dict built from the form, judged by ``parse_config``; errors land on ``form``."""
    idle = form.whole("idle_minutes")
    steps, previous = [], 0
    for n in range(1, step_count(form) + 1):
        delay = form.whole(f"step{n}_delay")
        # A mistyped delay stands in as the previous step's: no made-up "delays decrease" error.
        previous = delay if delay is not None else previous
        steps.append({"delay_minutes": previous, "channel": form.get(f"step{n}_channel", "email"),
                      "enabled": form.checked(f"step{n}_enabled"), "discount": _discount(form, n)})
    data = {"abandon_after_minutes": 0 if idle is None else idle, "steps": steps,
            "send_without_discount": form.checked("send_without_discount"),
            "expiry_reminder_hours": form.whole("expiry_reminder_hours", required=False)}
    try:
        return parse_config(data)
    except ConfigError as error:
        for path, reason in error.errors:
            form.fail(field_of(path), reason.replace("or null (off)", "or empty (off)"))
        return None


def _discount(form: Form, n: int) -> dict:
    kind = form.get(f"step{n}_discount", "none")
    if kind == DiscountKind.NONE.value:
        return {"type": kind}
    hours = form.whole(f"step{n}_valid_hours")
    raw = {"type": kind, "valid_hours": 72 if hours is None else hours,
           "new_customers_only": form.checked(f"step{n}_new_only"),
           "code_prefix": form.get(f"step{n}_prefix").strip(),
           "minimum_subtotal": _decimal_text(form, f"step{n}_minimum")}
    if kind != DiscountKind.FREE_SHIPPING.value:      # free shipping has no value to read
        raw["value"] = _decimal_text(form, f"step{n}_value")
    return raw


def _decimal_text(form: Form, name: str) -> str | None:
    # parse_discount reads exact decimals from text; a decimal comma is how half the world types.
    raw = form.get(name).strip().replace(",", ".")
    return raw or None


def field_of(path: str) -> str:
    """``steps[1].discount.value`` -> ``step2_value``; shop-level names stay as they are."""
    if path == "abandon_after_minutes":
        return "idle_minutes"
    found = STEP_PATH.match(path)
    if found is None:
        return path
    return f"step{int(found.group(1)) + 1}_{STEP_PATHS.get(found.group(2), 'delay')}"
