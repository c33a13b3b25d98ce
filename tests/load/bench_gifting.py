"""Gifting figures for `make bench` (see tests/load/bench.py for ctx).

- gift_claim_per_s: claims per second on one 1,000-copy group gift, through
  POST /api/v1/gifts/<token>/claim/ under gunicorn, 16 concurrent claimers (keep-alive connections,
  token auth, each claimer a different person with an address in their book) until every copy is
  taken. Each claim is a paid sub-order and one of the gift's copy rows taken with SKIP LOCKED (the
  first-come guard): all claimers share one gift, but no row of it is waited on while copies are left.
- gift_checkout_orders_per_s: checkout's orders per second in the same run, through
  POST /api/v1/checkout/buy-now/ of one hot SKU, driven by the same client the same way (16
  connections, 1,000 orders), so the two figures differ only in what the server does.
- gift_claim_vs_checkout_ratio: the first over the second (goal ≥ 0.8: a claim is an order without
  a payment). Both are medians of BENCH_ROUNDS rounds taken in turns (checkout, claims, checkout,
  ...), each round with a fresh gift, so load from elsewhere on the machine weighs on both alike.
- gift_claim_queries: database queries of one API claim.
- gift_over_claimed: claims beyond the copies, or claimed copies without their claim row or
  sub-order (must be 0).

Gift pages signed in (session and CSRF cookies as a browser sends them, each figure measured in turns
with the bare view, `ctx.against_bare`, as tests/load/bench_catalog.py takes its signed-in figures),
on the demo data seed_demo leaves:
- signed_in_gift_claim_page: /g/<token>/ of the demo's open group gift, opened by 13800000007, who may
  still accept it (the cached part, then copies left, the spec choice and her address book layered);
- signed_in_gifts_sent: /gifts/sent/ of the demo giver 13800000003 (four gifts);
- signed_in_gifts_received: /gifts/received/ of 13800000005 (a claimed, shipped and thanked-for gift).
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import threading
import time
import urllib.request
from urllib.parse import urlsplit

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
COPIES = 1000
CLAIMERS = COPIES
CONNECTIONS = 16

SETUP = r"""
import json, uuid
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from accounts.models import Address, User
from gifting.services import gift_by_token, gift_create
from shop.models import SKU, Category, Payment, Product, Shop, ShopMembership
from shop.payments.base import PaymentNotification
from shop.services.payments import payment_record_success

tag = uuid.uuid4().hex[:8]
number = int(tag, 16)
with transaction.atomic():
    owner = User.objects.create_user(phone=f"1960{number %% 10**7:07d}", password=None, is_staff=True)
    shop = Shop.objects.create(name="送礼压测", slug=f"bench-gifting-{tag}", owner=owner)
    ShopMembership.objects.create(shop=shop, user=owner, role="owner")
    category = Category.objects.create(name="压测礼物", slug=f"bench-gifts-{tag}")
    product = Product.objects.create(
        shop=shop, category=category, title="礼盒", status="on_sale", price_fen=990
    )
    sku = SKU.objects.create(product=product, spec_label="默认", price_fen=990, stock=%(stock)d)
    giver = User.objects.create_user(phone=f"1950{number %% 10**7:07d}", password=None)
    people = User.objects.bulk_create(
        [User(phone=f"15{i:05d}{number %% 10**4:04d}", nickname=f"收礼{i}") for i in range(%(claimers)d)]
    )
    for person in people:
        person.set_unusable_password()
    User.objects.bulk_update(people, ["password"])
    tokens = Token.objects.bulk_create([Token(user=person, key=Token.generate_key()) for person in people])
    addresses = Address.objects.bulk_create(
        [
            Address(user=person, recipient_name="收礼人", phone="13900000000", province="广东省",
                    city="深圳市", district="南山区", detail="科技园", is_default=True)
            for person in people
        ]
    )
gifts = []
for _round in range(%(gifts)d):
    gift = gift_create(giver=giver, sku_id=sku.pk, copies=%(copies)d, mode="group", message="压测")
    payment = Payment.objects.create(
        order=gift.order, provider="wechatpay", out_trade_no=f"B{uuid.uuid4().hex[:24]}",
        amount_fen=gift.order.total_fen,
    )
    payment_record_success(notification=PaymentNotification(
        out_trade_no=payment.out_trade_no, transaction_id=f"42{uuid.uuid4().int %% 10**26:026d}",
        amount_fen=payment.amount_fen, payer_total_fen=payment.amount_fen, trade_state="SUCCESS",
        success_time=timezone.now(), payer_openid="o-bench", raw={},
    ))
    gifts.append(gift_by_token(gift.token).token)
print(json.dumps({
    "sku": sku.pk,
    "gifts": gifts,
    "claimers": [(token.key, address.pk) for token, address in zip(tokens, addresses)],
}))
"""

QUERY_COUNT = r"""
import json
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

data = json.loads(%(data)r)
token, address_id = data["claimers"][0]
client = APIClient(HTTP_HOST="localhost")
client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
with CaptureQueriesContext(connection) as captured:
    response = client.post(
        f"/api/v1/gifts/{data['gifts'][-1]}/claim/", {"address_id": address_id}, format="json"
    )
assert response.status_code == 201, response.content
print(len(captured))
"""


SIGN_IN = r"""
import json
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string
from accounts.models import User
from gifting.models import Gift

