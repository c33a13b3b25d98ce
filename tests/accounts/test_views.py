"""Browser pages through Django's test client: forms re-shown with errors, nothing saved on bad input."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.urls import reverse

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


@pytest.fixture
def signed_in(client, shopper):
    client.force_login(shopper)
    return client


@pytest.fixture
def logins():
    seen = []

    def receiver(sender, user, request, **kwargs):
        seen.append(user.pk)

    user_logged_in.connect(receiver)
    yield seen
    user_logged_in.disconnect(receiver)


def test_register_creates_account_signs_in_and_fires_user_logged_in(client, logins):
    response = client.post(
        reverse("accounts:register"),
        {
            "phone": "139 1234 5678",
            "nickname": "阿花",
            "password": "lychee-tea-42",
            "password_confirm": "lychee-tea-42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(phone="13912345678")
    assert logins == [user.pk]
    assert client.get(reverse("accounts:me")).context["user"] == user


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"password": "12345678", "password_confirm": "12345678"}, "password"),
        ({"password_confirm": "something-else-9"}, "password_confirm"),
    ],
)
def test_register_bad_input_reshows_form_with_field_error(client, data, field):
    form = {
        "phone": "13912345678",
        "nickname": "",
        "password": "lychee-tea-42",
        "password_confirm": "lychee-tea-42",
    }
    response = client.post(reverse("accounts:register"), {**form, **data})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not User.objects.exists()


def test_register_taken_phone_reshows_form(client):
    UserFactory(phone="13912345678")
    response = client.post(
        reverse("accounts:register"),
        {"phone": "13912345678", "password": "lychee-tea-42", "password_confirm": "lychee-tea-42"},
    )
    assert response.status_code == 400
    assert "phone" in response.context["form"].errors
    assert User.objects.count() == 1


def test_login_with_phone_fires_signal_and_wrong_password_is_refused(client, shopper, password, logins):
    bad = client.post(reverse("accounts:login"), {"username": shopper.phone, "password": "nope-nope-1"})
    assert bad.status_code == 400 and bad.context["form"].non_field_errors()
    good = client.post(
        reverse("accounts:login") + "?next=/accounts/addresses/",
        {"username": f"+86 {shopper.phone}", "password": password, "next": "/accounts/addresses/"},
    )
    assert good.status_code == 302 and good["Location"] == "/accounts/addresses/"
    assert logins == [shopper.pk]


def test_logout_is_post_only(signed_in):
    assert signed_in.get(reverse("accounts:logout")).status_code == 405
    assert signed_in.post(reverse("accounts:logout")).status_code == 302
    assert signed_in.get(reverse("accounts:me")).status_code == 302  # back to sign-in


def test_pages_need_sign_in(client):
    for name in ("accounts:me", "accounts:addresses", "accounts:inbox", "accounts:friends"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_me_page_links_and_profile_update(signed_in, shopper):
    page = signed_in.get(reverse("accounts:me")).content.decode()
    for link in ("/orders/", "/accounts/addresses/", "/accounts/inbox/", "/accounts/friends/"):
        assert f'href="{link}"' in page
    response = signed_in.post(reverse("accounts:me"), {"nickname": "新名字", "email": "x@example.com"})
    assert response.status_code == 302
    shopper.refresh_from_db()
    assert (shopper.nickname, shopper.email) == ("新名字", "x@example.com")
    bad = signed_in.post(reverse("accounts:me"), {"nickname": "x", "email": "nope"})
    assert bad.status_code == 400 and "email" in bad.context["form"].errors


def test_address_add_edit_default_delete(signed_in, shopper):
    assert signed_in.post(reverse("accounts:address-create"), ADDRESS).status_code == 302
    assert (
        signed_in.post(reverse("accounts:address-create"), {**ADDRESS, "detail": "二号"}).status_code == 302
    )
    first, second = Address.objects.filter(user=shopper).order_by("id")
    assert first.is_default and not second.is_default

    edit = signed_in.post(reverse("accounts:address-edit", args=[second.pk]), {**ADDRESS, "detail": "改过"})
    assert edit.status_code == 302
    signed_in.post(reverse("accounts:address-default", args=[second.pk]))
    second.refresh_from_db()
    assert second.detail == "改过" and second.is_default

    page = signed_in.get(reverse("accounts:addresses")).content.decode()
    assert page.index("改过") < page.index("科苑路")  # default first

    signed_in.post(reverse("accounts:address-delete", args=[second.pk]))
    first.refresh_from_db()
    assert first.is_default and Address.objects.filter(user=shopper).count() == 1


def test_address_without_district_reshows_form_and_saves_nothing(signed_in, shopper):
    response = signed_in.post(reverse("accounts:address-create"), {**ADDRESS, "district": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["district"]
    assert not Address.objects.filter(user=shopper).exists()


def test_address_bad_phone_reshows_form(signed_in, shopper):
    response = signed_in.post(reverse("accounts:address-create"), {**ADDRESS, "phone": "123"})
    assert response.status_code == 400 and response.context["form"].errors["phone"]


def test_other_users_address_pages_are_404(signed_in, other_shopper):
    address = AddressFactory(user=other_shopper)
    assert signed_in.get(reverse("accounts:address-edit", args=[address.pk])).status_code == 404
    assert signed_in.post(reverse("accounts:address-delete", args=[address.pk])).status_code == 404
    assert signed_in.post(reverse("accounts:address-default", args=[address.pk])).status_code == 404
    assert Address.objects.filter(pk=address.pk).exists()


def test_inbox_lists_marks_read_and_follows_local_link(
    signed_in, shopper, other_shopper, django_assert_max_num_queries
):
    NotificationFactory.create_batch(25, user=shopper, url="/orders/")
    theirs = NotificationFactory(user=other_shopper, title="别人的通知")
    with django_assert_max_num_queries(8):
        response = signed_in.get(reverse("accounts:inbox"))
    page = response.content.decode()
    assert len(response.context["page"].object_list) == 20
    assert 'data-testid="unread-count">25<' in page
    assert "别人的通知" not in page

    newest = Notification.objects.filter(user=shopper).first()
    opened = signed_in.post(reverse("accounts:notification-open", args=[newest.pk]))
    assert opened.status_code == 302 and opened["Location"] == "/orders/"
    newest.refresh_from_db()
    assert newest.is_read

    assert signed_in.post(reverse("accounts:notification-open", args=[theirs.pk])).status_code == 404
    signed_in.post(reverse("accounts:notification-read-all"))
    assert not Notification.objects.filter(user=shopper, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_notification_link_to_another_site_is_not_followed(signed_in, shopper):
    notification = NotificationFactory(user=shopper, url="https://evil.example.com/")
    response = signed_in.post(reverse("accounts:notification-open", args=[notification.pk]))
    assert response["Location"] == reverse("accounts:inbox")


def test_friends_page_request_accept_remove(client, shopper, other_shopper):
    client.force_login(shopper)
    response = client.post(reverse("accounts:friends"), {"phone": other_shopper.phone})
    assert response.status_code == 302
    request = FriendRequest.objects.get()

    client.force_login(other_shopper)
    page = client.get(reverse("accounts:friends")).content.decode()
    assert shopper.display_name in page and 'data-testid="incoming-request"' in page
    client.post(reverse("accounts:friend-accept", args=[request.pk]))
    assert Friendship.objects.count() == 2
    assert 'data-testid="friend"' in client.get(reverse("accounts:friends")).content.decode()

    client.post(reverse("accounts:friend-remove", args=[shopper.pk]))
    assert not Friendship.objects.exists()


def test_friends_page_errors_are_shown_on_the_form(signed_in, shopper):
    unknown = signed_in.post(reverse("accounts:friends"), {"phone": "13999999999"})
    assert unknown.status_code == 400 and unknown.context["form"].errors["phone"]
    itself = signed_in.post(reverse("accounts:friends"), {"phone": shopper.phone})
    assert itself.status_code == 400 and itself.context["form"].errors["phone"]
    assert not FriendRequest.objects.exists()


def test_answered_request_shows_a_message_not_an_error_page(client, shopper, other_shopper):
    request = services.friend_request_send(from_user=shopper, phone=other_shopper.phone)
    services.friend_request_decline(user=other_shopper, request_id=request.pk)
    client.force_login(other_shopper)
    response = client.post(reverse("accounts:friend-accept", args=[request.pk]), follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    client.force_login(shopper)  # the sender cannot answer their own request
    assert client.post(reverse("accounts:friend-accept", args=[request.pk])).status_code == 404


def test_pages_are_chinese_by_default_and_english_on_request(client):
    chinese = client.get(reverse("accounts:login")).content.decode()
    assert "登录" in chinese and "手机号" in chinese
    client.cookies["django_language"] = "en"
    english = client.get(reverse("accounts:login")).content.decode()
    assert "Sign in" in english and "Phone number" in english


def test_friends_and_addresses_pages_query_counts_do_not_grow(client, shopper, django_assert_max_num_queries):
    for _ in range(6):
        friend = UserFactory()
        services.friendship_create(user=shopper, friend=friend)
        services.friend_request_send(from_user=UserFactory(), phone=shopper.phone)
        services.friend_request_send(from_user=shopper, phone=UserFactory().phone)
        AddressFactory(user=shopper, is_default=False)
    client.force_login(shopper)
    with django_assert_max_num_queries(9):
        page = client.get(reverse("accounts:friends"))
    assert page.content.decode().count('data-testid="friend"') == 6
    assert page.content.decode().count('data-testid="incoming-request"') == 6
    with django_assert_max_num_queries(7):
        page = client.get(reverse("accounts:addresses"))
    assert page.content.decode().count('data-testid="address"') == 6
