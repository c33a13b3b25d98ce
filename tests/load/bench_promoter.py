"""`promoter_stats_ratio`: the promoter centre's statistics page (30 days) for a promoter with 100,000
clicks and 5,000 orders, signed in, over the bare view (goal >= 0.2); and its query count, which must
not grow with the history (`promoter_stats_extra_queries`, goal 0).

`run(ctx)` builds the promoter in the bench database in one `manage.py shell` (`setup()` below):
1. a creator (phone 13900000077) with 10 products from the demo shops in their showcase, one link per
   product in one of the eight scenes;
2. one real attributed order through checkout, paid and completed, and the page's query count
   measured then (Django's test client);
3. 4,999 more orders cloned from it with set-based SQL (generate_series) over the last 30 days, most
   completed, some cancelled, so the ledger job accrues, settles and cancels them for real; 100,000
   clicks over the same 30 days (2,000 visitors, repeats within 30 minutes included) by one INSERT;
4. `ledger_sync()` and `stats_rollup(full=True)` (their durations are printed as
   `promoter_stats_rollup_seconds`), and the page's query count again.
Then wrk measures /promoter/centre/ with the promoter's session cookie against the bare view.
"""

from __future__ import annotations

import json
import sys

PHONE = "13900000077"
ORDERS = 5000
CLICKS = 100_000


def _last_line(result) -> str:
    return result.stdout.strip().splitlines()[-1]


def run(ctx) -> list[tuple[str, float, str]]:
    result = ctx.manage("shell", "-c", "from tests.load.bench_promoter import setup; setup()", check=False)
    if result.returncode:
        raise RuntimeError(f"promoter bench setup failed:\n{result.stdout}\n{result.stderr[-4000:]}")
    data = json.loads(_last_line(result))
    print(
        f"# promoter bench: {json.dumps({k: v for k, v in data.items() if k != 'cookie'})}", file=sys.stderr
    )
    rps, ratio = ctx.against_bare(
        "/promoter/centre/", name="promoter_stats", headers=(f"Cookie: {data['cookie']}",)
    )
    return [
        ("promoter_stats_rps", rps, "req/s"),
        ("promoter_stats_ratio", ratio, "x"),
        ("promoter_stats_queries", data["queries_large"], "queries"),
        ("promoter_stats_extra_queries", data["queries_large"] - data["queries_small"], "queries"),
        ("promoter_stats_rollup_seconds", data["rollup_seconds"], "s"),
    ]


# --- inside `manage.py shell` on the bench database -------------------------------------------------


def _clone_sql(model, overrides: dict[str, str], source: str) -> tuple[str, list[str]]:
    """INSERT INTO model's table (every column but the key) SELECT the source row's columns, with
    `overrides` (column -> SQL expression) replacing some."""
    from django.db import connection

    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        values.append(overrides.get(field.column, f"{source}.{connection.ops.quote_name(field.column)}"))
    return ", ".join(columns), values


def _count_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert client.get("/promoter/centre/").status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/promoter/centre/").status_code == 200
    return len(captured)


