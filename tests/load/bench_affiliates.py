"""Affiliate figures for `make bench` (see tests/load/bench.py for ctx).

- click_redirect_ratio: requests/s of GET /t/<code> (look the link up and commit the click to the
  PostgreSQL inbox in one prepared statement, sign and set the attribution cookie, 302) over the bare
  view's, measured in turns. Goal >= 0.7.
- showcase_ratio, signed_in_showcase_ratio: a creator's public showcase /s/<code>/ (shared part
  cached, the visitor's parts layered on) signed out, and signed in as the demo shopper, over the
  bare view's.
- promoter_pool_ratio, promoter_showcase_edit_ratio, promoter_links_ratio, promoter_ledger_ratio: the
  promoter's own pages (/promoter/pool/, /promoter/showcase/, /promoter/links/, /promoter/ledger/)
  signed in as the demo creator 带货达人 (13800000004: a showcase, links in six scenes with clicks,
  settled and clawed-back commission), over the bare view's, in turns. Compare them with
  signed_in_product_detail_ratio (tests/load/bench_catalog.py).
- checkout_attributed_ratio: orders/s of POST /api/v1/checkout/buy-now/ for a product whose
  buyers all clicked a creator's link (each order line attributed, snapshot written in checkout's
  transaction) over orders/s for a product nobody promotes, same buyers, in turns. Goal >= 0.85.
- settle_100k_vs_sql_ratio: seconds for the settle job (ledger_settle) to settle 100,000 pending
  entries of completed orders over seconds for one plain `UPDATE ... SET status = 'settled'` of the
  same rows, in turns, medians. Goal <= 3.
"""

from __future__ import annotations

import json
import statistics
import urllib.request

from tests.load.bench_catalog import _SIGN_IN, _shopper_credentials
from tests.load.bench_checkout import BUY_NOW, CONNECTIONS, ROUNDS, SECONDS, _last_line

BUYERS = 64
CREATOR_PHONE = "13800000004"  # seed_demo's 带货达人
PROMOTER_PAGES = (
    ("promoter_pool", "/promoter/pool/"),
    ("promoter_showcase_edit", "/promoter/showcase/"),
    ("promoter_links", "/promoter/links/"),
    ("promoter_ledger", "/promoter/ledger/"),
)
# Withdrawal pages (payouts), signed in: the creator's own and the agency owner's (星河机构负责人).
AGENCY_OWNER_PHONE = "13800000020"
WALLET_PAGES = (
    ("promoter_withdrawals", "/promoter/withdrawals/", CREATOR_PHONE),
    ("agency_withdrawals", "/promoter/agency/withdrawals/", AGENCY_OWNER_PHONE),
)

SETUP = r"""
import json, uuid
from datetime import timedelta
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from accounts.models import Address, User
from affiliates import services
from affiliates.models import Click
from shop.models import SKU, Category, Product, Shop, ShopMembership

tag = uuid.uuid4().hex[:8]
with transaction.atomic():
    owner = User.objects.create_user(phone=f"1960{int(tag, 16) %% 10**7:07d}", password=None, is_staff=True)
    shop = Shop.objects.create(name="带货压测", slug=f"bench-aff-{tag}", owner=owner)
    ShopMembership.objects.create(shop=shop, user=owner, role="owner")
    category = Category.objects.order_by("id").first()
    def sku(title):
        product = Product.objects.create(
            shop=shop, category=category, title=title, status="on_sale", price_fen=990
        )
        return SKU.objects.create(product=product, spec_label="默认", price_fen=990, stock=10_000_000)
    plain, promoted = sku("无推广"), sku("带货款")
    operator = User.objects.filter(is_superuser=True).first()
    creator_user = User.objects.create_user(phone=f"1950{int(tag, 16) %% 10**7:07d}", password=None)
    creator = services.promoter_apply(user=creator_user, role="creator", display_name="压测达人",
                                      real_name="压测", id_number="110101199001011234")
    services.promoter_review(promoter_id=creator.pk, operator=operator, approve=True)
    creator.refresh_from_db()
    services.plan_set(product=promoted.product, kind="public", rate_bp=1500)
    services.showcase_add(promoter=creator, product_id=promoted.product_id)
    link = services.link_create(promoter=creator, scene="channels_video", product_id=promoted.product_id)
    buyers = []
    now = timezone.now()
    for i in range(%(buyers)d):
        user = User.objects.create_user(phone=f"194{i:04d}{int(tag, 16) %% 10**4:04d}", password=None)
        address = Address.objects.create(
            user=user, recipient_name="压测", phone="13900000000", province="广东省", city="深圳市",
            district="南山区", detail="科技园", is_default=True,
        )
        Click.objects.create(click_id=uuid.uuid4(), link=link, visitor=uuid.uuid4().hex, user=user,
                             clicked_at=now - timedelta(hours=1))
        buyers.append((Token.objects.create(user=user).key, address.pk))
print(json.dumps({"code": link.code, "showcase": creator.showcase_code, "plain": plain.pk,
                  "promoted": promoted.pk, "buyers": buyers}))
"""

