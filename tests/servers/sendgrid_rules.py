"""The SendGrid v3 mail/send body rules the local test server enforces (split from sendgrid_api).

Docs: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send and
https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors
"""
from __future__ import annotations

import json
import re

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Headers SendGrid sets itself and refuses in the "headers" object.
_RESERVED_HEADERS = {"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                     "content-transfer-encoding", "to", "from", "subject", "reply-to",
                     "cc", "bcc"}
Errors = list[tuple[str, str | None]]       # (message, field) as SendGrid reports them


def validate_mail_send(body) -> Errors:
    """The documented mail/send rules this server enforces; [] when the body is valid."""
    if not isinstance(body, dict):
        return [("The request body must be a JSON object.", None)]
    templated = "template_id" in body          # a template may supply subject and content
    errors = _check_personalizations(body.get("personalizations"))
    if not _is_address(body.get("from")):
        errors.append(("The from object must have a valid email address.", "from.email"))
    if not templated and not _has_subject(body):
        errors.append(("The subject is required, top-level or in every personalization.",
                       "subject"))
    if not templated or "content" in body:
        errors += _check_content(body.get("content"))
    errors += _check_strings(body.get("custom_args"), "custom_args")
    errors += _check_categories(body.get("categories"))
    errors += _check_headers(body.get("headers"))
    asm = body.get("asm")
    if asm is not None and not (isinstance(asm, dict) and type(asm.get("group_id")) is int):
        errors.append(("The asm group_id must be an integer.", "asm.group_id"))
    return errors


def _is_address(value) -> bool:
    return isinstance(value, dict) and bool(_EMAIL.fullmatch(str(value.get("email", ""))))


def _has_subject(body: dict) -> bool:
    def present(obj) -> bool:
        return isinstance(obj.get("subject"), str) and bool(obj["subject"])
    items = body.get("personalizations")
    per_email = isinstance(items, list) and all(isinstance(p, dict) for p in items)
    return present(body) or (per_email and all(present(p) for p in items))


def _check_personalizations(items) -> Errors:
    if not isinstance(items, list) or not 1 <= len(items) <= 1000 \
            or not all(isinstance(p, dict) for p in items):
        return [("You must have 1 to 1000 personalization objects.", "personalizations")]
    errors: Errors = []
    for i, item in enumerate(items):
        to = item.get("to")
        if not isinstance(to, list) or not 1 <= len(to) <= 1000 \
                or not all(_is_address(a) for a in to):
            errors.append(("The to array is required and needs 1 to 1000 objects with a "
                           "valid email address.", f"personalizations.{i}.to"))
        errors += _check_strings(item.get("custom_args"), f"personalizations.{i}.custom_args")
    recipients = sum(len(p.get(k) or []) for p in items for k in ("to", "cc", "bcc"))
    if recipients > 1000:
        errors.append(("There is a limit of 1000 total recipients (to + cc + bcc) per request.",
                       "personalizations"))
    return errors


def _check_content(content) -> Errors:
    if not isinstance(content, list) or not content:
        return [("The content parameter needs at least one content block.", "content")]
    errors: Errors = []
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str) \
                or not block["type"]:
            errors.append(("The content type must be a non-empty string.", f"content.{i}.type"))
        elif not isinstance(block.get("value"), str) or not block["value"]:
            errors.append(("The content value must be a string at least one character in "
                           "length.", f"content.{i}.value"))
    types = [b.get("type") for b in content if isinstance(b, dict)]
    wanted = [t for t in ("text/plain", "text/html") if t in types]
    if types[:len(wanted)] != wanted:
        errors.append(("text/plain content must come first, then text/html, then any "
                       "other type.", "content"))
    return errors


def _check_strings(mapping, field: str) -> Errors:
    if mapping is None:
        return []
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        return [(f"{field} values must all be strings.", field)]
    if len(json.dumps(mapping).encode()) > 10_000:
        return [(f"{field} may not exceed 10,000 bytes.", field)]
    return []


def _check_categories(categories) -> Errors:
    if categories is None:
        return []
    if not isinstance(categories, list) or len(categories) > 10 or not all(
            isinstance(c, str) and 0 < len(c) <= 255 for c in categories):
        return [("categories must be at most 10 strings of 1 to 255 characters.",
                 "categories")]
    return []


def _check_headers(headers) -> Errors:
    if headers is None:
        return []
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return [("headers values must all be strings.", "headers")]
    reserved = sorted(h for h in headers if h.lower() in _RESERVED_HEADERS)
    return [(f"reserved headers cannot be set: {', '.join(reserved)}.", "headers")] \
        if reserved else []


def parse_and_validate(raw: bytes) -> Errors:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return [("Bad Request: the body is not valid JSON.", None)]
    return validate_mail_send(body)