def setup() -> None:
    import time
    import uuid

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils.crypto import get_random_string

    from affiliates import services
    from affiliates.demo import _complete, _pay
    from affiliates.ledger import ledger_sync
    from affiliates.models import Click, Promoter, Scene
    from affiliates.stats import period_from, promoter_stats, stats_rollup
    from shop.models import Order, OrderLine, Product
    from shop.services.checkout import checkout_place

    User = get_user_model()
    operator = User.objects.filter(is_superuser=True).order_by("pk").first()
    user = User.objects.create_user(PHONE, "bench-promoter-1", nickname="压测达人")
    promoter = services.promoter_apply(
        user=user,
        role=Promoter.Role.CREATOR,
        display_name="压测达人",
        real_name="压测",
        id_number="440305199001019999",
    )
    promoter = services.promoter_review(promoter_id=promoter.pk, operator=operator, approve=True)
    products = list(
        Product.objects.on_sale().filter(commission_plan__is_active=True, commission_plan__kind="public")[:10]
    )
    scenes = list(Scene.values)
    links = []
    for index, product in enumerate(products):
        services.showcase_add(promoter=promoter, product_id=product.pk)
        links.append(
            services.link_create(promoter=promoter, scene=scenes[index % len(scenes)], product_id=product.pk)
        )

    buyer = User.objects.filter(phone="13800000003").first()
    sku = products[0].skus.filter(is_active=True, stock__gt=0).order_by("pk").first()
    click = Click.objects.create(click_id=uuid.uuid4(), link=links[0], visitor="bench", clicked_at=_now())
    order = checkout_place(
        buyer=buyer,
        address_id=buyer.addresses.first().pk,
        items=[(sku.pk, 1)],
        checkout_context={
            "affiliate_clicks": [[links[0].pk, click.clicked_at.timestamp(), click.click_id.hex]]
        },
    )[0]
    _pay(order)
    _complete(order)
    ledger_sync()
    stats_rollup(full=True)
    client = Client(HTTP_HOST="127.0.0.1")  # a host the bench server's ALLOWED_HOSTS takes
    client.force_login(user)
    queries_small = _count_queries(client)

    # 4,999 more orders like it over 30 days: 90% completed, 10% cancelled after payment (closed).
    order_columns, order_values = _clone_sql(
        Order,
        {
            "number": "'8' || lpad(g::text, 19, '0')",
            "checkout_id": "gen_random_uuid()",
            "created_at": "now() - make_interval(secs => g * 518)",
            "paid_at": "now() - make_interval(secs => g * 518) + interval '1 minute'",
            "status": "CASE WHEN g %% 10 = 0 THEN 'closed' ELSE 'completed' END",
            "completed_at": "CASE WHEN g %% 10 = 0 THEN NULL ELSE now() - make_interval(secs => g * 518) "
            "+ interval '2 hours' END",
        },
        "o",
    )
    line_columns, line_values = _clone_sql(
        OrderLine,
        {
            "order_id": "n.id",
            "attribution": "jsonb_set(l.attribution, '{link}', "
            "to_jsonb((%(links)s::bigint[])[1 + n.g %% %(count)s]))",
            "product_id": "(%(products)s::bigint[])[1 + n.g %% %(count)s]",
        },
        "l",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO shop_order ({order_columns}) SELECT {', '.join(order_values)} "
            f"FROM shop_order o, generate_series(1, %s) AS g WHERE o.id = %s",
            [ORDERS - 1, order.pk],
        )
        cursor.execute(
            "WITH n AS (SELECT id, CAST(substr(number, 2) AS bigint) AS g FROM shop_order "
            "WHERE number LIKE '8%%' AND length(number) = 20) "
            f"INSERT INTO shop_orderline ({line_columns}) SELECT {', '.join(line_values)} "
            f"FROM n, shop_orderline l WHERE l.order_id = %(order)s",
            {
                "links": [link.pk for link in links],
                "products": [p.pk for p in products],
                "count": len(links),
                "order": order.pk,
            },
        )
        # 100,000 clicks over 30 days by 2,000 visitors; every fifth a repeat 10 minutes after another.
        cursor.execute(
            "INSERT INTO affiliates_click (click_id, link_id, visitor, user_id, clicked_at, recorded_at) "
            "SELECT gen_random_uuid(), (%(links)s::bigint[])[1 + g %% %(count)s], "
            "'bench' || (g %% 2000)::text, NULL, "
            "now() - make_interval(secs => (g / 5) * 129) - make_interval(secs => (g %% 5) * 600), now() "
            "FROM generate_series(1, %(clicks)s) AS g",
            {"links": [link.pk for link in links], "count": len(links), "clicks": CLICKS - 2},
        )
        cursor.execute("ANALYZE")
    started = time.perf_counter()
    ledger_sync()
    stats_rollup(full=True)
    rollup_seconds = time.perf_counter() - started
    queries_large = _count_queries(client)
    page = promoter_stats(promoter_ids=[promoter.pk], period=period_from(key="30"))["totals"]
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={get_random_string(32)}"
    print(
        json.dumps(
            {
                "cookie": cookie,
                "queries_small": queries_small,
                "queries_large": queries_large,
                "rollup_seconds": round(rollup_seconds, 2),
                "clicks_30_days": page["clicks"],
                "orders_30_days": page["orders"],
                "commission_fen": page["commission_fen"],
            }
        )
    )


def _now():
    from django.utils import timezone

    return timezone.now()
