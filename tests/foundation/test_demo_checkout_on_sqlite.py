"""The local demo (no DATABASE_URL) runs on SQLite: checkout's hand-written SQL must work there too."""

import textwrap

from tests.foundation.helpers import clean_env, run_python

SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from accounts.models import Address, User
    from shop.models import SKU, Category, Order, Product, Shop, ShopMembership
    from shop.services.checkout import checkout_place
    from shop.services.errors import OutOfStock

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
    [order] = checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 2)])
    try:
        checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 2)])
    except OutOfStock:
        print("refused")
    sku.refresh_from_db()
    order = Order.objects.get(pk=order.pk)
    print(order.total_fen, order.lines.get().quantity, order.events.count(), sku.stock)
    """
)


def test_checkout_places_an_order_and_refuses_oversell_on_sqlite(tmp_path):
    env = clean_env(DATABASE_URL=None, REDIS_URL=None, DEBUG="1", VAR_DIR=str(tmp_path))
    result = run_python(SCRIPT, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == ["refused", "1980", "2", "1", "1"]
