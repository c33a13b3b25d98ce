"""Checkout figures for `make bench` (see tests/load/bench.py for ctx).

- checkout_orders_per_s: orders created per second through POST /api/v1/checkout/buy-now/ under
  gunicorn, 16 concurrent connections (wrk) of pre-created buyers (token auth, rotating through 64
  buyers) all buying one hot SKU: the worst case for the stock row lock.
- checkout_vs_pgbench_ratio: that figure over pgbench's TPC-B transactions per second measured in the
  same run (pgbench -i on a scratch database, then -c 16 for a few seconds). Both are medians of
  BENCH_ROUNDS runs taken in turns (pgbench, checkout, pgbench, ...), so load from elsewhere on the
  machine weighs on both alike.
- checkout_queries: database queries of one API checkout of a 3-line cart (goal ≤ 15).
- checkout_multi_shop_pay_queries: database queries of the payment notification that pays a 3-shop
  checkout (one combined payment, every order becomes paid); `_6_shops` is the same for 6 shops and
  must be equal (the cost is flat in the number of shops).
- oversold: units sold beyond stock when 16 threads of another process race for a SKU with 20 units
  left, plus any stock mismatch on the hot SKU (sold units vs stock taken). Must be 0.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

BUYERS = 64
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
HOT_STOCK = 10_000_000
SCARCE_STOCK = 20
CONNECTIONS = 16
PGBENCH_DATABASE = os.environ.get("BENCH_PGBENCH_DATABASE", "weshop_pgbench")

SETUP = r"""
import json, uuid
from django.db import transaction
from rest_framework.authtoken.models import Token
from accounts.models import Address, User
from shop.models import SKU, Category, Product, Shop, ShopMembership

tag = uuid.uuid4().hex[:8]
with transaction.atomic():
    owner = User.objects.create_user(phone=f"1980{int(tag, 16) %% 10**7:07d}", password=None, is_staff=True)
    shop = Shop.objects.create(name="压测小店", slug=f"bench-checkout-{tag}", owner=owner)
    ShopMembership.objects.create(shop=shop, user=owner, role="owner")
    category = Category.objects.order_by("id").first()
    category = category or Category.objects.create(name="压测", slug=f"bench-{tag}")
    def sku(title, stock):
        product = Product.objects.create(
            shop=shop, category=category, title=title, status="on_sale", price_fen=990
        )
        return SKU.objects.create(product=product, spec_label="默认", price_fen=990, stock=stock)
    hot, scarce = sku("爆款", %(hot)d), sku("限量", %(scarce)d)
    trio = [sku(f"三件套{i}", 1000).pk for i in range(3)]
    buyers = []
    for i in range(%(buyers)d):
        user = User.objects.create_user(phone=f"197{i:04d}{int(tag, 16) %% 10**4:04d}", password=None)
        address = Address.objects.create(
            user=user, recipient_name="压测", phone="13900000000", province="广东省", city="深圳市",
            district="南山区", detail="科技园", is_default=True,
        )
        buyers.append((Token.objects.create(user=user).key, address.pk))
print(json.dumps({"hot": hot.pk, "scarce": scarce.pk, "trio": trio, "buyers": buyers}))
"""

QUERY_COUNT = r"""
import json, uuid
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

data = json.loads(%(data)r)
token, address_id = data["buyers"][0]
client = APIClient(HTTP_HOST="localhost")
client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
for sku_id in data["trio"]:
    added = client.post("/api/v1/cart/items/", {"sku_id": sku_id, "quantity": 1}, format="json")
    assert added.status_code == 201, added.content
body = {"address_id": address_id, "checkout_id": str(uuid.uuid4())}
with CaptureQueriesContext(connection) as captured:
    response = client.post("/api/v1/checkout/", body, format="json")
assert response.status_code == 201, response.content
assert len(response.json()[0]["lines"]) == 3
print(len(captured))
"""

# One payment for a checkout across N shops, through the notification: the shell plays the
# sandbox on a free port (the bench server runs without it), checks out N shops' SKUs through the
# API, pays from one order (a combined payment), confirms at the sandbox and counts the queries of
# the notification request that makes the N orders paid.
MULTI_SHOP_PAY_QUERIES = r"""
import copy, json, uuid
from django.conf import settings
settings.WECHATPAY = {**copy.deepcopy(settings.WECHATPAY), "SANDBOX": True, "MCHID": ""}
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from shop.models import SKU, Category, Order, Product, Shop, ShopMembership
from shop.payments.sandbox import state
from tests.shop.payments.servers import BackgroundServer

