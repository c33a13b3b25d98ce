"""`admin_orders_1m_ms`: the merchant's order list in the admin over a million orders in one shop.

`run(ctx)` builds a separate database (`weshop_bench_admin`, on the bench's server; the other bench
modules and the tests never see it), migrates it, loads the demo data, then in one `manage.py shell`
process (in-process, Django's test client, no HTTP server in between):

1. adds 2,000 buyers and 100 orders to the demo merchant's shop, and measures the pages below;
2. adds orders with set-based SQL (generate_series) up to BENCH_ADMIN_ORDERS (1,000,000), spread over
   90 days (1% paid and waiting to ship, 2% cancelled, the rest completed), runs ANALYZE, and measures
   the pages again.

Pages, as the shop's owner: the order list, an exact order-number search and a phone search (a
buyer's phone: that buyer has about 500 orders). Each is the median of BENCH_ADMIN_ROUNDS (7) requests
after two warm-ups. Figures: `admin_orders_1m_<page>_ms` (goal <= 100 ms each), the worst of them as
`admin_orders_1m_ms`, and `admin_orders_1m_extra_queries`: queries at 1M minus queries at 100 orders,
summed over the pages (goal 0); `admin_orders_1m_sql_ms`, the database's share of the slowest page,
and `admin_orders_100_ms`, the same pages with 100 orders (what rendering alone costs on this machine).
The database is dropped afterwards.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

ADMIN_DATABASE = os.environ.get("BENCH_ADMIN_DATABASE", "weshop_bench_admin")
ORDERS = int(os.environ.get("BENCH_ADMIN_ORDERS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ADMIN_ROUNDS", "7"))
BUYERS = 2000
SMALL = 100
MERCHANT_PHONE = "13800000001"
PAGES = ("list", "number_search", "phone_search")


def _log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def run(ctx) -> list[tuple[str, float, str]]:
    import psycopg

    parts = urlsplit(ctx.database_url)
    database_url = urlunsplit(parts._replace(path=f"/{ADMIN_DATABASE}"))
    maintenance_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{ADMIN_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{ADMIN_DATABASE}"')
    env = {
        **ctx.env,
        "DATABASE_URL": database_url,
        "CACHE_KEY_PREFIX": "weshop-bench-admin",
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "BENCH_ADMIN_ORDERS": str(ORDERS),
        "BENCH_ADMIN_ROUNDS": str(ROUNDS),
    }
    try:
        for args in (("migrate", "--noinput"), ("seed_demo",)):
            subprocess.run(
                [sys.executable, "manage.py", *args], cwd=ctx_root(), env=env, check=True, capture_output=True
            )
        _log(f"admin bench: {ORDERS:,} orders into {ADMIN_DATABASE}")
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from tests.load.bench_admin import measure; measure()",
            ],
            cwd=ctx_root(),
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f"admin bench failed:\n{result.stdout}\n{result.stderr[-4000:]}")
    finally:
        with psycopg.connect(maintenance_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{ADMIN_DATABASE}" WITH (FORCE)')
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    _log(f"admin bench details: {json.dumps(figures)}")
    out = [(f"admin_orders_1m_{page}_ms", figures["large"][page]["ms"], "ms") for page in PAGES]
    out.append(("admin_orders_1m_ms", max(figures["large"][page]["ms"] for page in PAGES), "ms"))
    extra = sum(figures["large"][page]["queries"] - figures["small"][page]["queries"] for page in PAGES)
    out.append(("admin_orders_1m_extra_queries", extra, "queries"))
    out.append(("admin_orders_1m_list_queries", figures["large"]["list"]["queries"], "queries"))
    out.append(("admin_orders_1m_sql_ms", max(figures["large"][page]["sql_ms"] for page in PAGES), "ms"))
    out.append(("admin_orders_100_ms", max(figures["small"][page]["ms"] for page in PAGES), "ms"))
    return out


def ctx_root():
    from tests.load.bench import ROOT

    return ROOT


# --- inside `manage.py shell` on the admin bench database -----------------------------------------


def _insert_orders(*, shop, buyers: list[tuple[int, str]], start: int, stop: int, total: int) -> None:
    """Orders number start..stop-1 in one INSERT ... SELECT over generate_series. Every column of the
    order table gets a value: the generated ones below, and for any other column its default."""
    from django.db import connection

    from shop.models import Order

    spread_seconds = 90 * 86400
    expressions = {
        "number": "'9' || lpad(g::text, 19, '0')",
        "buyer_id": "(%(buyer_ids)s::bigint[])[1 + g %% %(buyer_count)s]",
        "shop_id": "%(shop_id)s",
        "kind": "'standard'",
        "status": "CASE WHEN g %% 100 = 0 THEN 'paid' WHEN g %% 50 = 1 THEN 'cancelled' ELSE 'completed' END",
        "items_fen": "1000 + (g %% 500) * 100",
        "shipping_fen": "0",
        "total_fen": "1000 + (g %% 500) * 100",
        "refunded_fen": "0",
        "recipient_name": "'买家'",
        "recipient_phone": "(%(buyer_phones)s::text[])[1 + g %% %(buyer_count)s]",
        "province": "'浙江省'",
        "city": "'杭州市'",
        "district": "'西湖区'",
        "address_detail": "'文三路 ' || (g %% 999)::text || ' 号'",
        "note": "''",
        "carrier": "CASE WHEN g %% 100 IN (0) OR g %% 50 = 1 THEN '' ELSE '顺丰速运' END",
        "tracking_number": "CASE WHEN g %% 100 IN (0) OR g %% 50 = 1 THEN '' ELSE 'SF' || g::text END",
        "created_at": "now() - make_interval(secs => (%(total)s - g) * %(step)s)",
        "payment_deadline": "now() - make_interval(secs => (%(total)s - g) * %(step)s) "
        "+ interval '15 minutes'",
        "paid_at": "CASE WHEN g %% 50 = 1 AND g %% 100 <> 0 THEN NULL "
        "ELSE now() - make_interval(secs => (%(total)s - g) * %(step)s) + interval '1 minute' END",
        "shipped_at": "CASE WHEN g %% 100 = 0 OR g %% 50 = 1 THEN NULL "
        "ELSE now() - make_interval(secs => (%(total)s - g) * %(step)s) + interval '1 day' END",
        "received_at": "CASE WHEN g %% 100 = 0 OR g %% 50 = 1 THEN NULL "
        "ELSE now() - make_interval(secs => (%(total)s - g) * %(step)s) + interval '3 days' END",
        "completed_at": "CASE WHEN g %% 100 = 0 OR g %% 50 = 1 THEN NULL "
        "ELSE now() - make_interval(secs => (%(total)s - g) * %(step)s) + interval '10 days' END",
        "cancelled_at": "CASE WHEN g %% 50 = 1 AND g %% 100 <> 0 "
        "THEN now() - make_interval(secs => (%(total)s - g) * %(step)s) + interval '15 minutes' END",
        "cancel_reason": "''",
    }
    params = {
        "buyer_ids": [buyer_id for buyer_id, _phone in buyers],
        "buyer_phones": [phone for _id, phone in buyers],
        "buyer_count": len(buyers),
        "shop_id": shop.pk,
        "total": total,
        "step": spread_seconds / total,
        "start": start,
        "stop": stop - 1,
    }
    columns, values = [], []
    for field in Order._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in expressions:
            values.append(expressions[field.column])
        elif field.null:
            values.append("NULL")
        elif field.has_default():
            name = f"default_{field.column}"
            params[name] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({name})s")
        else:
            raise RuntimeError(f"bench_admin: no value for the new column shop_order.{field.column}")
    sql = (
        f"INSERT INTO shop_order ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(%(start)s, %(stop)s) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _measure_pages(client, urls: dict[str, str]) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    figures = {}
    for page, url in urls.items():
        for _ in range(2):
            assert client.get(url).status_code == 200, url
        timings = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries = [query for query in captured if '"django_session"' not in query["sql"]]
        figures[page] = {
            "ms": round(statistics.median(timings), 1),
            "queries": len(queries),
            # The database's share (the rest is rendering the page, the same at any size).
            "sql_ms": round(sum(float(query["time"]) for query in queries) * 1000, 1),
        }
    return figures


def measure() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from shop.models import Shop

    User = get_user_model()
    owner = User.objects.get(phone=MERCHANT_PHONE)
    shop = Shop.objects.filter(owner=owner).order_by("pk").first()
    User.objects.bulk_create(
        [User(phone=f"1770{index:07d}", nickname=f"买家{index}", password="!") for index in range(BUYERS)],
        batch_size=1000,
    )
    buyers = list(User.objects.filter(phone__startswith="1770").order_by("pk").values_list("pk", "phone"))
    _insert_orders(shop=shop, buyers=buyers, start=1, stop=SMALL + 1, total=ORDERS)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client()
    client.force_login(owner)

    def urls(total: int) -> dict[str, str]:
        middle = total // 2
        return {
            "list": "/admin/shop/order/",
            "number_search": f"/admin/shop/order/?q=9{middle:019d}",
            "phone_search": f"/admin/shop/order/?q={buyers[middle % len(buyers)][1]}",
        }

    small = _measure_pages(client, urls(SMALL))
    started = time.perf_counter()
    step = 250_000
    for start in range(SMALL + 1, ORDERS + 1, step):
        _insert_orders(
            shop=shop, buyers=buyers, start=start, stop=min(start + step, ORDERS + 1), total=ORDERS
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE shop_order")
    generated_seconds = round(time.perf_counter() - started, 1)
    large = _measure_pages(client, urls(ORDERS))
    count = shop.orders.count()
    print(json.dumps({"small": small, "large": large, "orders": count, "generate_s": generated_seconds}))
