"""API and pages: a promoter sees only their own links, clicks and ledger; merchants set plans on
their own products only; operators review and freeze; bad input is a 400; pages render."""

import io

import pytest
from django.test import Client
from django.urls import reverse

from affiliates.ledger import ledger_sync
from affiliates.models import CommissionPlan, Promoter
from tests.affiliates.helpers import (
    buy,
    click,
    complete,
    creator_link,
    make_buyer,
    make_promoter,
    make_sku,
    offer,
    pay_order,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(shop):
    sku = make_sku(shop=shop, price_fen=20000)
    offer(sku, 1000)
    mine, theirs = make_promoter(name="我"), make_promoter(name="别人")
    my_link, their_link = creator_link(mine, sku), creator_link(theirs, sku, scene="moments")
    for link in (my_link, their_link):
        client = Client()
        click(client, link)
        complete(pay_order(buy(client, make_buyer(), sku)))
    ledger_sync()
    return {"sku": sku, "mine": mine, "theirs": theirs, "my_link": my_link, "their_link": their_link}


def api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_promoter_sees_only_own_links_clicks_and_ledger(world):
    client = api(world["mine"].user)
    links = client.get("/api/v1/promoter/links/").json()["results"]
    assert [link["code"] for link in links] == [world["my_link"].code]
    assert links[0]["clicks"] == 1
    clicks = client.get("/api/v1/promoter/clicks/").json()["results"]
    assert {c["link"] for c in clicks} == {world["my_link"].code}
    ledger = client.get("/api/v1/promoter/ledger/").json()["results"]
    assert len(ledger) == 1 and ledger[0]["amount_fen"] == 2000 and ledger[0]["status"] == "settled"
    assert client.get("/api/v1/promoter/balance/").json() == {"settled_fen": 2000, "pending_fen": 0}
    # Another's link cannot be touched by id.
    response = client.patch(
        f"/api/v1/promoter/links/{world['their_link'].pk}/",
        {"is_active": False},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert Promoter.objects.get(pk=world["theirs"].pk).links.get().is_active


def test_non_promoters_are_refused(world):
    client = api(UserFactory())
    for path in ("/api/v1/promoter/links/", "/api/v1/promoter/ledger/", "/api/v1/promoter/balance/"):
        assert client.get(path).status_code == 403
    assert Client().get("/api/v1/promoter/ledger/").status_code in (401, 403)


def test_apply_review_and_bad_input():
    user = UserFactory()
    client = api(user)
    response = client.post("/api/v1/promoter/me/", {"role": "creator"}, content_type="application/json")
    assert response.status_code == 400 and "real_name" in response.json()
    body = {
        "role": "creator",
        "display_name": "小达人",
        "real_name": "李四",
        "id_number": "11010119900101123X",
    }
    response = client.post("/api/v1/promoter/me/", body, content_type="application/json")
    assert response.status_code == 201 and response.json()["status"] == "applied"
    assert response.json()["id_number"].startswith("110") and "*" in response.json()["id_number"]
    assert client.post("/api/v1/promoter/me/", body, content_type="application/json").status_code == 400
    promoter_id = response.json()["id"]
    assert (
        client.post(f"/api/v1/operator/promoters/{promoter_id}/review/", {"approve": True}).status_code == 403
    )
    operator = api(UserFactory(is_staff=True, is_superuser=True))
    response = operator.post(
        f"/api/v1/operator/promoters/{promoter_id}/review/",
        {"approve": True},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert operator.post(f"/api/v1/operator/promoters/{promoter_id}/freeze/").json()["status"] == "frozen"
    unfreeze = f"/api/v1/operator/promoters/{promoter_id}/unfreeze/"
    assert client.post(unfreeze, {}, content_type="application/json").status_code == 403
    bad = operator.post(unfreeze, {"restore_commission": "perhaps"}, content_type="application/json")
    assert bad.status_code == 400 and "restore_commission" in bad.json()
    response = operator.post(unfreeze, {"restore_commission": False}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "approved"


def test_merchant_plans_only_on_own_products(world, merchant, other_shop):
    client = api(merchant)
    url = f"/api/v1/merchant/products/{world['sku'].product_id}/commission-plan/"
    assert (
        client.put(url, {"kind": "public", "rate_bp": 9500}, content_type="application/json").status_code
        == 400
    )
    response = client.put(
        url,
        {"kind": "public", "rate_bp": 1500, "targeted": {str(world["mine"].pk): 2000}},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["targeted"] == {str(world["mine"].pk): 2000}
    assert CommissionPlan.objects.get(product_id=world["sku"].product_id).rate_bp == 1500
    foreign = make_sku(shop=other_shop)
    response = client.put(
        f"/api/v1/merchant/products/{foreign.product_id}/commission-plan/",
        {"kind": "public", "rate_bp": 100},
        content_type="application/json",
    )
    assert response.status_code == 404
    sales = client.get("/api/v1/merchant/affiliate-sales/?group_by=scene").json()
    assert {row["key"] for row in sales} == {"channels_video", "moments"}
    assert client.get("/api/v1/merchant/affiliate-sales/?group_by=nope").status_code == 400


def test_pool_filters_and_showcase(world):
    client = api(world["mine"].user)
    results = client.get("/api/v1/promoter/pool/?rate_min_bp=500&ordering=rate").json()["results"]
    assert [p["id"] for p in results] == [world["sku"].product_id]
    assert client.get("/api/v1/promoter/pool/?rate_min_bp=2000").json()["results"] == []
    assert client.get("/api/v1/promoter/pool/?rate_min_bp=abc").status_code == 400
    assert client.post("/api/v1/promoter/showcase/", {"product_id": 999999}).status_code == 400


def test_pages_render_for_a_creator(world, django_assert_max_num_queries):
    client = api(world["mine"].user)
    for name in ("home", "pool", "showcase-edit", "links", "ledger"):
        response = client.get(reverse(f"affiliates:{name}"))
        assert response.status_code == 200, name
    with django_assert_max_num_queries(12):
        response = client.get(reverse("affiliates:ledger"))
    assert "¥20.00" in response.content.decode()
    public = Client().get(reverse("affiliates:showcase", args=[world["mine"].showcase_code]))
    assert public.status_code == 200 and world["sku"].product.title in public.content.decode()
    card = Client().get(reverse("affiliates:link-card", args=[world["my_link"].code]))
    assert card.status_code == 200 and f"/t/{world['my_link'].code}" in card.content.decode()
    qr = Client().get(reverse("affiliates:link-qr", args=[world["my_link"].code]))
    assert qr.status_code == 200 and qr["Content-Type"] == "image/png"
    from PIL import Image

    with Image.open(io.BytesIO(qr.content)) as image:
        assert image.size[0] == image.size[1] > 100


def test_apply_page_reshows_the_form_on_bad_input():
    client = api(UserFactory())
    response = client.post(reverse("affiliates:apply"), {"role": "creator", "id_number": "1"})
    assert response.status_code == 400
    response = client.post(
        reverse("affiliates:apply"),
        {"role": "sharer", "display_name": "阿推", "real_name": "王五", "id_number": "110101199001011234"},
    )
    assert response.status_code == 302
    assert Promoter.objects.get().status == "applied"