data = json.loads(%(data)r)
token, address_id = data["buyers"][1]
server = BackgroundServer(WSGIHandler())
settings.WECHATPAY = {**settings.WECHATPAY, "GATEWAY": f"{server.url}/sandbox/wechatpay"}
client = APIClient(HTTP_HOST="localhost")
client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
owner = Shop.objects.get(slug__startswith="bench-checkout-").owner
category = Category.objects.order_by("id").first()
counts = []
for shops in (3, 6):
    for n in range(shops):
        tag = uuid.uuid4().hex[:8]
        shop = Shop.objects.create(name=f"合单{n}", slug=f"bench-combined-{tag}", owner=owner)
        ShopMembership.objects.create(shop=shop, user=owner, role="owner")
        product = Product.objects.create(
            shop=shop, category=category, title="合单商品", status="on_sale", price_fen=990
        )
        sku = SKU.objects.create(product=product, spec_label="默认", price_fen=990 + n, stock=100)
        added = client.post("/api/v1/cart/items/", {"sku_id": sku.pk, "quantity": 1}, format="json")
        assert added.status_code == 201, added.content
    placed = client.post(
        "/api/v1/checkout/", {"address_id": address_id, "checkout_id": str(uuid.uuid4())}, format="json"
    )
    assert placed.status_code == 201 and len(placed.json()) == shops, placed.content
    numbers = [order["number"] for order in placed.json()]
    started = client.post(f"/api/v1/orders/{numbers[0]}/pay/", {}, format="json")
    assert started.status_code in (200, 201), started.content
    paid, _ = state.transaction_confirm(started.json()["prepay_id"])
    headers, body = state.payment_notification(paid)
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    with CaptureQueriesContext(connection) as captured:
        answer = APIClient(HTTP_HOST="localhost").generic(
            "POST", "/payments/notify/wechatpay/", body, content_type="application/json", headers=headers
        )
    assert answer.status_code == 204, answer.content
    assert Order.objects.filter(number__in=numbers, status="paid").count() == shops
    counts.append(len(captured))
server.stop()
print(json.dumps(counts))
"""

BUY_NOW = """
local tokens, addresses = {}, {}
for token, address in string.gmatch(os.getenv("BENCH_BUYERS"), "(%w+):(%d+)") do
  table.insert(tokens, token); table.insert(addresses, address)
