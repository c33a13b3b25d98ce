"""Property-based sweep of the whole API against its own OpenAPI schema (schemathesis + hypothesis).

The schema is read from /api/schema/ of the real WSGI app, in-process. Every operation is called
with generated inputs (valid ones and, where the schema allows, invalid ones) as a signed-in shopper
and as a merchant, against a database that has shops, products, SKUs, an address and orders in it.
Each answer must not be a 5xx, must use a status code the schema documents for that operation, and
its body must match the documented shape.
"""

import zlib

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Address, Notification
from shop.services.aftersales import after_sales_create
from tests.factories import AddressFactory, FriendRequestFactory, NotificationFactory, UserFactory
from tests.shop.factories import ProductFactory, SKUFactory
from tests.shop.order_factories import pay_order, place_order, ship_order

# Each example is one in-process request; ~55 operations x 2 roles keeps the whole sweep near a minute.
MAX_EXAMPLES = 12


@pytest.fixture
def _in_transaction_wsgi():
    """The plain WSGI handler closes "obsolete" connections at the start and end of each request,
    which would break the test's transaction; Django's own test client unhooks the same receivers."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Real ids and numbers, filled by `shop_world` for the hook below: most generated path parameters
# are then swapped for an existing object (the shopper's own, or someone else's) instead of a
# random id that would only ever be a 404.
KNOWN: dict[str, list] = {}
# Text that belongs to the other shopper and the other shop: no answer to our users may contain it.
FOREIGN: list[str] = []


def _known_values(path: str, name: str) -> list:
    if name == "id":
        for prefix, key in (("/api/v1/shops/", "shop"), ("/api/v1/merchant/skus/", "sku")):
            if path.startswith(prefix):
                return KNOWN.get(key, [])
        return KNOWN.get("product", [])
    return KNOWN.get(name, [])


@pytest.fixture
def shop_world(db):
    """A shopper with an address, orders in three states and an after-sales request; a merchant
    owning the shop that sold them; a second shop and shopper whose data must never show up."""
    shopper = UserFactory(nickname="买家")
    AddressFactory(user=shopper)
    merchant_sku = SKUFactory(product=ProductFactory(title="草莓蛋糕"), price_fen=1200, stock=500)
    shop = merchant_sku.product.shop
    other_sku = SKUFactory(product=ProductFactory(title="别家蛋糕"), price_fen=900, stock=500)
    placed = place_order(buyer=shopper, sku=merchant_sku, quantity=1)
    paid = pay_order(place_order(buyer=shopper, sku=merchant_sku, quantity=2))
    shipped = ship_order(pay_order(place_order(buyer=shopper, sku=merchant_sku, quantity=1)))
    after_sales = after_sales_create(
        buyer=shopper,
        order_id=paid.pk,
        line_id=paid.lines.first().pk,
        kind="refund_only",
        quantity=1,
        reason="不想要了",
    )
    stranger = UserFactory(nickname="别人", phone="13912345678")
    AddressFactory(user=stranger, detail="别人家的秘密地址 8 号")
    theirs = pay_order(place_order(buyer=stranger, sku=other_sku))
    friend_request = FriendRequestFactory(from_user=stranger, to_user=shopper)
    NotificationFactory(user=shopper)
    NotificationFactory(user=stranger)

    users = [shopper, shop.owner, stranger]
    KNOWN.clear()
    KNOWN.update(
        shop=[shop.pk, other_sku.product.shop_id],
        product=[merchant_sku.product_id, other_sku.product_id],
        sku=[merchant_sku.pk, other_sku.pk],
        sku_id=[merchant_sku.pk, other_sku.pk],
        number=[placed.number, paid.number, shipped.number, theirs.number],
        address_id=list(Address.objects.values_list("pk", flat=True)),
        request_id=[after_sales.pk, friend_request.pk],
        notification_id=list(Notification.objects.values_list("pk", flat=True)),
        user_id=[u.pk for u in users],
    )
    FOREIGN[:] = [theirs.number, stranger.phone, "别人家的秘密地址"]
    yield {"shopper": shopper, "merchant": shop.owner, "shop": shop}
    KNOWN.clear()
    FOREIGN.clear()


# Read once at import: pytest-django has set Django up by then, and building the schema touches no table.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.hook
def map_path_parameters(context, path_parameters):
    # Two in three generated values become a real object; which one follows from the value itself,
    # so hypothesis still explores (and shrinks) the choice.
    for name, value in (path_parameters or {}).items():
        known = _known_values(context.operation.path, name)
        pick = zlib.crc32(str(value).encode())
        if known and pick % 3:
            path_parameters[name] = known[pick % len(known)]
    return path_parameters


@schemathesis.check
def no_foreign_data(ctx, response, case):
    """Neither the shopper nor the merchant may ever read the other shopper's order, phone or address."""
    body = response.text or ""
    leaked = [secret for secret in FOREIGN if secret in body]
    if leaked:
        raise AssertionError(f"{case.method} {case.path} answered with another user's data: {leaked}")


# What every answer must satisfy. Left out on purpose: "positive_data_acceptance" (a schema-valid
# body may still name a SKU or shop that does not exist, or break a shop rule: a 400 is right there),
# "negative_data_rejection" (DRF accepts 0 for a text field and treats an empty optional query value
# as absent, both harmless; negative inputs are still generated and must meet the checks below)
# and "ignored_auth" (our valid token goes on every call; anonymous refusals are the area tests' job).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_foreign_data,
]


@pytest.fixture(params=["shopper", "merchant"])
def auth_headers(request, shop_world, _in_transaction_wsgi, wechatpay_sandbox):
    # wechatpay_sandbox: paying and refunding reach the local WeChat Pay sandbox over real HTTP.
    token, _ = Token.objects.get_or_create(user=shop_world[request.param])
    return {"Authorization": f"Token {token.key}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_answers_within_its_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers, checks=CHECKS)
