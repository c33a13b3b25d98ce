"""Bad input on the pages: every form-handling page, fed garbage, answers with a refusal (4xx), the
form shown again with its errors, or (for the one-button actions) a redirect carrying an error
message. Never a 500, and not one row of the shop changes. Then a second shopper (and a second
merchant) asks for every detail page of the first one's objects: 404 (or 403), never the data.
"""

from dataclasses import dataclass, field
from io import BytesIO

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from PIL import Image

from accounts.models import Address, FriendRequest, Friendship, Notification, User
from shop.models import (
    SKU,
    AfterSalesPhoto,
    AfterSalesRequest,
    Cart,
    CartLine,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Product,
    ProductLike,
    Refund,
)
from shop.services.aftersales import after_sales_create
from tests.factories import AddressFactory, FriendRequestFactory, NotificationFactory, UserFactory
from tests.shop.factories import ProductFactory, SKUFactory
from tests.shop.order_factories import pay_order, place_order, ship_order

WATCHED = [
    User,
    Address,
    Friendship,
    FriendRequest,
    Notification,
    Cart,
    CartLine,
    Order,
    OrderLine,
    OrderEvent,
    Payment,
    Refund,
    AfterSalesRequest,
    AfterSalesPhoto,
    SKU,
    Product,
    ProductLike,
]


def snapshot() -> dict:
    """Every watched row, every column (a login's timestamp aside)."""
    rows = {}
    for model in WATCHED:
        values = list(model.objects.order_by("pk").values())
        if model is User:
            for row in values:
                row.pop("last_login")
        rows[model.__name__] = values
    return rows


def image_file(name="photo.png", *, size=(16, 16), image_format="PNG", content_type="image/png"):
    buffer = BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format=image_format)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def not_an_image(name="photo.png"):
    return SimpleUploadedFile(name, b"<?php echo 'not a picture'; ?>" * 20, content_type="image/png")


@dataclass
class World:
    me: User
    stranger: User
    my_sku: SKU
    off_sale_sku: SKU
    my_address: Address
    their_address: Address
    placed: Order
    shipped: Order
    theirs: Order
    their_after_sales: AfterSalesRequest
    their_notification: Notification
    their_friend_request: FriendRequest
    extra: dict = field(default_factory=dict)


@pytest.fixture
def world(db, client):
    me = UserFactory(nickname="小明")
    stranger = UserFactory(nickname="小红")
    my_address = AddressFactory(user=me)
    their_address = AddressFactory(user=stranger, detail="小红家的地址 9 号")
    my_sku = SKUFactory(product=ProductFactory(title="草莓蛋糕"), price_fen=1200, stock=50)
    off_sale_sku = SKUFactory(product=ProductFactory(title="下架蛋糕", status=Product.Status.OFF_SHELF))
    placed = place_order(buyer=me, sku=my_sku)
    shipped = ship_order(pay_order(place_order(buyer=me, sku=my_sku, quantity=2)))
    theirs = pay_order(place_order(buyer=stranger, sku=my_sku))
    their_after_sales = after_sales_create(
        buyer=stranger,
        order_id=theirs.pk,
        line_id=theirs.lines.first().pk,
        kind="refund_only",
        quantity=1,
        reason="不想要了",
    )
    their_notification = NotificationFactory(user=stranger, title="小红的通知")
    their_friend_request = FriendRequestFactory(from_user=stranger, to_user=UserFactory())
    client.force_login(me)
    # One line in my cart, so the cart and checkout pages have something to refuse against.
    client.post(reverse("shop:cart-add"), {"sku_id": my_sku.pk, "quantity": 1})
    return World(
        me=me,
        stranger=stranger,
        my_sku=my_sku,
        off_sale_sku=off_sale_sku,
        my_address=my_address,
        their_address=their_address,
        placed=placed,
        shipped=shipped,
        theirs=theirs,
        their_after_sales=their_after_sales,
        their_notification=their_notification,
        their_friend_request=their_friend_request,
    )


HUGE = "9" * 30
TEXT = "abc"

