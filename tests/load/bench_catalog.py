"""Catalog figures for `make bench` (see tests/load/bench.py for ctx and how ratios are measured).

Signed out (plain GETs, no cookies, exactly like the bare view):
- product_detail: /products/<id>/ of the first on-sale demo product with pictures and a 颜色 × 尺码
  picker;
- product_list: the home page, / (categories + 20 cards).
Signed in as the demo shopper 13800000003 (her session cookie and a CSRF cookie, as a browser sends
them; she has friends whose ♡ show in 朋友♡):
- signed_in_product_detail, signed_in_home, and signed_in_search (/search/?q=连衣, two characters);
- api_product_detail (/api/v1/products/<id>/) and api_product_list (/api/v1/products/), with her
  API token.
"""

import json
import urllib.request
from urllib.parse import quote

SHOPPER_PHONE = "13800000003"

_SIGN_IN = """
import json
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token
from accounts.models import User

user = User.objects.get(phone="%s")
client = Client()
client.force_login(user)
print(json.dumps({
    "cookie": "%%s=%%s; %%s=%%s" %% (
        settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value,
        settings.CSRF_COOKIE_NAME, get_random_string(32),
    ),
    "token": Token.objects.get_or_create(user=user)[0].key,
}))
"""


def _shopper_credentials(ctx) -> tuple[str, str]:
    """(Cookie header value, API token) of the demo shopper, made in the bench database."""
    result = ctx.manage("shell", "-c", _SIGN_IN % SHOPPER_PHONE)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return data["cookie"], data["token"]


def run(ctx) -> list[tuple[str, float, str]]:
    rows = ctx.sql(
        "SELECT p.id FROM shop_product p WHERE p.status = 'on_sale' "
        "AND EXISTS (SELECT 1 FROM shop_productimage i WHERE i.product_id = p.id) "
        "AND EXISTS (SELECT 1 FROM shop_specdimension d WHERE d.product_id = p.id) ORDER BY p.id LIMIT 1"
    )
    if not rows:
        raise RuntimeError(
            "no on-sale product with images and specs in the bench database: did seed_demo run?"
        )
    product_id = rows[0][0]
    cookie, token = _shopper_credentials(ctx)
    signed_in = (f"Cookie: {cookie}",)
    request = urllib.request.Request(ctx.base_url + "/", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        if 'href="/accounts/inbox/"' not in response.read().decode():
            raise RuntimeError("the demo shopper's session cookie did not sign her in")
    api = (f"Authorization: Token {token}",)
    measured = [
        ("product_detail", f"/products/{product_id}/", ()),
        ("product_list", "/", ()),
        ("signed_in_product_detail", f"/products/{product_id}/", signed_in),
        ("signed_in_home", "/", signed_in),
        ("signed_in_search", f"/search/?q={quote('连衣')}", signed_in),
        ("api_product_detail", f"/api/v1/products/{product_id}/", api),
        ("api_product_list", "/api/v1/products/", api),
    ]
    figures = []
    for name, path, headers in measured:
        rps, ratio = ctx.against_bare(path, name=name, headers=headers)
        figures += [(f"{name}_rps", rps, "req/s"), (f"{name}_ratio", ratio, "x")]
    return figures
