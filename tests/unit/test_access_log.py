"""The web server's access log never carries an unsubscribe token."""
from __future__ import annotations

from datetime import timedelta

from gunicorn.config import Config

from bridge.serve import AccessLogger


class _Response:
    status, sent, headers = "200 OK", 12, []


def _atoms(method: str, uri: str) -> dict:
    path, _, query = uri.partition("?")
    environ = {"REQUEST_METHOD": method, "RAW_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": path,
               "QUERY_STRING": query}
    return AccessLogger(Config()).atoms(_Response(), [], environ, timedelta(milliseconds=3))


def test_the_unsubscribe_token_is_replaced_in_the_request_line_and_the_path():
    # when a one-click unsubscribe and a resubscribe are logged
    one_click = _atoms("POST", "/u/AAAAAQ3kW9secret-token_x?lang=ru")
    again = _atoms("POST", "/u/AAAAAQ3kW9secret-token_x/resubscribe")
    # then the token appears in neither, and the rest of the line is intact
    assert one_click["r"] == "POST /u/[token]?lang=ru HTTP/1.1"
    assert one_click["U"] == "/u/[token]"
    assert again["U"] == "/u/[token]/resubscribe"
    assert "secret-token" not in repr(one_click) + repr(again)


def test_other_paths_are_logged_as_they_are():
    assert _atoms("POST", "/webhooks/shopify")["r"] == "POST /webhooks/shopify HTTP/1.1"