# (case id, url name, url kwargs from the world, POST data from the world). Files are built per call.
CASES = [
    # --- accounts ---------------------------------------------------------------------------
    ("register-empty", "accounts:register", None, lambda w: {}),
    (
        "register-bad-phone",
        "accounts:register",
        None,
        lambda w: {"phone": "12345", "password": "x", "password2": "y", "nickname": "n" * 500},
    ),
    ("register-taken-phone", "accounts:register", None, lambda w: {"phone": w.me.phone, "password": "p"}),
    ("login-garbage", "accounts:login", None, lambda w: {"username": TEXT, "password": ""}),
    ("me-long-nickname", "accounts:me", None, lambda w: {"nickname": "名" * 500, "email": "not-an-email"}),
    ("me-avatar-not-image", "accounts:me", None, lambda w: {"nickname": "x", "avatar": not_an_image()}),
    ("me-avatar-too-big", "accounts:me", None, lambda w: {"nickname": "x", "avatar": "BIG"}),
    ("address-create-empty", "accounts:address-create", None, lambda w: {}),
    (
        "address-create-bad-phone",
        "accounts:address-create",
        None,
        lambda w: {
            "recipient_name": "张三",
            "phone": HUGE,
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "detail": "x" * 5000,
        },
    ),
    ("address-edit-garbage", "accounts:address-edit", lambda w: [w.my_address.pk], lambda w: {"phone": TEXT}),
    ("address-edit-theirs", "accounts:address-edit", lambda w: [w.their_address.pk], lambda w: {}),
    ("address-edit-unknown", "accounts:address-edit", lambda w: [2**31 - 1], lambda w: {}),
    ("address-delete-theirs", "accounts:address-delete", lambda w: [w.their_address.pk], lambda w: {}),
    ("address-default-theirs", "accounts:address-default", lambda w: [w.their_address.pk], lambda w: {}),
    (
        "notification-open-theirs",
        "accounts:notification-open",
        lambda w: [w.their_notification.pk],
        lambda w: {},
    ),
    ("friends-bad-phone", "accounts:friends", None, lambda w: {"phone": TEXT}),
    ("friends-unknown-phone", "accounts:friends", None, lambda w: {"phone": "13999999999"}),
    ("friends-myself", "accounts:friends", None, lambda w: {"phone": w.me.phone}),
    (
        "friend-accept-not-mine",
        "accounts:friend-accept",
        lambda w: [w.their_friend_request.pk],
        lambda w: {},
    ),
    (
        "friend-decline-not-mine",
        "accounts:friend-decline",
        lambda w: [w.their_friend_request.pk],
        lambda w: {},
    ),
    ("friend-remove-not-a-friend", "accounts:friend-remove", lambda w: [w.stranger.pk], lambda w: {}),
    # --- cart ---------------------------------------------------------------------------------
    ("cart-add-text-sku", "shop:cart-add", None, lambda w: {"sku_id": TEXT, "quantity": 1}),
    ("cart-add-huge-sku", "shop:cart-add", None, lambda w: {"sku_id": HUGE, "quantity": 1}),
    ("cart-add-unknown-sku", "shop:cart-add", None, lambda w: {"sku_id": 2**31 - 1, "quantity": 1}),
    ("cart-add-off-sale", "shop:cart-add", None, lambda w: {"sku_id": w.off_sale_sku.pk, "quantity": 1}),
    ("cart-add-negative", "shop:cart-add", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": -3}),
    ("cart-add-zero", "shop:cart-add", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": 0}),
    ("cart-add-huge-qty", "shop:cart-add", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": HUGE}),
    ("cart-add-float-qty", "shop:cart-add", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": "1.5"}),
    ("cart-add-missing", "shop:cart-add", None, lambda w: {}),
    ("cart-update-text", "shop:cart-update", None, lambda w: {"sku_id": TEXT, "quantity": TEXT}),
    ("cart-update-negative", "shop:cart-update", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": -1}),
    ("cart-update-huge", "shop:cart-update", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": HUGE}),
    ("cart-update-missing", "shop:cart-update", None, lambda w: {}),
    ("cart-remove-text", "shop:cart-remove", None, lambda w: {"sku_id": [TEXT, HUGE, "-1"]}),
    # --- checkout -----------------------------------------------------------------------------
    ("checkout-missing", "shop:checkout", None, lambda w: {}),
    (
        "checkout-their-address",
        "shop:checkout",
        None,
        lambda w: {"address_id": w.their_address.pk, "checkout_id": "6f1c2a52-1b0e-4f7e-9a55-0c7d3e1f2b44"},
    ),
    (
        "checkout-text-address",
        "shop:checkout",
        None,
        lambda w: {"address_id": TEXT, "checkout_id": "not-a-uuid"},
    ),
    ("buy-now-text", "shop:buy-now", None, lambda w: {"sku_id": TEXT, "quantity": TEXT}),
    ("buy-now-unknown", "shop:buy-now", None, lambda w: {"sku_id": 2**31 - 1, "quantity": 1}),
    ("buy-now-too-many", "shop:buy-now", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": 10**6}),
    ("buy-now-negative", "shop:buy-now", None, lambda w: {"sku_id": w.my_sku.pk, "quantity": -1}),
    # --- orders ---------------------------------------------------------------------------------
    ("order-cancel-theirs", "shop:order-cancel", lambda w: [w.theirs.number], lambda w: {}),
    ("order-cancel-garbage", "shop:order-cancel", lambda w: ["x" * 300], lambda w: {}),
    ("order-cancel-shipped", "shop:order-cancel", lambda w: [w.shipped.number], lambda w: {}),
    ("order-receive-theirs", "shop:order-receive", lambda w: [w.theirs.number], lambda w: {}),
    ("order-receive-unpaid", "shop:order-receive", lambda w: [w.placed.number], lambda w: {}),
    ("order-pay-theirs", "shop:order-pay", lambda w: [w.theirs.number], lambda w: {}),
    # --- after-sales ----------------------------------------------------------------------------
    ("after-sales-theirs", "shop:after-sales-new", lambda w: [w.theirs.number], lambda w: {}),
    (
        "after-sales-unpaid-order",
        "shop:after-sales-new",
        lambda w: [w.placed.number],
        lambda w: {"line_id": w.placed.lines.first().pk, "kind": "refund_only", "quantity": 1, "reason": "x"},
    ),
    ("after-sales-missing", "shop:after-sales-new", lambda w: [w.shipped.number], lambda w: {}),
    (
        "after-sales-their-line",
        "shop:after-sales-new",
        lambda w: [w.shipped.number],
        lambda w: {"line_id": w.theirs.lines.first().pk, "kind": "refund_only", "quantity": 1, "reason": "x"},
    ),
    (
        "after-sales-garbage",
        "shop:after-sales-new",
        lambda w: [w.shipped.number],
        lambda w: {"line_id": TEXT, "kind": "steal", "quantity": HUGE, "reason": "x" * 5000},
    ),
    (
        "after-sales-negative",
        "shop:after-sales-new",
        lambda w: [w.shipped.number],
        lambda w: {
            "line_id": w.shipped.lines.first().pk,
            "kind": "refund_only",
            "quantity": -2,
            "reason": "x",
        },
    ),
    (
        "after-sales-too-many",
        "shop:after-sales-new",
        lambda w: [w.shipped.number],
        lambda w: {
            "line_id": w.shipped.lines.first().pk,
            "kind": "refund_only",
            "quantity": 99,
            "reason": "x",
        },
    ),
    (
        "after-sales-not-image",
        "shop:after-sales-new",
        lambda w: [w.shipped.number],
        lambda w: {
            "line_id": w.shipped.lines.first().pk,
            "kind": "refund_only",
            "quantity": 1,
            "reason": "坏了",
            "photos": [not_an_image()],
        },
    ),
    (
        "after-sales-too-big",
        "shop:after-sales-new",
        lambda w: [w.shipped.number],
        lambda w: {
            "line_id": w.shipped.lines.first().pk,
            "kind": "refund_only",
            "quantity": 1,
            "reason": "坏了",
            "photos": "BIG",
        },
    ),
    (
        "after-sales-too-many-photos",
        "shop:after-sales-new",
        lambda w: [w.shipped.number],
        lambda w: {
            "line_id": w.shipped.lines.first().pk,
            "kind": "refund_only",
            "quantity": 1,
            "reason": "坏了",
            "photos": [image_file(f"p{i}.png") for i in range(5)],
        },
    ),
    (
        "after-sales-withdraw-theirs",
        "shop:after-sales-withdraw",
        lambda w: [w.their_after_sales.pk],
        lambda w: {},
    ),
    # --- storefront and payment callbacks ---------------------------------------------------------
    ("like-unknown-product", "shop:product-like", lambda w: [2**31 - 1], lambda w: {}),
    ("payment-notify-garbage", "shop:payment-notify", None, lambda w: {"x": TEXT}),
    ("refund-notify-garbage", "shop:refund-notify", None, lambda w: {"x": TEXT}),
]

BIG_LIMIT_BYTES = 2048


def _materialise(data: dict) -> dict:
    """ "BIG" stands for a real image larger than the (lowered) upload limit."""
    big = lambda: image_file("big.bmp", size=(200, 200), image_format="BMP", content_type="image/bmp")  # noqa: E731
    for key, value in list(data.items()):
        if value == "BIG":
            data[key] = [big()] if key == "photos" else big()
    return data


# Pages for visitors who are not signed in (a signed-in visitor is sent away from them).
ANONYMOUS_PAGES = {"accounts:register", "accounts:login"}
# Idempotent removals: asking to remove what is not there is done already; back to the list it goes.
NOTHING_TO_DO = {"friend-remove-not-a-friend", "cart-remove-text"}


def _refusal_shown(response, *, sent_nothing: bool = False) -> bool:
    """A 4xx; or the form again with its errors (an empty POST simply shows the empty form again);
    or a redirect that carries an error message."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code == 200 and response.context is not None:
        form = response.context.get("form")
        return form is not None and (sent_nothing or bool(form.errors))
    if response.status_code == 302:
        levels = [m.level for m in get_messages(response.wsgi_request)]
        return message_levels.ERROR in levels or message_levels.WARNING in levels
    return False


@pytest.mark.parametrize(("case", "url_name", "args", "data"), CASES, ids=[c[0] for c in CASES])
def test_garbage_post_is_refused_and_changes_nothing(client, world, settings, case, url_name, args, data):
    settings.MAX_IMAGE_UPLOAD_BYTES = BIG_LIMIT_BYTES
    if url_name in ANONYMOUS_PAGES:
        client.logout()
    url = reverse(url_name, args=args(world) if args else None)
    payload = _materialise(data(world))
    before = snapshot()

    response = client.post(url, payload)

    assert response.status_code < 500, f"{url} answered {response.status_code}"
    if case in NOTHING_TO_DO:
        assert response.status_code == 302
    else:
        assert _refusal_shown(response, sent_nothing=not payload), (
            f"{url} answered {response.status_code} without showing a refusal"
        )
    assert snapshot() == before, f"{url} changed rows on bad input"


def test_garbage_without_login_is_refused_too(client, world):
    client.logout()
    before = snapshot()
    for url_name, payload in [
        ("shop:cart-add", {"sku_id": TEXT, "quantity": HUGE}),
        ("shop:buy-now", {"sku_id": world.my_sku.pk, "quantity": -1}),
        ("accounts:login", {"username": world.me.phone, "password": "wrong"}),
    ]:
        response = client.post(reverse(url_name), payload)
        assert response.status_code < 500
        assert _refusal_shown(response), url_name
    assert snapshot() == before


# --- Another user's objects: never shown ----------------------------------------------------------


def test_second_shopper_gets_404_for_every_detail_page_of_the_first(client, world):
    """`world.me` is signed in; everything below belongs to `world.stranger`."""
    w = world
    urls = [
        reverse("shop:order-detail", args=[w.theirs.number]),
        reverse("shop:order-pay", args=[w.theirs.number]),
        reverse("shop:after-sales-new", args=[w.theirs.number]),
        reverse("accounts:address-edit", args=[w.their_address.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (403, 404), f"{url} answered {response.status_code}"
        body = response.content.decode()
        assert w.theirs.number not in body or url.count(w.theirs.number), url
        assert "小红家的地址" not in body, url
    # Lists show only mine.
    for url in [
        reverse("shop:orders"),
        reverse("shop:after-sales"),
        reverse("accounts:addresses"),
        reverse("accounts:inbox"),
        reverse("accounts:friends"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert w.theirs.number not in body, url
        assert "小红家的地址" not in body and "小红的通知" not in body, url


def test_merchant_of_another_shop_cannot_open_this_shops_objects_in_the_admin(client, world):
    """The shop that sold `world.theirs` is not this merchant's: its order, product and SKU pages
    in the admin are not found (Django's admin redirects to its index with a message) and show
    nothing of them."""
    other_merchant = SKUFactory(product=ProductFactory(title="别家商品")).product.shop.owner
    client.force_login(other_merchant)
    order, product = world.theirs, world.my_sku.product
    urls = [
        reverse("admin:shop_order_change", args=[order.pk]),
        reverse("admin:shop_product_change", args=[product.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (302, 403, 404), f"{url} answered {response.status_code}"
        if response.status_code == 302:
            assert response.url.startswith(reverse("admin:index")), response.url
        body = response.content.decode()
        assert order.number not in body and product.title not in body
    for url in [reverse("admin:shop_order_changelist"), reverse("admin:shop_product_changelist")]:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert order.number not in body and product.title not in body, url


# --- The same rules at the API edge, for what the schema fuzz cannot generate --------------------


def test_api_refuses_an_oversized_avatar_and_keeps_the_old_one(client, world, settings):
    settings.MAX_IMAGE_UPLOAD_BYTES = BIG_LIMIT_BYTES
    before = snapshot()
    body = encode_multipart(BOUNDARY, _materialise({"avatar": "BIG"}))
    response = client.patch("/api/v1/me/", body, content_type=MULTIPART_CONTENT)
    assert response.status_code == 400, response.content
    assert "avatar" in response.json()
    assert snapshot() == before


def test_unknown_api_url_answers_404_in_json_and_pages_keep_html(client, world):
    response = client.get("/api/v1/orders/not/a/route/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
