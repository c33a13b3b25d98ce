"""Gift API and pages: the whole flow through HTTP, the privacy rules checked in JSON and HTML
(the giver never gets the recipient's address or phone, the recipient never a price), clear errors
for bad requests, and query counts that do not grow with claims."""

import json

import pytest
from django.urls import reverse

from gifting.models import Gift, GiftClaim
from gifting.services import gift_claim
from shop.models import Order
from tests.factories import UserFactory
from tests.gifting.helpers import ADDRESS, make_recipient, other_spec, paid_gift
from tests.shop.order_factories import make_sku, pay_order, ship_order

pytestmark = pytest.mark.django_db

SECRET_BITS = [ADDRESS["phone"], ADDRESS["detail"], ADDRESS["recipient_name"], "科技园路", "13912345678"]


def _assert_private(text: str):
    for bit in SECRET_BITS:
        assert bit not in text, bit


def test_the_whole_flow_through_the_api_keeps_each_side_private(client):
    giver = UserFactory(nickname="大方的小明")
    sku = make_sku(price_fen=8800, stock=10, title="巧克力礼盒")
    client.force_login(giver)
    answer = client.post(
        "/api/v1/gifts/",
        {"sku_id": sku.pk, "copies": 2, "mode": "group", "message": "新年快乐", "channel": "group_chat"},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["status"] == "awaiting_payment" and body["total_fen"] == 17600 and len(body["token"]) >= 24
    order = Order.objects.get(number=body["order_number"])
    assert order.kind == Order.Kind.GIFT
    pay_order(order)
    detail = client.get(f"/api/v1/gifts/sent/{body['token']}/").json()
    assert detail["status"] == "open" and detail["claim_deadline"]

    recipient = UserFactory(nickname="收礼的小红")
    client.force_login(recipient)
    seen = client.get(f"/api/v1/gifts/{body['token']}/")
    assert seen.status_code == 200
    text = seen.content.decode()
    assert "8800" not in text and "88.00" not in text and "fen" not in text and "price" not in text
    assert seen.json()["giver_nickname"] == "大方的小明" and seen.json()["message"] == "新年快乐"
    claimed = client.post(
        f"/api/v1/gifts/{body['token']}/claim/", {"address": ADDRESS}, content_type="application/json"
    )
    assert claimed.status_code == 201, claimed.content
    assert "8800" not in claimed.content.decode() and "88.00" not in claimed.content.decode()
    sub = Order.objects.get(number=claimed.json()["order_number"])
    assert sub.recipient_phone == ADDRESS["phone"]
    # The recipient's own order page and API show no price either.
    page = client.get(reverse("shop:order-detail", args=[sub.number])).content.decode()
    assert "88.00" not in page
    as_json = client.get(f"/api/v1/orders/{sub.number}/")
    assert as_json.status_code == 200 and "8800" not in as_json.content.decode()
    assert as_json.json()["total_fen"] is None and as_json.json()["kind"] == "gift_claim"
    thanks = client.post(
        f"/api/v1/gifts/claims/{claimed.json()['id']}/thanks/",
        {"note": "太感谢了"},
        content_type="application/json",
    )
    assert thanks.status_code == 200 and thanks.json()["thanks"] == "太感谢了"
    ship_order(sub)

    client.force_login(giver)
    detail = client.get(f"/api/v1/gifts/sent/{body['token']}/")
    _assert_private(detail.content.decode())
    data = detail.json()
    assert data["claims"][0]["recipient_nickname"] == "收礼的小红"
    assert data["claims"][0]["shipping"] == "shipped" and data["claims"][0]["thanks"] == "太感谢了"
    assert any("shipped" in entry["text"] or "发货" in entry["text"] for entry in data["timeline"])
    html = client.get(reverse("gifting:sent-detail", args=[body["token"]])).content.decode()
    _assert_private(html)
    assert "收礼的小红" in html and "太感谢了" in html
    for url in (
        "/api/v1/gifts/",
        reverse("gifting:sent"),
        reverse("shop:orders"),
        reverse("shop:order-detail", args=[order.number]),
    ):
        _assert_private(client.get(url).content.decode())
    # Someone else's gift: 404.
    client.force_login(UserFactory())
    assert client.get(f"/api/v1/gifts/sent/{body['token']}/").status_code == 404
    assert client.get(reverse("gifting:sent-detail", args=[body["token"]])).status_code == 404


def test_api_refusals_are_clear(client):
    giver = UserFactory()
    gift = paid_gift(giver=giver, copies=1)
    person = make_recipient()
    client.force_login(person)
    assert client.get("/api/v1/gifts/nope/").status_code == 404
    assert (
        client.post(
            "/api/v1/gifts/nope/claim/", {"address": ADDRESS}, content_type="application/json"
        ).status_code
        == 404
    )
    bad = client.post(f"/api/v1/gifts/{gift.token}/claim/", {}, content_type="application/json")
    assert bad.status_code == 400 and "address_id" in bad.json()
    pricier = other_spec(gift.sku, price_fen=gift.sku.price_fen + 1)
    bad = client.post(
        f"/api/v1/gifts/{gift.token}/claim/",
        {"sku_id": pricier.pk, "address": ADDRESS},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["code"] == "gift_sku_price_differs"
    ok = client.post(
        f"/api/v1/gifts/{gift.token}/claim/",
        {"address_id": person.addresses.get().pk},
        content_type="application/json",
    )
    assert ok.status_code == 201
    again = client.post(
        f"/api/v1/gifts/{gift.token}/claim/", {"address": ADDRESS}, content_type="application/json"
    )
    assert again.status_code in (409,) and again.json()["code"] in ("gift_already_claimed", "gift_all_taken")
    late = make_recipient()
    client.force_login(late)
    taken = client.post(
        f"/api/v1/gifts/{gift.token}/claim/", {"address": ADDRESS}, content_type="application/json"
    )
    assert taken.status_code == 409 and taken.json()["code"] == "gift_all_taken"
    client.force_login(giver)
    too_long = client.post(
        "/api/v1/gifts/", {"sku_id": gift.sku_id, "message": "好" * 101}, content_type="application/json"
    )
    assert too_long.status_code == 400 and "message" in too_long.json()
    signed_out = client.__class__()
    assert signed_out.post(
        f"/api/v1/gifts/{gift.token}/claim/", {}, content_type="application/json"
    ).status_code in (401, 403)
    assert GiftClaim.objects.count() == 1


def test_the_claim_page_signed_out_sends_you_to_sign_in_and_back(client):
    gift = paid_gift(copies=2)
    page = client.get(reverse("gifting:claim", args=[gift.token]))
    assert page.status_code == 200 and "生日快乐" in page.content.decode()
    assert "50.00" not in page.content.decode()
    posted = client.post(reverse("gifting:claim", args=[gift.token]), {})
    assert posted.status_code == 302 and "login" in posted["Location"] and gift.token in posted["Location"]
    assert client.get(reverse("gifting:claim", args=["bad-token"])).status_code == 404


def test_claiming_on_the_page_with_a_new_address_and_thanking(client):
    gift = paid_gift(copies=2)
    person = UserFactory()
    client.force_login(person)
    answer = client.post(reverse("gifting:claim", args=[gift.token]), {"sku_id": gift.sku_id, **ADDRESS})
    assert answer.status_code == 302
    claim = GiftClaim.objects.get(recipient=person)
    page = client.get(reverse("gifting:claim", args=[gift.token])).content.decode()
    assert 'data-testid="gift-mine"' in page
    client.post(reverse("gifting:thank", args=[claim.pk]), {"note": "谢谢！"})
    claim.refresh_from_db()
    assert claim.thanks == "谢谢！"
    bad = client.post(reverse("gifting:claim", args=[gift.token]), {"detail": "x"})
    assert bad.status_code in (400, 409)


def test_giving_on_the_page_goes_to_payment_and_errors_show_on_the_form(client):
    giver = UserFactory()
    sku = make_sku(price_fen=2000, stock=5)
    client.force_login(giver)
    page = client.get(reverse("gifting:new", args=[sku.product_id]))
    assert page.status_code == 200
    bad = client.post(
        reverse("gifting:new", args=[sku.product_id]),
        {"sku_id": sku.pk, "mode": "friend", "copies": 3, "channel": "friend_chat", "message": "hi"},
    )
    assert bad.status_code == 400 and not Gift.objects.exists()
    good = client.post(
        reverse("gifting:new", args=[sku.product_id]),
        {"sku_id": sku.pk, "mode": "group", "copies": 3, "channel": "group_chat", "message": "hi"},
    )
    assert good.status_code == 302 and "/pay/" in good["Location"]
    gift = Gift.objects.get()
    pay_order(gift.order)
    card = client.get(reverse("gifting:sent-detail", args=[gift.token])).content.decode()
    assert gift.token in card and 'data-testid="gift-qr"' in card
    qr = client.get(reverse("gifting:qr", args=[gift.token]))
    assert qr.status_code == 200 and qr["Content-Type"] == "image/png"


def _queries(client, url, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("claims", [1, 6])
def test_the_givers_pages_do_not_grow_with_claims(client, django_assert_max_num_queries, claims):
    giver = UserFactory()
    gift = paid_gift(giver=giver, copies=8)
    from gifting.services import gift_claim

    for _ in range(claims):
        gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    client.force_login(giver)
    _queries(client, reverse("gifting:sent-detail", args=[gift.token]), django_assert_max_num_queries, 14)
    _queries(client, f"/api/v1/gifts/sent/{gift.token}/", django_assert_max_num_queries, 14)
    _queries(client, reverse("gifting:sent"), django_assert_max_num_queries, 8)
    assert json.loads(client.get("/api/v1/gifts/").content)[0]["claimed_count"] == claims


def test_a_claim_through_the_api_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    gift = paid_gift(copies=3)
    for _ in range(2):
        person = make_recipient()
        client.force_login(person)
        # The test's own address lookup, the session's user, the gift, the address, a savepoint
        # pair (the test's transaction), the sub-order, its line with events, claim row and
        # messages, the copy taken, and the check for the last copy: 10.
        with django_assert_max_num_queries(10):
            answer = client.post(
                f"/api/v1/gifts/{gift.token}/claim/",
                {"address_id": person.addresses.get().pk},
                content_type="application/json",
            )
        assert answer.status_code == 201, answer.content


def test_the_merchant_admin_shows_gift_orders_their_sub_orders_and_the_message_for_packing(client):
    from gifting.services import gift_claim

    gift = paid_gift(copies=2)
    claim = gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    owner = gift.order.shop.owner
    client.force_login(owner)
    page = client.get(reverse("admin:shop_order_change", args=[gift.order_id])).content.decode()
    assert claim.order.number in page and 'data-testid="gift-order-notice"' in page
    assert 'data-testid="ship-order"' not in page
    sub_page = client.get(reverse("admin:shop_order_change", args=[claim.order_id])).content.decode()
    assert "生日快乐" in sub_page and 'data-testid="gift-claim-notice"' in sub_page
    packing = client.get(reverse("admin:shop_order_ship", args=[claim.order_id])).content.decode()
    assert "生日快乐" in packing and 'data-testid="gift-packing"' in packing
    listing = client.get(reverse("admin:shop_order_changelist") + "?kind__exact=gift_claim").content.decode()
    assert claim.order.number in listing and gift.order.number not in listing
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("admin:shop_order_change", args=[claim.order_id])).status_code in (
        302,
        403,
        404,
    )


def test_the_claim_page_is_one_cached_part_with_each_visitors_own_parts_layered(
    client, django_assert_max_num_queries
):
    """The giver, a recipient who accepted, one who may still accept and a signed-out visitor read
    the same cached part (giver, product, message) and each their own: no one sees another's."""
    giver = UserFactory(nickname="小明")
    gift = paid_gift(giver=giver, copies=3)
    url = reverse("gifting:claim", args=[gift.token])
    taker, other = make_recipient(), make_recipient()
    gift_claim(token=gift.token, recipient=taker, address=ADDRESS)

    client.force_login(taker)
    mine = client.get(url).content.decode()
    assert 'data-testid="gift-mine"' in mine and 'data-status="open"' in mine
    client.force_login(other)
    client.get(url)  # the first visit of a visitor records the link as opened (once)
    with django_assert_max_num_queries(3):
        # the gift with its copies claimed; the session's user with the visitor's badges; their claim
        # of this gift with the specs and their addresses: 3
        page = client.get(url).content.decode()
    assert 'data-testid="gift-claim-form"' in page and 'data-testid="gift-mine"' not in page
    assert "幸福路 9 号" in page and ADDRESS["detail"] not in page  # their own address book only
    assert 'name="csrfmiddlewaretoken" value="__' not in page and "小明" in page
    client.force_login(giver)
    own = client.get(url).content.decode()
    assert (
        'data-testid="gift-claim-form"' not in own
        and reverse("gifting:sent-detail", args=[gift.token]) in own
    )
    client.logout()
    anonymous = client.get(url).content.decode()
    assert 'data-testid="gift-sign-in"' in anonymous and "幸福路" not in anonymous
    assert "50.00" not in anonymous + page + mine  # never the price


def test_my_gifts_pages_run_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    giver = UserFactory()
    person = make_recipient()
    for copies in (1, 2, 3):
        gift = paid_gift(giver=giver, copies=copies)
        gift_claim(token=gift.token, recipient=person, address_id=person.addresses.get().pk)
    client.force_login(giver)
    with django_assert_max_num_queries(3):  # the user, the inbox badge, the gifts with their counts
        sent = client.get(reverse("gifting:sent")).content.decode()
    assert sent.count('data-testid="gift-sent"') == 3
    client.force_login(person)
    with django_assert_max_num_queries(3):  # the user, the inbox badge, the claims
        received = client.get(reverse("gifting:received")).content.decode()
    assert received.count('data-testid="gift-received"') == 3