end
local sku = os.getenv("BENCH_SKU")
local n = 0
request = function()
  n = n + 1
  local i = (n % #tokens) + 1
  local headers = {["Authorization"] = "Token " .. tokens[i], ["Content-Type"] = "application/json"}
  local body = '{"sku_id": ' .. sku .. ', "quantity": 1, "address_id": ' .. addresses[i] .. '}'
  return wrk.format("POST", "/api/v1/checkout/buy-now/", headers, body)
end
"""


def _last_line(result: subprocess.CompletedProcess) -> str:
    if result.returncode:
        raise RuntimeError(f"bench setup failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


class _PgBench:
    """pgbench's TPC-B on a scratch database of the same server, 16 clients: `with _PgBench(url) as
    pgbench: pgbench.tps()` initialises it once, runs it as often as asked, then drops it."""

    def __init__(self, database_url: str):
        parts = urlsplit(database_url)
        self.env = {
            **os.environ,
            "PGHOST": parts.hostname or "127.0.0.1",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": parts.username or "postgres",
        }
        if parts.password:
            self.env["PGPASSWORD"] = parts.password
        self.maintenance = urlunsplit(parts._replace(path="/postgres"))

    def _drop(self) -> None:
        import psycopg

        with psycopg.connect(self.maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{PGBENCH_DATABASE}" WITH (FORCE)')

    def __enter__(self):
        import psycopg

        self._drop()
        with psycopg.connect(self.maintenance, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{PGBENCH_DATABASE}"')
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "1", PGBENCH_DATABASE],
            env=self.env,
            check=True,
            capture_output=True,
        )
        return self

    def __exit__(self, *exc_info) -> None:
        self._drop()

    def tps(self, seconds: int) -> float:
        result = subprocess.run(
            ["pgbench", "-c", str(CONNECTIONS), "-j", "2", "-T", str(seconds), PGBENCH_DATABASE],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout) or re.search(
            r"tps = ([\d.]+)", result.stdout
        )
        if not found:
            raise RuntimeError(f"pgbench printed no tps:\n{result.stdout}")
        return float(found.group(1))


def _race_for_scarce_stock(base_url: str, sku_id: int, buyers: list) -> int:
    """16 threads buy one unit each, over and over, until the SKU is sold out. Returns orders made."""
    made, lock = [0], threading.Lock()

    def buyer(index: int) -> None:
        token, address_id = buyers[index % len(buyers)]
        body = json.dumps({"sku_id": sku_id, "quantity": 1, "address_id": address_id}).encode()
        for _attempt in range(SCARCE_STOCK):
            request = urllib.request.Request(
                f"{base_url}/api/v1/checkout/buy-now/",
                data=body,
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    if response.status == 201:
                        with lock:
                            made[0] += 1
            except urllib.error.HTTPError as error:
                if error.code != 400:
                    raise
                return  # sold out: a clear 400

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return made[0]


def run(ctx) -> list[tuple[str, float, str]]:
    data = json.loads(
        _last_line(
            ctx.manage("shell", "-c", SETUP % {"hot": HOT_STOCK, "scarce": SCARCE_STOCK, "buyers": BUYERS})
        )
    )
    ctx.analyze()
    queries = int(_last_line(ctx.manage("shell", "-c", QUERY_COUNT % {"data": json.dumps(data)})))
    pay_three, pay_six = json.loads(
        _last_line(ctx.manage("shell", "-c", MULTI_SHOP_PAY_QUERIES % {"data": json.dumps(data)}))
    )

    lua_env = {
        "BENCH_BUYERS": ",".join(f"{token}:{address}" for token, address in data["buyers"]),
        "BENCH_SKU": str(data["hot"]),
    }
    ctx.wrk("/", seconds=1, connections=CONNECTIONS, script=BUY_NOW, lua_env=lua_env)  # warm up
    # In turns, like against_bare: background load on the machine then hits both figures alike.
    orders_runs, pgbench_runs = [], []
    with _PgBench(ctx.database_url) as pgbench:
        for _round in range(ROUNDS):
            pgbench_runs.append(pgbench.tps(SECONDS))
            orders_runs.append(ctx.wrk("/", connections=CONNECTIONS, script=BUY_NOW, lua_env=lua_env))
    orders_per_s, pgbench_tps = statistics.median(orders_runs), statistics.median(pgbench_runs)

    made = _race_for_scarce_stock(ctx.base_url, data["scarce"], data["buyers"])
    ((scarce_stock,),) = ctx.sql("SELECT stock FROM shop_sku WHERE id = %s", [data["scarce"]])
    ((sold_scarce,),) = ctx.sql(
        "SELECT COALESCE(SUM(quantity), 0) FROM shop_orderline WHERE sku_id = %s", [data["scarce"]]
    )
    ((hot_stock,),) = ctx.sql("SELECT stock FROM shop_sku WHERE id = %s", [data["hot"]])
    ((sold_hot,),) = ctx.sql(
        "SELECT COALESCE(SUM(quantity), 0) FROM shop_orderline WHERE sku_id = %s", [data["hot"]]
    )
    oversold = (
        max(0, int(sold_scarce) - SCARCE_STOCK)
        + max(0, made - SCARCE_STOCK)
        + abs((HOT_STOCK - hot_stock) - int(sold_hot))
        + max(0, -scarce_stock)
    )
    if scarce_stock != SCARCE_STOCK - int(sold_scarce):
        oversold += abs(scarce_stock - (SCARCE_STOCK - int(sold_scarce)))
    return [
        ("checkout_orders_per_s", orders_per_s, "orders/s"),
        ("pgbench_tps", pgbench_tps, "tps"),
        ("checkout_vs_pgbench_ratio", orders_per_s / pgbench_tps, "x"),
        ("checkout_queries", queries, "queries"),
        ("checkout_multi_shop_pay_queries", pay_three, "queries"),
        ("checkout_multi_shop_pay_queries_6_shops", pay_six, "queries"),
        ("oversold", oversold, "units"),
    ]