cookies = {}
for phone in %(phones)r:
    client = Client()
    client.force_login(User.objects.get(phone=phone))
    cookies[phone] = "%%s=%%s; %%s=%%s" %% (
        settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value,
        settings.CSRF_COOKIE_NAME, get_random_string(32),
    )
gift = Gift.objects.filter(mode="group", status="open", giver__phone="13800000003").order_by("pk").first()
print(json.dumps({"cookies": cookies, "token": gift.token}))
"""

PAGES = [
    # (figure, who is signed in, path; {token} is the demo's open group gift)
    ("signed_in_gift_claim_page", "13800000007", "/g/{token}/"),
    ("signed_in_gifts_sent", "13800000003", "/gifts/sent/"),
    ("signed_in_gifts_received", "13800000005", "/gifts/received/"),
]


def _page_figures(ctx) -> list[tuple[str, float, str]]:
    data = json.loads(
        _last_line(ctx.manage("shell", "-c", SIGN_IN % {"phones": sorted({who for _n, who, _p in PAGES})}))
    )
    claim_page = PAGES[0][2].format(token=data["token"])
    request = urllib.request.Request(
        ctx.base_url + claim_page, headers={"Cookie": data["cookies"][PAGES[0][1]]}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if 'data-testid="gift-claim-form"' not in response.read().decode():
            raise RuntimeError("the claim page did not show 13800000007 the form to accept the gift")
    figures = []
    for name, who, path in PAGES:
        headers = (f"Cookie: {data['cookies'][who]}",)
        rps, ratio = ctx.against_bare(path.format(token=data["token"]), name=name, headers=headers)
        figures += [(f"{name}_rps", rps, "req/s"), (f"{name}_ratio", ratio, "x")]
    return figures


def _last_line(result: subprocess.CompletedProcess) -> str:
    if result.returncode:
        raise RuntimeError(f"bench setup failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def _drive(base_url: str, requests: list[tuple[str, str, dict]], *, expect: int) -> float:
    """POST every (path, token, body) of `requests` from CONNECTIONS threads, each on one keep-alive
    connection, taking the next request from a shared list. Returns successes per second over the
    whole run; fails on any answer other than `expect` (201)."""
    parts = urlsplit(base_url)
    queue = list(reversed(requests))
    lock = threading.Lock()
    failures: list[str] = []
    done = [0]

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            while True:
                with lock:
                    if not queue or failures:
                        return
                    path, token, body = queue.pop()
                payload = json.dumps(body)
                headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
                connection.request("POST", path, body=payload, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                with lock:
                    if response.status == expect:
                        done[0] += 1
                    else:
                        failures.append(f"{path}: {response.status} {answer[:300]!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError("bench requests failed:\n" + "\n".join(failures[:5]))
    return done[0] / elapsed


def run(ctx) -> list[tuple[str, float, str]]:
    data = json.loads(
        _last_line(
            ctx.manage(
                "shell",
                "-c",
                SETUP
                % {
                    "stock": 10_000_000,
                    "claimers": CLAIMERS,
                    "copies": COPIES,
                    # one gift per round, one for the warm-up, one for the query count
                    "gifts": ROUNDS + 2,
                },
            )
        )
    )
    ctx.analyze()
    claimers = data["claimers"]
    warm_up, *rounds_gifts, counted = data["gifts"]

    def claims(token: str) -> list:
        return [(f"/api/v1/gifts/{token}/claim/", key, {"address_id": address}) for key, address in claimers]

    def checkouts() -> list:
        return [
            ("/api/v1/checkout/buy-now/", key, {"sku_id": data["sku"], "quantity": 1, "address_id": address})
            for key, address in claimers
        ]

    _drive(ctx.base_url, claims(warm_up)[:200], expect=201)
    _drive(ctx.base_url, checkouts()[:200], expect=201)
    claim_runs, checkout_runs = [], []
    for token in rounds_gifts:
        checkout_runs.append(_drive(ctx.base_url, checkouts(), expect=201))
        claim_runs.append(_drive(ctx.base_url, claims(token), expect=201))
    claims_per_s, orders_per_s = statistics.median(claim_runs), statistics.median(checkout_runs)
    queries = int(
        _last_line(
            ctx.manage("shell", "-c", QUERY_COUNT % {"data": json.dumps({**data, "gifts": [counted]})})
        )
    )

    tokens = tuple(data["gifts"])
    rows = ctx.sql(
        "SELECT g.copies, "
        "(SELECT COUNT(*) FROM gifting_giftcopy c WHERE c.gift_id = g.id AND c.recipient_id IS NOT NULL), "
        "(SELECT COUNT(*) FROM gifting_giftclaim c WHERE c.gift_id = g.id), "
        "(SELECT COUNT(*) FROM shop_order o WHERE o.parent_order_id = g.order_id) "
        "FROM gifting_gift g WHERE g.token = ANY(%s)",
        [list(tokens)],
    )
    over = sum(
        max(0, claimed - copies) + abs(claimed - claim_rows) + abs(claim_rows - sub_orders)
        for copies, claimed, claim_rows, sub_orders in rows
    )
    return _page_figures(ctx) + [
        ("gift_claim_per_s", claims_per_s, "claims/s"),
        ("gift_checkout_orders_per_s", orders_per_s, "orders/s"),
        ("gift_claim_vs_checkout_ratio", claims_per_s / orders_per_s, "x"),
        ("gift_claim_queries", queries, "queries"),
        ("gift_over_claimed", over, "copies"),
    ]
