"""SendGrid's signed Event Webhook: verify (ECDSA), store each event once, answer fast.

(Being written: see issue 4.)
"""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("sendgrid_events", __name__)
