"""The Templates page: each reminder's subject, HTML and plain text per language, in Liquid.

The list shows, per step of the shop's sequence (and the "code expires soon" reminder when
the shop sends one) and per language, whether the shop uses our default or its own
override. The editor saves an override only when ``check_template`` finds no problem (each
problem is shown next to its field as "line N: message"), resets to the default, previews
with the shop's most recent real cart, and sends a test (``services.template_preview``).
The preview is rendered on the server on every page (works without JavaScript);
``static/editor.js`` refreshes it while the merchant types, through ``templates_preview``.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import abort, jsonify, request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer
from admin_ui.forms import Form
from admin_ui.pages import redirect_to, render_page
from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop, Template
from bridge.discounts import EXPIRY_TEMPLATE_STEP
from bridge.services.shops import sequence_of
from bridge.services.template_preview import (PREVIEW_UNSUBSCRIBE_URL, preview, preview_cart, preview_discount,
                                              send_test)
from bridge.templating import FIELDS, SUPPORTED_LANGUAGES, TemplateSource, check_template, default_template
from bridge.templating_context import sample_cart, sample_discount, template_variables

LANGUAGES = {"en": "English", "ru": "Russian", "uk": "Ukrainian", "bg": "Bulgarian", "kk": "Kazakh"}
FIELD_LABELS = {"subject": "Subject", "html": "HTML", "text": "Plain text"}
MAX_FIELD_CHARS = 200_000   # a real reminder is ~20 KB; this keeps a paste accident small


@blueprint.route("/shops/<int:shop_id>/templates")
def templates(shop_id: int):
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        edited = {(t.step, t.language): t.updated_at
                  for t in db.scalars(select(Template).where(Template.shop_id == shop.id))}
        rows = [(step, label, [(lang, _day(edited.get((step, lang)), shop)) for lang in SUPPORTED_LANGUAGES])
                for step, label in template_steps(db, shop)]
    return render_page("admin/templates.html", shop=shop, active="templates", title="Templates", rows=rows,
                       languages=[(code, LANGUAGES[code]) for code in SUPPORTED_LANGUAGES])


@blueprint.route("/shops/<int:shop_id>/templates/<int:step>/<language>", methods=["GET", "POST"])
def templates_edit(shop_id: int, step: int, language: str):
    if request.method == "POST":
        return _save(shop_id, step, language)
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        _check_target(db, shop, step, language)
        row = _override(db, shop.id, step, language)
        source = TemplateSource(row.subject, row.html, row.text) if row else default_template(step, language)
    return _page(shop_id, step, language, Form.of({f: getattr(source, f) for f in FIELDS}))


@blueprint.route("/shops/<int:shop_id>/templates/<int:step>/<language>/reset", methods=["POST"])
def templates_reset(shop_id: int, step: int, language: str):
    with unit_of_work(runtime().sessions) as db:
        shop = shop_for_viewer(db, shop_id)
        _check_target(db, shop, step, language)
        db.execute(delete(Template).where(Template.shop_id == shop.id, Template.step == step,
                                          Template.language == language))
    return redirect_to("admin.templates_edit", notice="reset", shop_id=shop_id, step=step, language=language)


@blueprint.route("/shops/<int:shop_id>/templates/<int:step>/<language>/test", methods=["POST"])
def templates_test(shop_id: int, step: int, language: str):
    form = _typed(request.form)
    form.values["test_address"] = request.form.get("test_address", "")
    with runtime().sessions() as db:
        _check_target(db, shop_for_viewer(db, shop_id), step, language)
    if not form.ok:
        return _page(shop_id, step, language, form, status=422)
    settings = runtime().settings
    result = send_test(runtime().sessions, shop_id, _source(form), step, language, form.get("test_address"),
                       channel=_test_channel(), mail_from=settings.mail_from, now=runtime().now())
    if result.reason:
        form.fail("test_address", result.reason)
    return _page(shop_id, step, language, form, status=200 if result.ok else 422, sent=result.ok)


@blueprint.route("/shops/<int:shop_id>/templates/<int:step>/<language>/preview", methods=["POST"])
def templates_preview(shop_id: int, step: int, language: str):
    """JSON for the live preview: the three fields in (form-encoded or JSON), the result out."""
    form = _typed(request.get_json(silent=True) if request.is_json else request.form)
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        _check_target(db, shop, step, language)
        result, _label = _preview(db, shop, step, language, _source(form))
    problems = [{"field": p.field, "line": p.line, "message": p.message} for p in result.problems]
    problems += [{"field": name, "line": None, "message": reason} for name, reason in form.errors.items()]
    return jsonify(subject=result.subject, html=result.html, text=result.text, problems=problems)


def _save(shop_id: int, step: int, language: str):
    form = _typed(request.form)
    source = _source(form)
    if not form.ok or check_template(source, language):
        return _page(shop_id, step, language, form, status=422)   # nothing saved, typed text kept
    with unit_of_work(runtime().sessions) as db:
        shop = shop_for_viewer(db, shop_id)
        _check_target(db, shop, step, language)
        row = _override(db, shop.id, step, language)
        if source == default_template(step, language):
            # The default itself is not an override: later improvements to it still reach this shop.
            if row is not None:
                db.delete(row)
        else:
            row = row or Template(shop_id=shop.id, step=step, language=language)
            row.subject, row.html, row.text, row.updated_at = source.subject, source.html, source.text, runtime().now()
            db.add(row)
    return redirect_to("admin.templates_edit", notice="saved", shop_id=shop_id, step=step, language=language)


def _page(shop_id: int, step: int, language: str, form: Form, *, status: int = 200, sent: bool = False):
    """The editor with the server-side preview of what ``form`` holds; problems next to their fields."""
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        _check_target(db, shop, step, language)
        overridden = _override(db, shop.id, step, language) is not None
        result, label = _preview(db, shop, step, language, _source(form)) if form.ok else (None, "")
        step_label = dict(template_steps(db, shop))[step]
    for problem in result.problems if result else ():
        where = f"line {problem.line}: " if problem.line is not None else ""
        reason = f"{where}{problem.message}"
        known = form.errors.get(problem.field)
        form.errors[problem.field] = f"{known}; {reason}" if known else reason
    return render_page("admin/template_edit.html", shop=shop, active="templates", status=status, form=form,
                       step=step, language=language, language_name=LANGUAGES[language], step_label=step_label,
                       overridden=overridden, result=result, cart_label=label, sent=sent,
                       field_labels=FIELD_LABELS, variables=variable_list(),
                       title=f"{step_label} · {LANGUAGES[language]}")


def _preview(db: Session, shop: Shop, step: int, language: str, source: TemplateSource):
    cart, label = preview_cart(db, shop, language)
    discount = preview_discount(db, shop, step, cart.currency, runtime().now())
    return preview(source, step, language, shop, cart, discount), label


def _typed(data) -> Form:
    """The three fields as typed; each must be present and of a sane size."""
    data = data if hasattr(data, "get") else {}      # JSON that is not an object: all fields missing
    form = Form.of({name: data.get(name, "") for name in FIELDS})
    for name in FIELDS:
        if not form.get(name).strip():
            form.fail(name, "is required")
        elif len(form.get(name)) > MAX_FIELD_CHARS:
            form.fail(name, f"is too long (at most {MAX_FIELD_CHARS:,} characters)")
    return form


def _source(form: Form) -> TemplateSource:
    return TemplateSource(*(form.get(name) for name in FIELDS))


def _override(db: Session, shop_id: int, step: int, language: str) -> Template | None:
    return db.scalars(select(Template).where(Template.shop_id == shop_id, Template.step == step,
                                             Template.language == language)).first()


def _check_target(db: Session, shop: Shop, step: int, language: str) -> None:
    if language not in SUPPORTED_LANGUAGES or step not in dict(template_steps(db, shop)):
        abort(404)


def template_steps(db: Session, shop: Shop) -> list[tuple[int, str]]:
    """(step, label): the sequence's steps, the expiry reminder when sent, and any other override."""
    steps = [(s.position, f"Reminder {s.position}, {_delay(s.delay_minutes)} after leaving"
              + ("" if s.enabled else " (off)")) for s in sequence_of(db, shop).steps]
    if shop.expiry_reminder_hours:
        steps.append((EXPIRY_TEMPLATE_STEP, "Code expires soon"))
    known = {step for step, _ in steps}
    for extra in sorted(set(db.scalars(select(Template.step).where(Template.shop_id == shop.id))) - known):
        steps.append((extra, "Code expires soon (not sent)" if extra == EXPIRY_TEMPLATE_STEP
                      else f"Reminder {extra} (not in the sequence)"))
    return steps


def _delay(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def _day(moment: datetime | None, shop: Shop) -> str | None:
    if moment is None:
        return None
    return format_date(moment.astimezone(ZoneInfo(shop.timezone)), "d MMM yyyy", locale="en")


def variable_list() -> list[tuple[str, str]]:
    """Every variable a template sees, with its sample value: read from the real context, so
    the list cannot drift from what templates actually get."""
    values = template_variables(sample_cart(), step=1, language="en", shop_name="Sample Shop", recovery_url=None,
                                unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL, tz_name="UTC", discount=sample_discount())
    found: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list):
            names = ", ".join(f"item.{key}" for key in (value[0] if value else {}))
            found.append((prefix, f"a list: {{% for item in {prefix} %}} … {names}"))
        else:
            found.append((prefix, f"e.g. {str(value).lower() if isinstance(value, bool) else value}"))
    walk("", values)
    return found


def _test_channel():
    """The channel the worker would use for this shop: SendGrid when the instance has a key (the
    shop's own account when it set one: ``bridge.channels.routing``), else None: the dev outbox."""
    if not runtime().settings.sendgrid_api_key:
        return None
    from bridge.channels.routing import per_shop_sendgrid
    return per_shop_sendgrid(runtime())
