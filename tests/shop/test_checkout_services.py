"""Checkout: one order per shop, snapshots, server-side prices, conditional stock, all or nothing."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outbox.models import Message
from shop.models import SKU, CartLine, Order, OrderEvent, OrderLine
from shop.services.cart import cart_add, cart_get_or_create
from shop.services.checkout import checkout_buy_now, checkout_from_cart, checkout_place, order_number_generate
from shop.services.errors import AddressRequired, EmptyCart, InvalidQuantity, NotPurchasable, OutOfStock
from shop.services.stock import stock_return, stock_take
from tests.factories import AddressFactory
from tests.shop.factories import ShopFactory
from tests.shop.order_factories import make_buyer, make_sku

pytestmark = pytest.mark.django_db


def test_cart_across_two_shops_becomes_one_order_per_shop_with_snapshots():
    buyer = make_buyer()
    shop_a, shop_b = ShopFactory(), ShopFactory()
    cake = make_sku(shop=shop_a, price_fen=12800, stock=5, title="草莓蛋糕", spec_label="6寸")
    tart = make_sku(shop=shop_a, price_fen=3500, stock=5)
    tea = make_sku(shop=shop_b, price_fen=990, stock=5)
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, sku_id=cake.pk, quantity=2)
    cart_add(cart=cart, sku_id=tart.pk, quantity=1)
    cart_add(cart=cart, sku_id=tea.pk, quantity=3)

    orders = checkout_from_cart(
        buyer=buyer, cart=cart, address_id=buyer.addresses.get().pk, notes={shop_a.pk: "少糖"}
    )

    assert len(orders) == 2
    by_shop = {order.shop_id: order for order in orders}
    first, second = by_shop[shop_a.pk], by_shop[shop_b.pk]
    assert first.checkout_id == second.checkout_id
    assert first.total_fen == 2 * 12800 + 3500 and first.items_fen == first.total_fen
    assert second.total_fen == 3 * 990
    assert first.note == "少糖" and second.note == ""
    assert first.recipient_name == "张三" and first.city == "深圳市"
    line = first.lines.get(sku=cake)
    assert (line.title, line.spec_label, line.unit_price_fen, line.quantity, line.total_fen) == (
        "草莓蛋糕",
        "6寸",
        12800,
        2,
        25600,
    )
    assert first.status == Order.Status.PENDING_PAYMENT
    assert first.payment_deadline > first.created_at
    assert (
        OrderEvent.objects.filter(order__in=orders, kind="placed", to_status="pending_payment").count() == 2
    )
    assert list(
        SKU.objects.filter(pk__in=[cake.pk, tart.pk, tea.pk]).order_by("pk").values_list("stock", flat=True)
    ) == [3, 4, 2]
    assert not CartLine.objects.filter(cart=cart).exists()


def test_placed_orders_carry_their_own_lines_and_a_further_filter_still_asks_the_database():
    buyer = make_buyer()
    tea, cake = make_sku(shop=ShopFactory(), stock=5), make_sku(shop=ShopFactory(), stock=5)
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, sku_id=tea.pk, quantity=1)
    cart_add(cart=cart, sku_id=cake.pk, quantity=2)
    first, second = checkout_from_cart(buyer=buyer, cart=cart, address_id=buyer.addresses.get().pk)
    with CaptureQueriesContext(connection) as captured:  # rendered from memory
        assert [line.sku_id for line in first.lines.all()] == [tea.pk]
        assert [line.sku_id for line in second.lines.all()] == [cake.pk]
    assert len(captured) == 0
    with CaptureQueriesContext(connection) as captured:
        assert list(second.lines.filter(quantity__gte=1).values_list("sku_id", flat=True)) == [cake.pk]
        assert first.lines.filter(sku=cake).count() == 0 and first.lines.count() == 1
    assert len(captured) == 2  # the filtered ones ask, and only for the order's own lines


def test_price_comes_from_the_sku_at_ordering_and_later_changes_do_not_move_the_line():
    buyer = make_buyer()
    sku = make_sku(price_fen=5000)
    order = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=2, address_id=buyer.addresses.get().pk)
    SKU.objects.filter(pk=sku.pk).update(price_fen=1)
    line = order.lines.get()
    line.refresh_from_db()
    assert line.unit_price_fen == 5000 and order.total_fen == 10000


def test_out_of_stock_refuses_everything_and_changes_nothing():
    buyer = make_buyer()
    plenty = make_sku(stock=10)
    scarce = make_sku(stock=1)
    with pytest.raises(OutOfStock):
        checkout_place(
            buyer=buyer, address_id=buyer.addresses.get().pk, items=[(plenty.pk, 2), (scarce.pk, 2)]
        )
    assert not Order.objects.exists()
    plenty.refresh_from_db(), scarce.refresh_from_db()
    assert (plenty.stock, scarce.stock) == (10, 1)


def test_the_address_read_with_the_skus_is_the_buyers_own_and_named_first_when_wrong():
    """A standard checkout reads its address in the SKUs' statement: someone else's address is
    refused as missing, also when no SKU exists to carry it, and a good address with a bad SKU is
    refused for the SKU."""
    buyer, stranger = make_buyer(), make_buyer()
    sku = make_sku(stock=5)
    foreign = stranger.addresses.get().pk
    for sku_id in (sku.pk, 10**12):
        with pytest.raises(AddressRequired):
            checkout_buy_now(buyer=buyer, sku_id=sku_id, quantity=1, address_id=foreign)
    with pytest.raises(NotPurchasable):
        checkout_buy_now(buyer=buyer, sku_id=10**12, quantity=1, address_id=buyer.addresses.get().pk)
    assert not Order.objects.exists()
    own = buyer.addresses.get()
    order = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=own.pk)
    assert (order.recipient_name, order.address_detail) == (own.recipient_name, own.detail)


def test_one_sku_short_of_stock_refuses_the_order_its_lines_events_and_announcement():
    """A single SKU's stock is taken in the statement that writes the lines, events and outbox
    messages: when it is short, that statement's rows are rolled back with the order."""
    buyer = make_buyer()
    scarce = make_sku(stock=1)
    with pytest.raises(OutOfStock) as refused:
        checkout_buy_now(buyer=buyer, sku_id=scarce.pk, quantity=2, address_id=buyer.addresses.get().pk)
    assert refused.value.field == f"sku_{scarce.pk}"
    assert not Order.objects.exists() and not OrderLine.objects.exists() and not OrderEvent.objects.exists()
    assert not Message.objects.exists()
    scarce.refresh_from_db()
    assert scarce.stock == 1
    order = checkout_buy_now(buyer=buyer, sku_id=scarce.pk, quantity=1, address_id=buyer.addresses.get().pk)
    scarce.refresh_from_db()
    assert scarce.stock == 0 and order.lines.get().quantity == 1


