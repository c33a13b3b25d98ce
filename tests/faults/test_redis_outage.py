"""Redis stops in the middle of everything, then comes back empty: the shop keeps selling.

The shop runs as it does in production (gunicorn, a Celery worker, beat) on this test's PostgreSQL
database and on a redis-server of the test's own (never the shared one), which is killed while a
shopper browses, signs in, checks out and pays, and a merchant ships. It comes back empty: what was
queued in it is gone. Every effect recorded in the outbox is then delivered, each exactly once.
"""

import re
import uuid

import pytest
import requests
from rest_framework.authtoken.models import Token

from accounts.models import Notification
from outbox.models import Message
from shop.models import Order, OrderEvent, Payment
from shop.payments.sandbox.notify import build_payment_notification
from tests.factories import AddressFactory, UserFactory
from tests.faults.processes import REDIS_SERVER, OwnRedis, Processes, shop_env, wait_until
from tests.shop.factories import ShopFactory
from tests.shop.order_factories import make_sku

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server"),
]
PASSWORD = "correct-horse-battery-9"


def _buy_now(base, token, sku, address, checkout_id):
    return requests.post(
        f"{base}/api/v1/checkout/buy-now/",
        json={"sku_id": sku.pk, "address_id": address.pk, "quantity": 1, "checkout_id": checkout_id},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )


def test_redis_down_then_back_empty_costs_no_sale_and_loses_no_effect(tmp_path):
    shop = ShopFactory(name="故障小店")
    merchant_token = Token.objects.create(user=shop.owner).key
    sku = make_sku(shop=shop, stock=10, price_fen=1990)
    buyer = UserFactory(nickname="小明")
    address = AddressFactory(user=buyer)
    buyer_token = Token.objects.create(user=buyer).key

    own_redis = OwnRedis(tmp_path)
    own_redis.start()
    processes = Processes()
    env = shop_env(
        own_redis,
        OUTBOX_SWEEP_SECONDS="1",
        OUTBOX_RELAY_GRACE_SECONDS="1",
        OUTBOX_REDELIVER_SECONDS="5",
    )
    try:
        base = processes.web(env)
        product_page = f"{base}/products/{sku.product_id}/"
        assert requests.get(product_page, timeout=30).status_code == 200  # cached in our Redis now

        # With Redis up and no worker yet: a checkout whose announcement waits in Redis's queue.
        before = _buy_now(base, buyer_token, sku, address, str(uuid.uuid4()))
        assert before.status_code == 201, before.text
        assert own_redis.queued() == 1

        own_redis.stop()  # Redis is gone, and so is what it held (the queued relay above)

        # Browsing: pages render from PostgreSQL.
        for url in (f"{base}/", product_page, f"{base}/search/?q=%E6%95%85"):
            page = requests.get(url, timeout=30)
            assert page.status_code == 200, (url, page.status_code)
        health = requests.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 503 and list(health.json()["failed"]) == ["redis"]
        assert health.json()["cache_errors"] > 0  # each miss was counted (and logged once a minute)

        # Signing in works from the database: a token, and a page session (cached_db, read back from
        # PostgreSQL on the next request).
        token = requests.post(
            f"{base}/api/v1/auth/token/", json={"phone": buyer.phone, "password": PASSWORD}, timeout=30
        )
        assert token.status_code == 200 and token.json()["token"] == buyer_token
        browser = requests.Session()
        login_page = browser.get(f"{base}/accounts/login/", timeout=30)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
        signed_in = browser.post(
            f"{base}/accounts/login/",
            data={"csrfmiddlewaretoken": csrf, "username": buyer.phone, "password": PASSWORD},
            headers={"Referer": f"{base}/accounts/login/"},
            allow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code == 302, signed_in.text[:500]
        me = browser.get(f"{base}/accounts/", allow_redirects=False, timeout=30)
        assert me.status_code == 200 and "小明" in me.text

        # Checkout answers the truth: 201 with the order, and a retry with the same key gets the same order.
        checkout_id = str(uuid.uuid4())
        placed = _buy_now(base, buyer_token, sku, address, checkout_id)
        assert placed.status_code == 201, placed.text
        again = _buy_now(base, buyer_token, sku, address, checkout_id)
        assert again.status_code == 201 and again.json()["number"] == placed.json()["number"]
        order = Order.objects.get(checkout_id=checkout_id)
        assert order.number == placed.json()["number"]

        # WeChat Pay's notification is processed: the order is paid once, however often it comes.
        payment = Payment.objects.create(
            order=order,
            provider="wechatpay",
            out_trade_no=f"F{uuid.uuid4().hex[:20]}",
            amount_fen=order.total_fen,
        )
        headers, body = build_payment_notification(
            out_trade_no=payment.out_trade_no,
            transaction_id=f"42{uuid.uuid4().int % 10**26:026d}",
            amount_fen=1990,
        )
        for _ in range(2):
            notified = requests.post(
                f"{base}/payments/notify/wechatpay/", data=body, headers=headers, timeout=30
            )
            assert notified.status_code in (200, 204), notified.text
        order.refresh_from_db()
        assert order.status == Order.Status.PAID

        # The merchant ships it: the buyer's notification is queued (in PostgreSQL).
        shipped = requests.post(
            f"{base}/api/v1/merchant/orders/{order.number}/ship/",
            json={"carrier": "顺丰速运", "tracking_number": "SF100200300"},
            headers={"Authorization": f"Token {merchant_token}"},
            timeout=30,
        )
        assert shipped.status_code == 200, shipped.text
        waiting = Message.objects.filter(done_at__isnull=True)
        assert waiting.filter(handler="accounts.services.notification_deliver").count() >= 2

        # Redis comes back empty; a worker and beat start. Everything owed is delivered.
        own_redis.start()
        assert own_redis.queued() == 0
        processes.worker(env)
        processes.beat(env, tmp_path / "beat-schedule")
        wait_until(
            lambda: not Message.objects.filter(done_at__isnull=True).exists(),
            timeout=90,
            message=f"undelivered: {list(Message.objects.filter(done_at__isnull=True).values())}",
        )
        assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        log = processes.stop_all()
        own_redis.stop()

    # Exactly once: every message ran once (a second delivery finds it done and does nothing), and
    # each notification reached its inbox once.
    runs = sorted(set(Message.objects.values_list("attempts", flat=True)))
    assert runs == [1], log[-3000:]
    owner = shop.owner
    assert Notification.objects.filter(user=owner, key=f"order-paid:{order.pk}:{owner.pk}").count() == 1
    assert Notification.objects.filter(user=buyer, key=f"order-shipped:{order.pk}").count() == 1
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1
    assert Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).count() == 1
    first = Order.objects.get(number=before.json()["number"])
    announced = Message.objects.filter(payload__signal="order_placed", payload__order_ids=[first.pk])
    assert announced.exists() and not announced.filter(done_at__isnull=True).exists()
    assert Order.objects.filter(buyer=buyer).count() == 2
    sku.refresh_from_db()
    assert sku.stock == 8
