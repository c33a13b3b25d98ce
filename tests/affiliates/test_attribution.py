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