@pytest.mark.parametrize(
    "change,error",
    [
        ({"is_active": False}, NotPurchasable),
        ({"product__status": "off_shelf"}, NotPurchasable),
        ({"product__shop__status": "suspended"}, NotPurchasable),
    ],
)
def test_items_not_on_sale_are_refused(change, error):
    buyer = make_buyer()
    sku = make_sku()
    if "is_active" in change:
        SKU.objects.filter(pk=sku.pk).update(is_active=False)
    elif "product__status" in change:
        sku.product.status = "off_shelf"
        sku.product.save()
    else:
        sku.product.shop.status = "suspended"
        sku.product.shop.save()
    with pytest.raises(error):
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 1)])
    assert not Order.objects.exists()


def test_bad_input_is_refused():
    buyer = make_buyer()
    other_address = AddressFactory()
    sku = make_sku()
    with pytest.raises(AddressRequired):
        checkout_place(buyer=buyer, address_id=other_address.pk, items=[(sku.pk, 1)])
    with pytest.raises(AddressRequired):
        checkout_place(buyer=buyer, address_id="x", items=[(sku.pk, 1)])
    with pytest.raises(InvalidQuantity):
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 0)])
    with pytest.raises(InvalidQuantity):
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 100)])
    with pytest.raises(EmptyCart):
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[])
    with pytest.raises(NotPurchasable):
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(99999999, 1)])
    assert not Order.objects.exists()


def test_same_checkout_id_twice_places_once():
    buyer = make_buyer()
    sku = make_sku(stock=5)
    key = uuid.uuid4()
    address_id = buyer.addresses.get().pk
    first = checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)], checkout_id=key)
    again = checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)], checkout_id=key)
    assert [o.pk for o in first] == [o.pk for o in again]
    sku.refresh_from_db()
    assert sku.stock == 4 and Order.objects.count() == 1


def test_order_numbers_are_unique_sortable_and_twenty_digits():
    numbers = [order_number_generate() for _ in range(200)]
    assert len(set(numbers)) == 200
    assert all(len(n) == 20 and n.isdigit() for n in numbers)


def test_stock_take_is_conditional_and_return_puts_back():
    a, b = make_sku(stock=3), make_sku(stock=1)
    from django.db import transaction

    with transaction.atomic():
        stock_take(quantities={a.pk: 2, b.pk: 1})
    with pytest.raises(OutOfStock), transaction.atomic():
        stock_take(quantities={a.pk: 2})
    with transaction.atomic():
        stock_return(quantities={a.pk: 2, b.pk: 1})
    a.refresh_from_db(), b.refresh_from_db()
    assert (a.stock, b.stock) == (3, 1)


def test_checkout_of_a_three_line_cart_stays_within_the_query_budget(django_assert_max_num_queries):
    buyer = make_buyer()
    shop = ShopFactory()
    skus = [make_sku(shop=shop, stock=10) for _ in range(3)]
    cart = cart_get_or_create(user=buyer)
    for sku in skus:
        cart_add(cart=cart, sku_id=sku.pk, quantity=1)
    address_id = buyer.addresses.get().pk
    with CaptureQueriesContext(connection) as captured:
        checkout_from_cart(buyer=buyer, cart=cart, address_id=address_id, checkout_id=uuid.uuid4())
    # Pinned: cart lines, address, SKUs + images, buyer lock, idempotency check, orders, lines,
    # events, cart lines delete, SKU lock, stock UPDATE, plus savepoints.
    assert len(captured) <= 15, [q["sql"][:80] for q in captured]


def test_line_snapshots_the_first_image_thumbnail():
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from shop.models import ProductImage

    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), "green").save(buffer, "PNG")
    sku = make_sku()
    ProductImage.objects.create(
        product=sku.product, image=SimpleUploadedFile("b.png", buffer.getvalue()), position=2
    )
    ProductImage.objects.create(
        product=sku.product, image=SimpleUploadedFile("a.png", buffer.getvalue()), position=1
    )
    buyer = make_buyer()
    order = checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 1)])[0]
    url = order.lines.get().image_url
    assert url.startswith("/media/") and url.endswith(".jpg") and "a" in url.rsplit("/", 2)[-2]
