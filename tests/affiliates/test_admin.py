"""Admin: merchants set plans on the product page and in bulk, see promoter and scene on orders and
affiliate sales of their own shops only; operators approve and freeze."""

import pytest
from django.test import Client
from django.urls import reverse

from affiliates.ledger import ledger_sync
from affiliates.models import CommissionPlan, Promoter
from tests.affiliates.helpers import (
    buy,
    click,
    creator_link,
    id_number,
    make_buyer,
    make_promoter,
    make_sku,
    offer,
    pay_order,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold(shop):
    sku = make_sku(shop=shop, price_fen=5000)
    offer(sku, 2000)
    creator = make_promoter(name="橱窗达人")
    client = Client()
    click(client, creator_link(creator, sku, scene="moments"))
    order = pay_order(buy(client, make_buyer(), sku))
    ledger_sync()
    return sku, order, creator


def test_orders_promoter_and_scene_in_the_ledger_list(client, sold, shop):
    _sku, order, _creator = sold
    client.force_login(shop.owner)
    url = reverse("admin:affiliates_commissionentry_changelist") + f"?q={order.number}"
    html = client.get(url).content.decode()
    assert "橱窗达人" in html and "朋友圈" in html and "¥10.00" in html


def test_order_page_shows_its_promoter_scene_and_commission(
    client, sold, shop, django_assert_max_num_queries
):
    _sku, order, _creator = sold
    client.force_login(shop.owner)
    url = reverse("admin:shop_order_change", args=[order.pk])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def page_queries(order_id):
        page = reverse("admin:shop_order_change", args=[order_id])
        client.get(page)
        with CaptureQueriesContext(connection) as captured:
            body = client.get(page).content.decode()
        return body, [q["sql"] for q in captured.captured_queries if '"django_session"' not in q["sql"]]

    # What the two inlines add to the shop's order page (which other work changes) is pinned: an
    # attributed order costs two more queries than an order nobody promoted (the promoters' names
    # and the links' codes, one each whatever the number of lines).
    plain = pay_order(buy(Client(), make_buyer(), make_sku(shop=shop, price_fen=100)))
    _body, plain_sql = page_queries(plain.pk)
    html, attributed_sql = page_queries(order.pk)
    assert len(attributed_sql) - len(plain_sql) <= 2, attributed_sql
    assert "橱窗达人" in html and "朋友圈" in html and "20%" in html and "¥10.00" in html
    assert order.lines.get().attribution["link"] and _creator.links.get().code in html
    # Another merchant sees neither page.
    other = UserFactory(is_staff=True)
    client.force_login(other)
    assert client.get(url).status_code in (302, 403, 404)


def test_product_page_has_the_plan_and_bulk_action_sets_rates(client, sold, shop, other_shop):
    sku, _order, _creator = sold
    client.force_login(shop.owner)
    html = client.get(reverse("admin:shop_product_change", args=[sku.product_id])).content.decode()
    assert "commission_plan-0-rate_bp" in html
    another = make_sku(shop=shop)
    foreign = make_sku(shop=other_shop)
    url = reverse("admin:shop_product_changelist")
    ids = [sku.product_id, another.product_id, foreign.product_id]
    page = client.post(url, {"action": "offer_commission", "_selected_action": ids})
    assert page.status_code == 200 and "rate_percent" in page.content.decode()
    client.post(
        url, {"action": "offer_commission", "_selected_action": ids, "apply": "1", "rate_percent": "12.5"}
    )
    rates = dict(CommissionPlan.objects.values_list("product_id", "rate_bp"))
    assert rates[sku.product_id] == 1250 and rates[another.product_id] == 1250
    assert foreign.product_id not in rates  # not this merchant's product


def test_affiliate_sales_are_scoped_to_own_shop(client, sold, shop, other_shop):
    client.force_login(other_shop.owner)
    html = client.get(reverse("admin:affiliates_sales") + "?group_by=promoter").content.decode()
    assert "橱窗达人" not in html
    client.force_login(shop.owner)
    html = client.get(reverse("admin:affiliates_sales") + "?group_by=scene").content.decode()
    assert "朋友圈" in html and "¥50.00" in html


def test_operator_approves_and_freezes(client, operator):
    from affiliates import services

    applicant = services.promoter_apply(
        user=UserFactory(), role="creator", display_name="新人", real_name="赵六", id_number=id_number()
    )
    client.force_login(operator)
    url = reverse("admin:affiliates_promoter_changelist")
    client.post(url, {"action": "approve", "_selected_action": [applicant.pk]})
    assert Promoter.objects.get(pk=applicant.pk).status == "approved"
    client.post(url, {"action": "freeze", "_selected_action": [applicant.pk]})
    assert Promoter.objects.get(pk=applicant.pk).status == "frozen"
    client.post(url, {"action": "unfreeze_keep_cancelled", "_selected_action": [applicant.pk]})
    assert Promoter.objects.get(pk=applicant.pk).status == "approved"


def test_merchants_cannot_review_promoters(client, shop):
    client.force_login(shop.owner)
    assert client.get(reverse("admin:affiliates_promoter_changelist")).status_code == 403


def test_staff_change_commission_plans_only_when_the_owner_allowed(client, shop):
    """shop.services.staff_permissions: MANAGE_COMMISSION is the owner's unless granted, in the API,
    the product page's plan and the bulk action alike."""
    from rest_framework.authtoken.models import Token

    from shop.models import ShopMembership
    from tests.shop.factories import ShopMembershipFactory

    sku = make_sku(shop=shop, price_fen=5000)
    offer(sku, 1000)
    membership = ShopMembershipFactory(shop=shop, user=UserFactory(is_staff=True))
    staff = membership.user
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    url = f"/api/v1/merchant/products/{sku.product_id}/commission-plan/"
    body = {"kind": "public", "rate_bp": 2000}
    assert api.put(url, body, content_type="application/json").status_code == 403
    client.force_login(staff)
    changelist = reverse("admin:shop_product_changelist")
    client.post(
        changelist,
        {
            "action": "offer_commission",
            "_selected_action": [sku.product_id],
            "apply": "1",
            "rate_percent": "30",
        },
    )
    page = client.get(reverse("admin:shop_product_change", args=[sku.product_id])).content.decode()
    assert "commission_plan-0-rate_bp" not in page  # shown read-only
    assert CommissionPlan.objects.get(product=sku.product).rate_bp == 1000  # nothing changed

    ShopMembership.objects.filter(pk=membership.pk).update(can_manage_commission=True)
    assert api.put(url, body, content_type="application/json").status_code == 200
    client.post(
        changelist,
        {
            "action": "offer_commission",
            "_selected_action": [sku.product_id],
            "apply": "1",
            "rate_percent": "30",
        },
    )
    assert CommissionPlan.objects.get(product=sku.product).rate_bp == 3000
    page = client.get(reverse("admin:shop_product_change", args=[sku.product_id])).content.decode()
    assert "commission_plan-0-rate_bp" in page


def test_merchant_names_promoters_for_targeted_rates_on_the_plan_page(client, shop, other_shop):
    from affiliates.models import TargetedRate

    sku = make_sku(shop=shop, price_fen=5000)
    plan = offer(sku, 1000)
    foreign = offer(make_sku(shop=other_shop), 1000)
    star = make_promoter(name="定向达人")
    client.force_login(shop.owner)
    product_page = client.get(reverse("admin:shop_product_change", args=[sku.product_id])).content.decode()
    url = reverse("admin:affiliates_commissionplan_change", args=[plan.pk])
    assert url in product_page  # the product page links to the plan's own page
    assert client.get(reverse("admin:affiliates_commissionplan_changelist")).status_code == 200
    assert client.get(reverse("admin:affiliates_commissionplan_change", args=[foreign.pk])).status_code in (
        302,
        404,
    )
    form = {
        "kind": "public",
        "rate_bp": "1000",
        "is_active": "on",
        "targeted_rates-TOTAL_FORMS": "1",
        "targeted_rates-INITIAL_FORMS": "0",
        "targeted_rates-MIN_NUM_FORMS": "0",
        "targeted_rates-MAX_NUM_FORMS": "1000",
        "targeted_rates-0-promoter": str(star.pk),
        "targeted_rates-0-rate_bp": "800",
    }
    refused = client.post(url, form)
    assert refused.status_code == 200 and "errorlist" in refused.content.decode()
    assert not TargetedRate.objects.exists()
    form["targeted_rates-0-rate_bp"] = "2500"
    assert client.post(url, form).status_code == 302
    assert list(TargetedRate.objects.values_list("promoter_id", "rate_bp")) == [(star.pk, 2500)]
    exclusive = {**form, "kind": "exclusive", "exclusive_promoter": ""}
    page = client.post(url, exclusive)
    assert page.status_code == 200 and "errorlist" in page.content.decode()
    assert CommissionPlan.objects.get(pk=plan.pk).kind == "public"
