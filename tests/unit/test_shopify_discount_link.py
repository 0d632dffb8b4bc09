"""Shopify discount links: /discount/CODE?redirect=<the cart> on the shop's own host. Pure."""
from __future__ import annotations

import pytest

from connectors.shopify import CONNECTOR
from connectors.shopify_store import discount_link

RECOVER = "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"


def test_the_link_applies_the_code_on_the_recovery_host_and_redirects_to_the_recovery_path():
    # given Shopify's abandoned_checkout_url on the shop's custom domain
    # when a link for code CB-7KQ is made
    link = CONNECTOR.discount_link("demo.myshopify.com", RECOVER, "CB-7KQ", [])
    # then the code is applied on that host and the customer lands on their own checkout
    assert link == ("https://checkout.local/discount/CB-7KQ"
                    "?redirect=%2F548380009%2Fcheckouts%2F123123123%2Frecover%3Fkey%3Dexample-secret-token")


def test_without_a_recovery_url_the_link_goes_to_the_cart_on_the_myshopify_domain():
    # given a cart that has no recovery URL
    # when a link is made
    link = discount_link("demo.myshopify.com", None, "CB-7KQ", [])
    # then the code is applied and the customer lands on /cart
    assert link == "https://demo.myshopify.com/discount/CB-7KQ?redirect=%2Fcart"


def test_a_domain_given_as_a_url_is_reduced_to_its_host():
    # given the shop's domain stored with a scheme, capitals and a trailing slash
    link = discount_link("https://Demo.myshopify.com/", None, "CB-7KQ", [])
    # then only the host is used
    assert link == "https://demo.myshopify.com/discount/CB-7KQ?redirect=%2Fcart"


def test_the_code_is_quoted_as_one_path_segment():
    # given a code with a space and a slash (a merchant-chosen prefix could contain anything)
    link = discount_link("demo.myshopify.com", None, "CB A/B", [])
    # then it stays one segment of the path
    assert link == "https://demo.myshopify.com/discount/CB%20A%2FB?redirect=%2Fcart"


def test_userinfo_and_fragment_of_the_recovery_url_are_dropped_and_the_link_is_https():
    # given an http recovery URL carrying userinfo and a fragment
    link = discount_link("demo.myshopify.com", "http://someone@shop.example/cart?step=2#top", "CB-1", [])
    # then the link is on the plain host, over https, redirecting to the path and query only
    assert link == "https://shop.example/discount/CB-1?redirect=%2Fcart%3Fstep%3D2"


@pytest.mark.parametrize("recovery_url", ["javascript:alert(1)", "ftp://shop.example/cart", "//shop.example/cart",
                                          "https:///no-host"])
def test_a_recovery_url_that_is_not_http_or_https_gets_no_link(recovery_url):
    # given a recovery URL that is not a web address we would send a customer to
    # then there is no discount link (the code is shown in the message instead)
    assert discount_link("demo.myshopify.com", recovery_url, "CB-1", []) is None


def test_an_empty_code_gets_no_link():
    assert discount_link("demo.myshopify.com", RECOVER, "", []) is None
