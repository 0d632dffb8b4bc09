"""Helpers for admin page tests: users with grants, a signed-in test client, session tokens."""
from __future__ import annotations

import re
import secrets
import time

import jwt

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from bridge.services.users import add_user as _add_user
from tests.conftest import SHOPIFY_SECRET

PASSWORD = "correct horse battery"


def add_user(runtime, email: str = "owner@example.com", *, shop_ids=(), all_shops: bool = False,
             password: str = PASSWORD) -> int:
    with unit_of_work(runtime.sessions) as session:
        shops = [session.get(Shop, shop_id) for shop_id in shop_ids]
        return _add_user(session, email, password, runtime.now(), shops=shops, all_shops=all_shops).id


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client, email: str = "owner@example.com", password: str = PASSWORD) -> str:
    """Signs the test client in; returns the session's CSRF token for later posts."""
    response = client.post("/admin/login", data={"email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get("/admin/shops")
    return csrf_of(page.get_data(as_text=True))


def session_token(shop_domain: str, *, secret: str = SHOPIFY_SECRET, api_key: str = "test-app",
                  expires_in: int = 60, **claims) -> str:
    """An App Bridge session token as Shopify signs it (HS256 with the app secret)."""
    now = int(time.time())
    payload = {"iss": f"https://{shop_domain}/admin", "dest": f"https://{shop_domain}", "aud": api_key,
               "sub": "42", "exp": now + expires_in, "nbf": now - 5, "iat": now - 5,
               "jti": secrets.token_hex(8), "sid": secrets.token_hex(8), **claims}
    return jwt.encode(payload, secret, algorithm="HS256")