SETTLE = r"""
import statistics, time, uuid
from datetime import timedelta
from django.db import connection, transaction
from django.utils import timezone
from accounts.models import User
from affiliates.ledger import ledger_settle
from shop.models import Order, OrderLine, Shop

ENTRIES, PER_ORDER = 100_000, 10
now = timezone.now()
shop = Shop.objects.order_by("id").first()
buyer = User.objects.order_by("id").first()
with connection.cursor() as cursor:
    cursor.execute("SELECT id FROM affiliates_promoter ORDER BY id LIMIT 1")
    promoter_id = cursor.fetchone()[0]
tag = uuid.uuid4().int %% 10**6
with transaction.atomic():
    orders = Order.objects.bulk_create(
        [Order(number=f"B{tag:06d}{i:08d}", buyer=buyer, shop=shop, status="completed", items_fen=1000,
               total_fen=1000, payment_deadline=now, paid_at=now, completed_at=now)
         for i in range(ENTRIES // PER_ORDER)], batch_size=5000)
    OrderLine.objects.bulk_create(
        [OrderLine(order=order, title="压测", unit_price_fen=100, quantity=1, total_fen=100)
         for order in orders for _ in range(PER_ORDER)], batch_size=5000)
    first, last = orders[0].pk, orders[-1].pk
    with connection.cursor() as cursor:
        cursor.execute(
            '''INSERT INTO affiliates_commissionentry (kind, role, status, promoter_id, order_id,
                order_line_id, shop_id, scene, rate_bp, base_fen, commission_fen, agency_fee_bp,
                share_bp, amount_fen, created_at)
            SELECT 'commission', 'creator', 'pending', %%s, l.order_id, l.id, %%s, 'chat',
                   1000, 100, 10, 0, 0, 10, now()
            FROM shop_orderline l WHERE l.order_id BETWEEN %%s AND %%s''',
            [promoter_id, shop.pk, first, last],
        )
        cursor.execute("ANALYZE affiliates_commissionentry")
        cursor.execute("ANALYZE shop_order")

def reset():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE affiliates_commissionentry SET status = 'pending', settled_at = NULL "
                       "WHERE order_id BETWEEN %%s AND %%s", [first, last])

def plain():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE affiliates_commissionentry SET status = 'settled', settled_at = now() "
                       "WHERE status = 'pending' AND order_id BETWEEN %%s AND %%s", [first, last])
        return cursor.rowcount

job_runs, sql_runs = [], []
for _ in range(%(rounds)d):
    reset()
    start = time.perf_counter()
    assert plain() == ENTRIES
    sql_runs.append(time.perf_counter() - start)
    reset()
    start = time.perf_counter()
    assert ledger_settle() == ENTRIES
    job_runs.append(time.perf_counter() - start)
print(statistics.median(job_runs), statistics.median(sql_runs))
"""


