"""The local demo (no DATABASE_URL) runs on SQLite: attribution, click storage and the ledger jobs'
SQL must work there too (the same statements as on PostgreSQL, minus the advisory lock)."""

import textwrap

from tests.foundation.helpers import clean_env, run_python

SCRIPT = textwrap.dedent(
    """
    import django, uuid
    django.setup()
    from datetime import timedelta
    from django.core.management import call_command
    from django.utils import timezone
    call_command("migrate", verbosity=0)
    from accounts.models import Address, User
    from affiliates import services
    from django.test import RequestFactory
    from affiliates.clicks import click_view, clicks_flush, clicks_insert, clicks_waiting
    from affiliates.ledger import ledger_sync
    from affiliates.models import Click, CommissionEntry
    from shop.models import SKU, Category, Order, Product, Shop, ShopMembership
    from shop.services.checkout import checkout_place

    operator = User.objects.create_superuser("13800000000", "x")
    owner = User.objects.create_user(phone="13800000001", password=None, is_staff=True)
    buyer = User.objects.create_user(phone="13800000003", password=None)
    shop = Shop.objects.create(name="小店", slug="demo", owner=owner)
    ShopMembership.objects.create(shop=shop, user=owner, role="owner")
    category = Category.objects.create(name="分类", slug="c")
    product = Product.objects.create(
        shop=shop, category=category, title="蛋糕", status="on_sale", price_fen=990
    )
    sku = SKU.objects.create(product=product, spec_label="默认", price_fen=990, stock=3)
    address = Address.objects.create(user=buyer, recipient_name="张三", phone="13900000000",
                                     province="广东省", city="深圳市", district="南山区", detail="1 号")
    creator = services.promoter_apply(
        user=User.objects.create_user(phone="13800000004", password=None),
        role="creator", display_name="达人", real_name="李四", id_number="110101199001011234",
    )
    creator = services.promoter_review(promoter_id=creator.pk, operator=operator, approve=True)
    services.plan_set(product=product, kind="public", rate_bp=1000)
    services.showcase_add(promoter=creator, product_id=product.pk)
    link = services.link_create(promoter=creator, scene="chat", product_id=product.pk)
    click_id = uuid.uuid4().hex
    now = timezone.now()
    clicks_insert([[click_id, link.pk, now.timestamp(), "v1", ""]])
    clicks_insert([[click_id, link.pk, now.timestamp(), "v1", ""]])
    opened = click_view(RequestFactory().get(f"/t/{link.code}"), link.code)
    waiting = clicks_waiting()
    moved = clicks_flush()
    context = {"affiliate_clicks": [[link.pk, now.timestamp(), click_id]]}
    [order] = checkout_place(
        buyer=buyer, address_id=address.pk, items=[(sku.pk, 2)], checkout_context=context
    )
    Order.objects.filter(pk=order.pk).update(status="completed", paid_at=now, completed_at=now)
    first, second = ledger_sync(), ledger_sync()
    entry = CommissionEntry.objects.get()
    print(opened.status_code, waiting, moved, clicks_waiting())
    print(Click.objects.count(), order.lines.get().attribution["creator"] == creator.pk,
          first["accrued"], first["settled"], sum(second.values()), entry.status, entry.amount_fen)
    """
)


def test_attribution_and_ledger_on_sqlite(tmp_path):
    env = clean_env(DATABASE_URL=None, REDIS_URL=None, DEBUG="1", VAR_DIR=str(tmp_path))
    result = run_python(SCRIPT, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-11:] == ["302", "1", "1", "0", "2", "True", "1", "1", "0", "settled", "198"]
