import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import Address, FriendRequest, Notification
from tests.factories import AddressFactory, NotificationFactory

User = get_user_model()
pytestmark = pytest.mark.django_db

CHANGELISTS = (
    "admin:accounts_user_changelist",
    "admin:accounts_address_changelist",
    "admin:accounts_notification_changelist",
    "admin:accounts_friendrequest_changelist",
)


def test_operator_sees_people_screens(client, operator, django_assert_max_num_queries):
    AddressFactory.create_batch(5)
    NotificationFactory.create_batch(5)
    client.force_login(operator)
    for name in CHANGELISTS:
        with django_assert_max_num_queries(12):
            assert client.get(reverse(name)).status_code == 200, name


def test_operator_adds_a_user_by_phone(client, operator):
    client.force_login(operator)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "phone": "13912345678",
            "nickname": "新人",
            "password1": "lychee-tea-42",
            "password2": "lychee-tea-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert User.objects.get(phone="13912345678").check_password("lychee-tea-42")


def test_operator_opens_a_user_change_page(client, operator, shopper):
    AddressFactory(user=shopper)
    client.force_login(operator)
    assert client.get(reverse("admin:accounts_user_change", args=[shopper.pk])).status_code == 200


def test_merchant_staff_cannot_see_people(client, merchant):
    client.force_login(merchant)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "accounts" not in {app["app_label"] for app in index.context["app_list"]}
    address = AddressFactory()
    for name in CHANGELISTS:
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("admin:accounts_address_change", args=[address.pk])).status_code == 403
    assert (
        Address.objects.count() == 1
        and Notification.objects.count() == 0
        and FriendRequest.objects.count() == 0
    )
