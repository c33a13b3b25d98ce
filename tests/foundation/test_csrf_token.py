"""config/csrf.py: the CSRF token of a layered page is Django's token (same secret, a fresh uniform
mask, the same cookie handling), made in a few steps instead of a few hundred."""

import collections
import re

import pytest
from django.conf import settings
from django.middleware.csrf import (
    CSRF_ALLOWED_CHARS,
    CSRF_SECRET_LENGTH,
    _check_token_format,
    _does_token_match,
    _unmask_cipher_token,
)
from django.test import Client, RequestFactory

from config import csrf
from tests.shop.factories import product_with_grid

EDGE_SECRETS = ["a" * 32, "9" * 32, "Z9" * 16, CSRF_ALLOWED_CHARS[-32:], CSRF_ALLOWED_CHARS[:32]]


@pytest.mark.parametrize("secret", [*EDGE_SECRETS, csrf.new_secret()])
def test_a_masked_token_is_what_djangos_middleware_unmasks_to_the_secret(secret):
    for _ in range(500):
        token = csrf.mask_secret(secret)
        _check_token_format(token)  # 64 characters of the alphabet, else it raises
        assert _unmask_cipher_token(token) == secret
        assert _does_token_match(token, secret)


def test_every_token_has_its_own_mask_and_every_secret_is_new():
    secret = csrf.new_secret()
    tokens = {csrf.mask_secret(secret) for _ in range(1000)}
    assert len(tokens) == 1000
    assert len({token[:CSRF_SECRET_LENGTH] for token in tokens}) == 1000  # the masks differ
    assert len({csrf.new_secret() for _ in range(1000)}) == 1000


def test_characters_are_drawn_evenly_from_the_whole_alphabet():
    """The 8 byte values above 4 × 62 are dropped, so no character comes up more often than another
    (with `byte % 62` alone, the first eight would come up a quarter more often)."""
    drawn = "".join(csrf.new_secret() for _ in range(20_000))  # 640,000 characters
    counts = collections.Counter(drawn)
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    expected = len(drawn) / len(CSRF_ALLOWED_CHARS)  # about 10,323; one standard deviation is ~100
    assert all(abs(count - expected) < 0.05 * expected for count in counts.values()), counts
    masks = collections.Counter(csrf.mask_secret("a" * 32)[40] for _ in range(31_000))  # one place
    assert all(abs(count - 500) < 150 for count in masks.values()), masks  # ±6.8 standard deviations


def test_something_that_is_not_a_secret_is_refused():
    for bad in ["a" * 31, "a" * 33, "a" * 31 + "-", "ä" * 32]:
        with pytest.raises(ValueError):
            csrf.mask_secret(bad)


def test_csrf_token_sets_the_same_flags_as_get_token():
    request = RequestFactory().get("/")
    token = csrf.csrf_token(request)  # no cookie: a new secret, for the middleware to set
    secret = request.META["CSRF_COOKIE"]
    _check_token_format(secret)
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert _unmask_cipher_token(token) == secret
    again = RequestFactory().get("/")
    again.META.update(CSRF_COOKIE=secret)  # what CsrfViewMiddleware read from a valid cookie
    assert _unmask_cipher_token(csrf.csrf_token(again)) == secret
    assert again.META["CSRF_COOKIE"] == secret
    assert again.META["CSRF_COOKIE_NEEDS_UPDATE"] is True  # renewed, as get_token does


def page_token(html: str) -> str:
    (token,) = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    return token


@pytest.mark.django_db
def test_a_layered_page_sets_the_cookie_its_token_belongs_to_and_the_token_is_accepted(shop, shopper):
    product = product_with_grid(shop=shop)
    visitor = Client(enforce_csrf_checks=True)  # signed out, no cookie (as the bench's wrk)
    response = visitor.get(f"/products/{product.pk}/")
    cookie = response.cookies[settings.CSRF_COOKIE_NAME].value
    assert _unmask_cipher_token(page_token(response.content.decode())) == cookie

    visitor.force_login(shopper)
    response = visitor.get(f"/products/{product.pk}/")
    assert response.cookies[settings.CSRF_COOKIE_NAME].value == cookie  # renewed, not replaced
    token = page_token(response.content.decode())
    assert _unmask_cipher_token(token) == cookie
    assert visitor.post(f"/products/{product.pk}/like/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert visitor.post(f"/products/{product.pk}/like/", {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
