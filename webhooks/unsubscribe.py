"""Unsubscribe links and RFC 8058 one-click unsubscribe.

(Being written: see issue 4.)
"""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("unsubscribe", __name__, url_prefix="/u")
