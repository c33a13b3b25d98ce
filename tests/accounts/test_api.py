"""/api/v1/ accounts endpoints: token and session auth, 400s with field messages, others' ids are 404."""

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Address, FriendRequest, Friendship, Notification
from tests.factories import AddressFactory, NotificationFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db

ADDRESS = {
    "recipient_name": "张三",
    "phone": "13912345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科苑路 15 号",
}


def url(name, *args):
    return reverse(f"accounts-api:{name}", args=args)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_shopper(api, shopper):
    api.force_authenticate(shopper)
    return api


def test_register_returns_user_and_token_and_token_works(api):
    response = api.post(
        url("register"),
        {"phone": "13912345678", "password": "lychee-tea-42", "nickname": "阿花"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"]["phone"] == "13912345678" and body["user"]["nickname"] == "阿花"
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api.get(url("me")).json()["phone"] == "13912345678"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"password": "12345678"}, "password"),
        ({"password": ""}, "password"),
        ({"email": "nope"}, "email"),
    ],
)
def test_register_bad_input_is_400_with_field_messages(api, data, field):
    response = api.post(
        url("register"), {"phone": "13912345678", "password": "lychee-tea-42", **data}, format="json"
    )
    assert response.status_code == 400
    assert response.json()[field]
    assert not User.objects.exists()


def test_register_taken_phone_is_400_on_phone(api):
    UserFactory(phone="13912345678")
    response = api.post(url("register"), {"phone": "13912345678", "password": "lychee-tea-42"}, format="json")
    assert response.status_code == 400
    assert response.json()["phone"] and response.json()["code"] == "phone_taken"
    assert User.objects.count() == 1


