"""Staff roles (shop/services/staff_permissions.py): by default staff ship and answer after-sales; only
the owner, or staff the owner allowed, approves refunds, changes prices and commission plans. The same
rule holds in the admin (actions, change forms, fields) and the API."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from shop.models import SKU, AfterSalesRequest, Refund, ShopMembership
from shop.services.staff_permissions import (
    StaffPermission,
    StaffPermissionDenied,
    staff_can,
    staff_permissions_set,
    staff_require,
)
from tests.shop.factories import ShopMembershipFactory
from tests.shop.order_factories import celery_eager, make_sku, place_order  # noqa: F401
from tests.shop.test_aftersales import _request, paid_order  # noqa: F401

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def staff(paid_order):  # noqa: F811
    return ShopMembershipFactory(shop=paid_order.shop).user


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_defaults_staff_ship_and_answer_only_the_owner_refunds_prices_and_commission(shop, merchant):
    staff = ShopMembershipFactory(shop=shop).user
    stranger = ShopMembershipFactory().user  # staff of another shop
    allowed = {p: staff_can(user=staff, shop_id=shop.pk, permission=p) for p in StaffPermission}
    assert allowed == {
        StaffPermission.SHIP: True,
        StaffPermission.ANSWER_AFTER_SALES: True,
        StaffPermission.APPROVE_REFUNDS: False,
        StaffPermission.CHANGE_PRICES: False,
        StaffPermission.MANAGE_COMMISSION: False,
    }
    assert all(staff_can(user=merchant, shop_id=shop.pk, permission=p) for p in StaffPermission)
    assert not any(staff_can(user=stranger, shop_id=shop.pk, permission=p) for p in StaffPermission)
    with pytest.raises(StaffPermissionDenied) as refused:
        staff_require(user=staff, shop_id=shop.pk, permission=StaffPermission.MANAGE_COMMISSION)
    assert refused.value.status_code == 403


def test_only_the_owner_or_an_operator_decides_what_staff_may_do(shop, merchant, operator):
    staff = ShopMembershipFactory(shop=shop).user
    colleague = ShopMembershipFactory(shop=shop).user
    with pytest.raises(StaffPermissionDenied):
        staff_permissions_set(
            shop=shop, member_id=staff.pk, actor=colleague, permissions={"approve_refunds": True}
        )
    with pytest.raises(StaffPermissionDenied):  # nor for oneself
        staff_permissions_set(
            shop=shop, member_id=staff.pk, actor=staff, permissions={"approve_refunds": True}
        )
    staff_permissions_set(
        shop=shop, member_id=staff.pk, actor=merchant, permissions={"approve_refunds": True}
    )
    assert staff_can(user=staff, shop_id=shop.pk, permission="approve_refunds")
    staff_permissions_set(shop=shop, member_id=staff.pk, actor=operator, permissions={"ship": False})
    assert not staff_can(user=staff, shop_id=shop.pk, permission="ship")


# --- approving refunds: admin action, admin change form, API ------------------------------------


def test_staff_without_the_right_cannot_approve_by_admin_action(client, paid_order, staff):  # noqa: F811
    request = _request(paid_order)
    client.force_login(staff)
    changelist = reverse("admin:shop_aftersalesrequest_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and paid_order.number in page.content.decode()
    assert 'value="approve"' not in page.content.decode()  # the action is not offered
    for action in ("approve", "approve_and_restock"):
        client.post(changelist, {"action": action, "_selected_action": [request.pk]})
    request.refresh_from_db()
    assert request.status == AfterSalesRequest.Status.OPEN
    assert not Refund.objects.exists()


def test_staff_without_the_right_cannot_approve_by_change_form(client, paid_order, staff):  # noqa: F811
    request = _request(paid_order)
    client.force_login(staff)
    change = client.get(reverse("admin:shop_aftersalesrequest_change", args=[request.pk]))
    assert change.status_code == 200
    assert 'value="approve"' not in change.content.decode()
    decide = reverse("admin:shop_aftersalesrequest_decide", args=[request.pk])
    for decision in ("approve", "approve_restock"):
        response = client.post(decide, {"decision": decision}, follow=True)
        assert "Only the shop owner" in response.content.decode() or "只有店主" in response.content.decode()
    request.refresh_from_db()
    assert request.status == AfterSalesRequest.Status.OPEN and not Refund.objects.exists()
    # Answering (rejecting) is theirs by default.
    client.post(decide, {"decision": "reject", "decision_note": "请先退货"})
    request.refresh_from_db()
    assert request.status == AfterSalesRequest.Status.REJECTED


def test_staff_without_the_right_cannot_approve_by_api(paid_order, staff):  # noqa: F811
    request = _request(paid_order)
    response = _api(staff).post(f"{API}/merchant/after-sales/{request.pk}/approve/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "staff_permission_denied"
    request.refresh_from_db()
    assert request.status == AfterSalesRequest.Status.OPEN and not Refund.objects.exists()


@pytest.mark.usefixtures("celery_eager")
def test_staff_the_owner_allowed_approves(client, paid_order, staff):  # noqa: F811
    staff_permissions_set(
        shop=paid_order.shop,
        member_id=staff.pk,
        actor=paid_order.shop.owner,
        permissions={StaffPermission.APPROVE_REFUNDS: True},
    )
    request = _request(paid_order)
    response = _api(staff).post(f"{API}/merchant/after-sales/{request.pk}/approve/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert Refund.objects.filter(after_sales=request).count() == 1


def test_staff_who_may_not_ship_cannot_ship(paid_order, staff):  # noqa: F811
    staff_permissions_set(
        shop=paid_order.shop, member_id=staff.pk, actor=paid_order.shop.owner, permissions={"ship": False}
    )
    response = _api(staff).post(
        f"{API}/merchant/orders/{paid_order.number}/ship/",
        {"carrier": "顺丰速运", "tracking_number": "SF1"},
        format="json",
    )
    assert response.status_code == 403
    paid_order.refresh_from_db()
    assert paid_order.status == "paid"


# --- prices --------------------------------------------------------------------------------------


def test_staff_without_the_right_cannot_change_a_price_by_api_but_can_set_stock(shop):
    sku = make_sku(shop=shop, price_fen=1000, stock=5)
    staff = ShopMembershipFactory(shop=shop).user
    api = _api(staff)
    refused = api.patch(f"{API}/merchant/skus/{sku.pk}/", {"price_fen": 1}, format="json")
    assert refused.status_code == 403
    refused = api.patch(f"{API}/merchant/skus/{sku.pk}/", {"original_price_fen": 99999}, format="json")
    assert refused.status_code == 403
    sku.refresh_from_db()
    assert sku.price_fen == 1000 and sku.original_price_fen is None
    # Stock is theirs, and sending the unchanged price along is fine.
    ok = api.patch(f"{API}/merchant/skus/{sku.pk}/", {"stock": 7, "price_fen": 1000}, format="json")
    assert ok.status_code == 200
    sku.refresh_from_db()
    assert sku.stock == 7 and sku.price_fen == 1000

    staff_permissions_set(
        shop=shop, member_id=staff.pk, actor=shop.owner, permissions={"change_prices": True}
    )
    assert api.patch(f"{API}/merchant/skus/{sku.pk}/", {"price_fen": 900}, format="json").status_code == 200
    sku.refresh_from_db()
    assert sku.price_fen == 900


def _product_change_post(client, product, *, price: str, stock: int):
    """The product change form as the browser posts it, with the SKU grid row changed."""
    sku = product.skus.get()
    url = reverse("admin:shop_product_change", args=[product.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{formset.formset.prefix}-{name}"] = management[name].value()
        for index, inline_form in enumerate(formset.formset.forms):
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is None or value is False:
                    continue
                data[f"{formset.formset.prefix}-{index}-{name}"] = value
    prefix = next(f.formset.prefix for f in page.context["inline_admin_formsets"] if f.formset.model is SKU)
    data[f"{prefix}-0-price"] = price
    data[f"{prefix}-0-stock"] = stock
    data[f"{prefix}-0-id"] = sku.pk
    return client.post(url, data), sku


def test_staff_without_the_right_cannot_change_a_price_in_the_admin(client, shop):
    sku = make_sku(shop=shop, price_fen=1000, stock=5)
    staff = ShopMembershipFactory(shop=shop).user
    client.force_login(staff)
    response, sku = _product_change_post(client, sku.product, price="0.01", stock=9)
    assert response.status_code == 302
    sku.refresh_from_db()
    assert sku.price_fen == 1000  # the posted price was ignored
    assert sku.stock == 9  # the rest of the row was saved

    client.force_login(shop.owner)
    response, sku = _product_change_post(client, sku.product, price="8.80", stock=9)
    assert response.status_code == 302
    sku.refresh_from_db()
    assert sku.price_fen == 880


def test_the_owner_sets_staff_permissions_in_the_admin_and_staff_cannot(client, shop):
    membership = ShopMembershipFactory(shop=shop)
    url = reverse("admin:shop_shop_change", args=[shop.pk])

    def post_as(user, **flags):
        client.force_login(user)
        page = client.get(url)
        assert page.status_code == 200
        form = page.context["adminform"].form
        data = {name: form[name].value() or "" for name in form.fields if name in form.fields}
        data.update({"name": shop.name, "description": shop.description})
        memberships = ShopMembership.objects.filter(shop=shop).order_by("pk")
        prefix = "memberships"
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": memberships.count(),
                f"{prefix}-INITIAL_FORMS": memberships.count(),
                f"{prefix}-MIN_NUM_FORMS": 0,
                f"{prefix}-MAX_NUM_FORMS": 1000,
            }
        )
        for index, row in enumerate(memberships):
            data[f"{prefix}-{index}-id"] = row.pk
            data[f"{prefix}-{index}-shop"] = shop.pk
            data[f"{prefix}-{index}-can_ship"] = "on"
            data[f"{prefix}-{index}-can_answer_after_sales"] = "on"
            if row.pk == membership.pk:
                for name, value in flags.items():
                    if value:
                        data[f"{prefix}-{index}-{name}"] = "on"
        return client.post(url, data)

    # A staff member cannot give themselves the right.
    post_as(membership.user, can_approve_refunds=True, can_change_prices=True)
    membership.refresh_from_db()
    assert not membership.can_approve_refunds and not membership.can_change_prices

    response = post_as(shop.owner, can_approve_refunds=True)
    assert response.status_code == 302, response.content.decode()[:2000]
    membership.refresh_from_db()
    assert membership.can_approve_refunds and not membership.can_change_prices


def test_a_shopper_or_other_shops_staff_is_refused_everywhere(paid_order, other_shop):  # noqa: F811
    request = _request(paid_order)
    outsider = other_shop.owner
    response = _api(outsider).post(f"{API}/merchant/after-sales/{request.pk}/approve/", {}, format="json")
    assert response.status_code == 404
    assert not staff_can(
        user=outsider, shop_id=paid_order.shop_id, permission=StaffPermission.MANAGE_COMMISSION
    )
    assert place_order  # the helper stays importable for neighbours


def test_the_staff_after_sales_queue_asks_for_permissions_once(client, paid_order, staff):  # noqa: F811
    """The queue's actions depend on the staff member's rights: one query, whatever the number of rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _request(paid_order)
    client.force_login(staff)
    changelist = reverse("admin:shop_aftersalesrequest_changelist")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(changelist).status_code == 200
    membership_reads = [q["sql"] for q in queries.captured_queries if "shop_shopmembership" in q["sql"]]
    permission_reads = [sql for sql in membership_reads if "can_approve_refunds" in sql]
    assert len(permission_reads) == 1, permission_reads


