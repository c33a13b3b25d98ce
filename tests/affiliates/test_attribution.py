"""Attribution at order creation: windows (time travel), last click wins, across devices,
self-purchase, frozen promoters, rates snapshotted."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from affiliates import services
from affiliates.models import Click
from shop.models import OrderLine
from tests.affiliates.helpers import (
    buy,
    click,
    creator_link,
    make_buyer,
    make_promoter,
    make_sharer,
    make_sku,
    offer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    sku = make_sku(price_fen=10000)
    offer(sku, 1000)
    creator = make_promoter(name="甲")
    return sku, creator, creator_link(creator, sku)


def line_of(order):
    return OrderLine.objects.get(order=order)


def test_click_then_buy_attributes_line_with_snapshot(setup):
    sku, creator, link = setup
    buyer, client = make_buyer(), Client()
    click(client, link)
    order = buy(client, buyer, sku)
    source = line_of(order).attribution
    assert source["link"] == link.pk and source["creator"] == creator.pk and source["rate_bp"] == 1000
    assert source["scene"] == "channels_video" and source["sharer"] is None and source["plan"] == "public"
    # A later rate change leaves the placed order alone and applies to the next one.
    offer(sku, 2000)
    assert line_of(order).attribution["rate_bp"] == 1000
    assert line_of(buy(client, buyer, sku)).attribution["rate_bp"] == 2000


def test_no_click_no_attribution(setup):
    sku, _creator, _link = setup
    assert line_of(buy(Client(), make_buyer(), sku)).attribution is None


def test_window_expires_with_time_travel(setup, settings):
    sku, _creator, link = setup
    buyer, client = make_buyer(), Client()
    client.force_login(buyer)
    click(client, link)
    settings.ATTRIBUTION_DAYS = 7
    # Travel: the stored click (and the cookie's copy) are 8 days old.
    Click.objects.update(clicked_at=timezone.now() - timedelta(days=8))
    client.cookies.pop("wsa")
    assert line_of(buy(client, buyer, sku)).attribution is None
    Click.objects.update(clicked_at=timezone.now() - timedelta(days=6, hours=23))
    assert line_of(buy(client, buyer, sku)).attribution is not None


def test_last_click_wins(setup):
    sku, first_creator, first_link = setup
    second = make_promoter(name="乙")
    second_link = creator_link(second, sku, scene="moments")
    buyer, client = make_buyer(), Client()
    click(client, first_link)
    click(client, second_link)
    assert line_of(buy(client, buyer, sku)).attribution["creator"] == second.pk
    click(client, first_link)
    assert line_of(buy(client, buyer, sku)).attribution["creator"] == first_creator.pk


def test_across_devices_for_signed_in_buyer(setup):
    sku, creator, link = setup
    buyer = make_buyer()
    phone = Client()
    phone.force_login(buyer)
    click(phone, link)  # signed in on the phone: the click is stored under the account
    assert Click.objects.get().user_id == buyer.pk
    laptop = Client()  # no cookie at all on this device
    assert line_of(buy(laptop, buyer, sku)).attribution["creator"] == creator.pk


def test_anonymous_click_then_sign_in_on_same_device(setup):
    sku, creator, link = setup
    buyer, client = make_buyer(), Client()
    click(client, link)  # not signed in: only the cookie knows
    assert Click.objects.get().user_id is None
    assert line_of(buy(client, buyer, sku)).attribution["creator"] == creator.pk


def test_self_purchase_earns_nothing_by_default(setup, settings):
    sku, creator, link = setup
    from accounts.models import Address  # noqa: F401
    from tests.factories import AddressFactory

    AddressFactory(user=creator.user)
    client = Client()
    click(client, link)
    assert line_of(buy(client, creator.user, sku)).attribution is None
    settings.AFFILIATE_SELF_PURCHASE = True
    assert line_of(buy(client, creator.user, sku)).attribution["creator"] == creator.pk


def test_frozen_promoter_links_stop_earning(setup, operator):
    sku, creator, link = setup
    client = Client()
    click(client, link)
    services.promoter_freeze(promoter_id=creator.pk, operator=operator)
    assert line_of(buy(client, make_buyer(), sku)).attribution is None


def test_disabled_link_and_dropped_plan_earn_nothing(setup):
    sku, creator, link = setup
    client = Client()
    click(client, link)
    offer(sku, 1000, is_active=False)
    assert line_of(buy(client, make_buyer(), sku)).attribution is None
    offer(sku, 1000)
    services.link_set_active(promoter=creator, link_id=link.pk, active=False)
    assert line_of(buy(client, make_buyer(), sku)).attribution is None


def test_showcase_link_covers_showcase_products(setup):
    sku, creator, _link = setup
    showcase_link = services.link_create(promoter=creator, scene="mini_program")
    client = Client()
    click(client, showcase_link)
    assert line_of(buy(client, make_buyer(), sku)).attribution["link"] == showcase_link.pk
    other = make_sku()
    offer(other, 500)  # in the pool but not in this showcase
    assert line_of(buy(client, make_buyer(), other)).attribution is None


def test_child_link_snapshots_sharer_and_share(setup):
    sku, creator, link = setup
    services.share_set(owner=creator, share_bp=3000)
    sharer = make_sharer(under=creator)
    child = services.child_link_create(promoter=sharer, parent_code=link.code, scene="group")
    client = Client()
    click(client, child)
    source = line_of(buy(client, make_buyer(), sku)).attribution
    assert (source["creator"], source["sharer"], source["share_bp"], source["scene"]) == (
        creator.pk,
        sharer.pk,
        3000,
        "group",
    )
    services.share_set(owner=creator, share_bp=6000, product=sku.product)  # per-product override
    assert line_of(buy(client, make_buyer(), sku)).attribution["share_bp"] == 6000


def test_targeted_and_exclusive_rates(setup):
    sku, creator, link = setup
    other = make_promoter(name="丙")
    offer(sku, 1000, targeted={creator: 2500})
    client = Client()
    click(client, link)
    source = line_of(buy(client, make_buyer(), sku)).attribution
    assert (source["rate_bp"], source["plan"]) == (2500, "targeted")
    offer(sku, 3000, kind="exclusive", exclusive_promoter=other)
    assert line_of(buy(client, make_buyer(), sku)).attribution is None
    offer(sku, 3000, kind="exclusive", exclusive_promoter=creator)
    assert line_of(buy(client, make_buyer(), sku)).attribution["plan"] == "exclusive"


def test_an_exclusive_plan_can_name_a_sharer(setup):
    """A merchant names a 推客 (joined under an agency) on an exclusive plan: the 推客 makes their own
    link for the product, the line goes to them with no creator, and the ledger pays the agency its
    fee and the 推客 the rest; the creator's link and other 推客 earn nothing on it; other 推客 cannot
    make such a link."""
    from affiliates.errors import NotInPool
    from affiliates.ledger import ledger_sync
    from affiliates.models import CommissionEntry
    from affiliates.selectors import affiliate_sales
    from tests.affiliates.helpers import pay_order

    sku, creator, creator_link_ = setup
    agency = services.agency_create(name="推客机构", service_fee_bp=1000)
    sharer = make_promoter(role="sharer", name="小推")
    services.sharer_bind(promoter=sharer, invitation_code=agency.invitation_code)
    outsider = make_sharer(under=creator)
    offer(sku, 2000, kind="exclusive", exclusive_promoter=sharer)
    with pytest.raises(NotInPool):
        services.sharer_link_create(promoter=outsider, scene="chat", product_id=sku.product_id)
    link = services.sharer_link_create(promoter=sharer, scene="moments", product_id=sku.product_id)
    assert (link.creator_id, link.parent_id) == (sharer.pk, None)

    client = Client()
    click(client, creator_link_)  # the creator's link no longer earns on this product
    assert line_of(buy(client, make_buyer(), sku)).attribution is None
    click(client, link)
    order = pay_order(buy(client, make_buyer(), sku))
    source = line_of(order).attribution
    assert (source["creator"], source["sharer"], source["agency"], source["plan"], source["rate_bp"]) == (
        None,
        sharer.pk,
        agency.pk,
        "exclusive",
        2000,
    )
    ledger_sync()
    paid = dict(CommissionEntry.objects.filter(order=order).values_list("role", "amount_fen"))
    assert paid == {"agency": 200, "sharer": 1800}  # ¥100 × 20% = ¥20: 10% fee, the rest to the 推客
    [row] = affiliate_sales(group_by="promoter").filter(promoter__display_name="小推")
    assert (row["orders"], row["sales_fen"]) == (1, 10000)


def test_a_sharer_makes_an_exclusive_link_through_page_and_api(setup):
    from rest_framework.authtoken.models import Token

    sku, _creator, _link = setup
    sharer = make_promoter(role="sharer", name="小推")
    offer(sku, 2000, kind="exclusive", exclusive_promoter=sharer)
    client = Client()
    client.force_login(sharer.user)
    page = client.get("/promoter/links/").content.decode()
    assert sku.product.title in page
    response = client.post("/promoter/links/", {"product_id": sku.product_id, "scene": "chat"})
    assert response.status_code == 302
    assert client.post("/promoter/links/", {"scene": "chat"}).status_code == 400  # neither given
    token = Token.objects.create(user=sharer.user).key
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    made = api.post(
        "/api/v1/promoter/links/",
        {"product_id": sku.product_id, "scene": "group"},
        content_type="application/json",
    )
    assert made.status_code == 201 and made.json()["product"] == sku.product_id
    other = make_sku()
    offer(other, 1000)  # public: a 推客 shares it only through a creator's link
    refused = api.post(
        "/api/v1/promoter/links/",
        {"product_id": other.product_id, "scene": "group"},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "product_id" in refused.json()
    assert sharer.links.count() == 2