def run(ctx) -> list[tuple[str, float, str]]:
    data = json.loads(_last_line(ctx.manage("shell", "-c", SETUP % {"buyers": BUYERS})))
    figures = []
    click_rps, click_ratio = ctx.against_bare(f"/t/{data['code']}", name="click_redirect")
    figures += [("click_redirect_rps", click_rps, "req/s"), ("click_redirect_ratio", click_ratio, "x")]

    cookie, _token = _shopper_credentials(ctx)
    showcase = f"/s/{data['showcase']}/"
    for name, headers in (("showcase", ()), ("signed_in_showcase", (f"Cookie: {cookie}",))):
        rps, ratio = ctx.against_bare(showcase, name=name, headers=headers)
        figures += [(f"{name}_rps", rps, "req/s"), (f"{name}_ratio", ratio, "x")]

    creator_cookie = json.loads(_last_line(ctx.manage("shell", "-c", _SIGN_IN % CREATOR_PHONE)))["cookie"]
    for name, path in PROMOTER_PAGES:
        request = urllib.request.Request(ctx.base_url + path, headers={"Cookie": creator_cookie})
        with urllib.request.urlopen(request, timeout=10) as response:  # signed in, not sent to sign in
            if response.status != 200 or 'data-testid="promoter-page"' not in response.read().decode():
                raise RuntimeError(f"{path} did not answer the demo creator's own page")
        rps, ratio = ctx.against_bare(path, name=name, headers=(f"Cookie: {creator_cookie}",))
        figures += [(f"{name}_rps", rps, "req/s"), (f"{name}_ratio", ratio, "x")]

    for name, path, phone in WALLET_PAGES:
        wallet_cookie = json.loads(_last_line(ctx.manage("shell", "-c", _SIGN_IN % phone)))["cookie"]
        request = urllib.request.Request(ctx.base_url + path, headers={"Cookie": wallet_cookie})
        with urllib.request.urlopen(request, timeout=10) as response:  # their own page, not a sign-in
            if response.status != 200 or "/accounts/login/" in response.url:
                raise RuntimeError(f"{path} did not answer {phone}'s own page")
        rps, ratio = ctx.against_bare(path, name=name, headers=(f"Cookie: {wallet_cookie}",))
        figures += [(f"{name}_rps", rps, "req/s"), (f"{name}_ratio", ratio, "x")]

    buyers = ",".join(f"{token}:{address}" for token, address in data["buyers"])
    plain_env = {"BENCH_BUYERS": buyers, "BENCH_SKU": str(data["plain"])}
    promoted_env = {"BENCH_BUYERS": buyers, "BENCH_SKU": str(data["promoted"])}
    ctx.wrk("/", seconds=1, connections=CONNECTIONS, script=BUY_NOW, lua_env=promoted_env)  # warm up
    plain_runs, attributed_runs = [], []
    for _round in range(ROUNDS):
        plain_runs.append(
            ctx.wrk("/", seconds=SECONDS, connections=CONNECTIONS, script=BUY_NOW, lua_env=plain_env)
        )
        attributed_runs.append(
            ctx.wrk("/", seconds=SECONDS, connections=CONNECTIONS, script=BUY_NOW, lua_env=promoted_env)
        )
    # One statement: a checkout still finishing after wrk stopped must not fall between two counts.
    ((attributed_lines, promoted_lines),) = ctx.sql(
        "SELECT COUNT(*) FILTER (WHERE attribution IS NOT NULL), COUNT(*) FROM shop_orderline"
        " WHERE sku_id = %s",
        [data["promoted"]],
    )
    if attributed_lines != promoted_lines or not promoted_lines:
        raise RuntimeError(f"only {attributed_lines} of {promoted_lines} promoted lines were attributed")
    plain_rate, attributed_rate = statistics.median(plain_runs), statistics.median(attributed_runs)
    figures += [
        ("checkout_attributed_orders_per_s", attributed_rate, "orders/s"),
        ("checkout_attributed_ratio", attributed_rate / plain_rate, "x"),
    ]

    job_seconds, sql_seconds = map(
        float, _last_line(ctx.manage("shell", "-c", SETTLE % {"rounds": ROUNDS})).split()
    )
    figures += [
        ("settle_100k_seconds", job_seconds, "s"),
        ("settle_100k_vs_sql_ratio", job_seconds / sql_seconds, "x"),
    ]
    return figures