def test_token_login_wrong_password_and_logout_deletes_token(api, shopper, password):
    wrong = api.post(url("token"), {"phone": shopper.phone, "password": "wrong-wrong-1"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["non_field_errors"]
    ok = api.post(url("token"), {"phone": shopper.phone, "password": password}, format="json")
    assert ok.status_code == 200
    token = ok.json()["token"]
    assert (
        api.post(url("token"), {"phone": shopper.phone, "password": password}, format="json").json()["token"]
        == token
    )
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post(url("logout")).status_code == 204
    assert not Token.objects.filter(user=shopper).exists()
    assert api.get(url("me")).status_code == 403


def test_session_auth_needs_csrf(shopper, password):
    api = APIClient(enforce_csrf_checks=True)
    api.login(request=HttpRequest(), phone=shopper.phone, password=password)  # the sign-in guard needs one
    assert api.get(url("me")).status_code == 200
    assert api.patch(url("me"), {"nickname": "x"}, format="json").status_code == 403


def test_anonymous_is_refused(api):
    # Session authentication comes first in settings, so DRF answers 403 (no WWW-Authenticate challenge).
    for name in ("me", "addresses", "friends", "friend-requests", "notifications", "notifications-unread"):
        assert api.get(url(name)).status_code == 403, name


def test_me_patch(as_shopper, shopper):
    response = as_shopper.patch(url("me"), {"nickname": "新名字", "email": "x@example.com"}, format="json")
    assert response.status_code == 200 and response.json()["nickname"] == "新名字"
    bad = as_shopper.patch(url("me"), {"email": "nope"}, format="json")
    assert bad.status_code == 400 and bad.json()["email"]
    shopper.refresh_from_db()
    assert shopper.email == "x@example.com"


def test_address_crud(as_shopper, shopper):
    created = as_shopper.post(url("addresses"), ADDRESS, format="json")
    assert created.status_code == 201 and created.json()["is_default"] is True
    second = as_shopper.post(url("addresses"), {**ADDRESS, "detail": "二号"}, format="json").json()
    patched = as_shopper.patch(url("address", second["id"]), {"detail": "改过"}, format="json")
    assert patched.status_code == 200 and patched.json()["detail"] == "改过"
    assert patched.json()["district"] == "南山区"
    made_default = as_shopper.post(url("address-default", second["id"]))
    assert made_default.json()["is_default"] is True
    listing = as_shopper.get(url("addresses")).json()
    assert [a["id"] for a in listing] == [second["id"], created.json()["id"]]
    assert as_shopper.delete(url("address", second["id"])).status_code == 204
    assert Address.objects.get(user=shopper).is_default


def test_address_without_district_is_400_and_nothing_saved(as_shopper, shopper):
    response = as_shopper.post(url("addresses"), {**ADDRESS, "district": ""}, format="json")
    assert response.status_code == 400 and response.json()["district"]
    missing = {k: v for k, v in ADDRESS.items() if k != "district"}
    assert as_shopper.post(url("addresses"), missing, format="json").json()["district"]
    bad_phone = as_shopper.post(url("addresses"), {**ADDRESS, "phone": "123"}, format="json")
    assert bad_phone.status_code == 400 and bad_phone.json()["phone"]
    assert not Address.objects.filter(user=shopper).exists()


def test_other_users_addresses_are_404(as_shopper, other_shopper):
    address = AddressFactory(user=other_shopper)
    assert as_shopper.get(url("address", address.pk)).status_code == 404
    assert as_shopper.patch(url("address", address.pk), {"detail": "x"}, format="json").status_code == 404
    assert as_shopper.delete(url("address", address.pk)).status_code == 404
    assert as_shopper.post(url("address-default", address.pk)).status_code == 404
    assert as_shopper.get(url("addresses")).json() == []
    address.refresh_from_db()
    assert address.detail != "x"


def test_friends_flow(api, shopper, other_shopper):
    api.force_authenticate(shopper)
    sent = api.post(url("friend-requests"), {"phone": other_shopper.phone}, format="json")
    assert sent.status_code == 201 and sent.json()["status"] == "pending"
    assert api.get(url("friend-requests")).json()["outgoing"][0]["to_user"]["id"] == other_shopper.pk
    # The sender cannot accept their own request.
    assert api.post(url("friend-request-accept", sent.json()["id"])).status_code == 404

    api.force_authenticate(other_shopper)
    incoming = api.get(url("friend-requests")).json()["incoming"]
    assert [r["from_user"]["id"] for r in incoming] == [shopper.pk]
    accepted = api.post(url("friend-request-accept", incoming[0]["id"]))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert [f["id"] for f in api.get(url("friends")).json()] == [shopper.pk]
    assert "phone" not in api.get(url("friends")).json()[0]  # friends see nicknames, not numbers

    assert api.delete(url("friend", shopper.pk)).status_code == 204
    assert not Friendship.objects.exists()


def test_friend_request_errors(as_shopper, shopper):
    unknown = as_shopper.post(url("friend-requests"), {"phone": "13999999999"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["phone"]
    itself = as_shopper.post(url("friend-requests"), {"phone": shopper.phone}, format="json")
    assert itself.status_code == 400 and itself.json()["phone"]
    malformed = as_shopper.post(url("friend-requests"), {"phone": "12"}, format="json")
    assert malformed.status_code == 400 and malformed.json()["phone"]
    assert not FriendRequest.objects.exists()


def test_answered_request_is_409(api, shopper, other_shopper):
    request = services.friend_request_send(from_user=shopper, phone=other_shopper.phone)
    api.force_authenticate(other_shopper)
    api.post(url("friend-request-decline", request.pk))
    assert api.post(url("friend-request-accept", request.pk)).status_code == 409


def test_notifications_paginated_counted_and_marked(
    as_shopper, shopper, other_shopper, django_assert_max_num_queries
):
    NotificationFactory.create_batch(25, user=shopper)
    theirs = NotificationFactory(user=other_shopper)
    with django_assert_max_num_queries(3):
        first_page = as_shopper.get(url("notifications")).json()
    assert first_page["count"] == 25 and len(first_page["results"]) == 20
    assert as_shopper.get(url("notifications") + "?page=2").json()["results"].__len__() == 5
    assert as_shopper.get(url("notifications-unread")).json() == {"unread": 25}

    newest = first_page["results"][0]["id"]
    read = as_shopper.post(url("notification-read", newest))
    assert read.status_code == 200 and read.json()["is_read"] is True
    assert as_shopper.get(url("notifications-unread")).json() == {"unread": 24}
    assert as_shopper.post(url("notification-read", theirs.pk)).status_code == 404
    assert as_shopper.post(url("notifications-read-all")).json() == {"marked": 24}
    assert Notification.objects.filter(user=other_shopper, read_at__isnull=True).count() == 1


def test_page_size_above_limit_is_400(as_shopper):
    assert as_shopper.get(url("notifications") + "?page_size=1000").status_code == 400


def test_friend_lists_query_counts_do_not_grow(as_shopper, shopper, django_assert_max_num_queries):
    for _ in range(6):
        services.friendship_create(user=shopper, friend=UserFactory())
        services.friend_request_send(from_user=UserFactory(), phone=shopper.phone)
        services.friend_request_send(from_user=shopper, phone=UserFactory().phone)
    with django_assert_max_num_queries(2):
        body = as_shopper.get(url("friend-requests")).json()
    assert len(body["incoming"]) == 6 and len(body["outgoing"]) == 6
    with django_assert_max_num_queries(1):
        assert len(as_shopper.get(url("friends")).json()) == 6