def test_the_owner_sets_staff_permissions_through_the_api(shop, other_shop):
    staff = ShopMembershipFactory(shop=shop).user
    url = f"{API}/merchant/shops/{shop.pk}/staff/"
    listed = _api(staff).get(url)
    assert listed.status_code == 200
    rows = {row["user_id"]: row for row in listed.json()}
    assert rows[shop.owner.pk]["role"] == "owner" and all(rows[shop.owner.pk]["permissions"].values())
    assert rows[staff.pk]["permissions"] == {
        "ship": True,
        "answer_after_sales": True,
        "approve_refunds": False,
        "change_prices": False,
        "manage_commission": False,
    }
    assert set(rows[staff.pk]["permissions"]) == set(StaffPermission.values)

    # Staff cannot give themselves a right; another shop's owner does not even see the shop.
    refused = _api(staff).patch(f"{url}{staff.pk}/", {"change_prices": True}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "staff_permission_denied"
    outsider = _api(other_shop.owner)
    assert outsider.get(url).status_code == 404
    assert outsider.patch(f"{url}{staff.pk}/", {"change_prices": True}, format="json").status_code == 404
    assert not staff_can(user=staff, shop_id=shop.pk, permission="change_prices")

    changed = _api(shop.owner).patch(f"{url}{staff.pk}/", {"change_prices": True}, format="json")
    assert changed.status_code == 200 and changed.json()["permissions"]["change_prices"] is True
    assert changed.json()["permissions"]["ship"] is True  # fields not sent stay as they were
    assert staff_can(user=staff, shop_id=shop.pk, permission="change_prices")
    bad = _api(shop.owner).patch(f"{url}{staff.pk}/", {"change_prices": "maybe"}, format="json")
    assert bad.status_code == 400 and "change_prices" in bad.json()
    assert _api(shop.owner).patch(f"{url}999999/", {"ship": False}, format="json").status_code == 404


def test_new_spec_combinations_made_by_staff_without_the_right_start_unpriced(shop):
    """Adding a spec value makes new SKUs; they would take the cheapest existing price, which is a
    price decision: for staff who may not change prices they start at ¥0 (not for sale)."""
    product = make_sku(shop=shop, price_fen=1000, stock=5).product
    specs_url = f"{API}/merchant/products/{product.pk}/specs/"
    owner, staff = _api(shop.owner), _api(ShopMembershipFactory(shop=shop).user)

    def put(api, values):
        response = api.put(specs_url, {"specs": [{"name": "颜色", "values": values}]}, format="json")
        assert response.status_code == 200
        return {row["spec_label"]: row["price_fen"] for row in response.json()["skus"]}

    put(owner, ["红色"])
    SKU.objects.filter(product=product).update(price_fen=1000)
    assert put(staff, ["红色", "蓝色"]) == {"红色": 1000, "蓝色": 0}
    assert put(owner, ["红色", "蓝色", "白色"]) == {"红色": 1000, "蓝色": 0, "白色": 1000}
