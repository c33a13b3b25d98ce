"""Sign-in throttling (django-axes, accounts/signin.py): the page, the token API and the admin share one
count per phone number and per client address, in PostgreSQL; a lock answers 429 with a message and
ends after the cool-off or when an operator deletes the attempts."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 5  # settings.AXES_FAILURE_LIMIT's default, asserted below
WRONG = "wrong-password-1"


@pytest.fixture(autouse=True)
def _limits(settings):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.SIGNIN_ADDRESS_FAILURE_LIMIT == 20


def page_sign_in(client, phone, password, address="10.0.0.1"):
    return client.post(
        reverse("accounts:login"), {"username": phone, "password": password}, REMOTE_ADDR=address
    )


def token_sign_in(phone, password, address="10.0.0.1"):
    return APIClient().post(
        "/api/v1/auth/token/", {"phone": phone, "password": password}, format="json", REMOTE_ADDR=address
    )


def admin_sign_in(client, phone, password, address="10.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": phone, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def expire_locks():
    """Time travel: every counted failure happened just over the cool-off ago."""
    from django.conf import settings

    past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)


def test_page_locks_after_the_limit_with_a_message_and_opens_after_the_cool_off(client, shopper, password):
    for _ in range(LIMIT - 1):
        response = page_sign_in(client, shopper.phone, WRONG)
        assert response.status_code == 400
    locked = page_sign_in(client, shopper.phone, WRONG)
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.content.decode()
    assert int(locked["Retry-After"]) == 15 * 60
    # The right password is refused too while the lock holds, and does not sign in.
    still = page_sign_in(client, shopper.phone, password)
    assert still.status_code == 429
    assert "_auth_user_id" not in client.session

    expire_locks()
    welcome = page_sign_in(client, shopper.phone, password)
    assert welcome.status_code == 302
    assert client.session["_auth_user_id"] == str(shopper.pk)
    assert not AccessAttempt.objects.filter(username=shopper.phone).exists()  # reset on success


def test_token_api_answers_429_with_a_message_and_retry_after(shopper, password):
    answers = [token_sign_in(shopper.phone, WRONG).status_code for _ in range(LIMIT)]
    assert answers == [400] * (LIMIT - 1) + [429]
    locked = token_sign_in(shopper.phone, password)
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60)
    assert (
        "Too many failed sign-ins"
        in APIClient()
        .post(
            "/api/v1/auth/token/",
            {"phone": shopper.phone, "password": password},
            format="json",
            HTTP_ACCEPT_LANGUAGE="en",
        )
        .json()["detail"]
    )
    expire_locks()
    assert "token" in token_sign_in(shopper.phone, password).json()


def test_admin_sign_in_locks_like_the_others(client, merchant, password):
    for _ in range(LIMIT - 1):
        assert admin_sign_in(client, merchant.phone, WRONG).status_code == 200  # the form again
    locked = admin_sign_in(client, merchant.phone, WRONG)
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.content.decode()
    assert admin_sign_in(client, merchant.phone, password).status_code == 429
    expire_locks()
    assert admin_sign_in(client, merchant.phone, password).status_code == 302


def test_one_count_across_page_api_and_admin_and_two_addresses(client, shopper, password):
    """The account's count is one, whatever door and address the guesses come through."""
    page_sign_in(client, shopper.phone, WRONG, address="10.0.0.1")
    token_sign_in(shopper.phone, WRONG, address="10.0.0.2")
    admin_sign_in(client, shopper.phone, WRONG, address="10.0.0.1")
    page_sign_in(client, shopper.phone, WRONG, address="10.0.0.2")
    assert token_sign_in(shopper.phone, WRONG, address="10.0.0.1").status_code == 429
    assert token_sign_in(shopper.phone, password, address="10.0.0.3").status_code == 429


def test_a_locked_account_does_not_slow_anyone_else(client, shopper, other_shopper, password):
    for _ in range(LIMIT):
        token_sign_in(shopper.phone, WRONG, address="10.0.0.1")
    assert token_sign_in(shopper.phone, password, address="10.0.0.1").status_code == 429
    # Another person, from the same address or another one, signs in at once.
    assert token_sign_in(other_shopper.phone, password, address="10.0.0.1").status_code == 200
    assert token_sign_in(other_shopper.phone, password, address="10.0.0.9").status_code == 200


def test_one_address_guessing_many_accounts_is_locked_at_the_address_limit(password):
    victims = UserFactory.create_batch(21, password=password)
    answers = [token_sign_in(user.phone, WRONG, address="10.6.6.6").status_code for user in victims[:20]]
    assert answers == [400] * 19 + [429]
    # Now even a right password from that address waits; the same account from elsewhere does not.
    assert token_sign_in(victims[20].phone, password, address="10.6.6.6").status_code == 429
    assert token_sign_in(victims[20].phone, password, address="10.0.0.7").status_code == 200


def test_operator_unlocks_in_the_admin_and_sees_the_failures(client, shopper, operator, password):
    for _ in range(LIMIT):
        token_sign_in(shopper.phone, WRONG, address="10.0.0.1")
    assert token_sign_in(shopper.phone, password).status_code == 429

    client.force_login(operator)
    attempts = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert attempts.status_code == 200 and shopper.phone in attempts.content.decode()
    failures = client.get(reverse("admin:axes_accessfailurelog_changelist"))
    assert failures.status_code == 200 and shopper.phone in failures.content.decode()
    assert AccessFailureLog.objects.filter(username=shopper.phone, locked_out=True).exists()

    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    assert token_sign_in(shopper.phone, password).status_code == 200


def test_merchant_staff_cannot_see_or_reset_attempts(client, merchant):
    client.force_login(merchant)
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


def test_failures_and_locks_are_logged(shopper, caplog):
    with caplog.at_level("WARNING"):
        for _ in range(LIMIT + 1):
            token_sign_in(shopper.phone, WRONG, address="10.0.0.1")
    text = caplog.text
    assert "login failure" in text.lower()
    assert "sign-in locked: address 10.0.0.1" in text
    assert WRONG not in text


def test_client_address_comes_from_the_trusted_proxy_header_only_when_configured(settings, shopper, password):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.CLIENT_IP_TRUSTED_PROXIES = 1
    for n in range(LIMIT):
        # The client writes a new fake address each time; the proxy appends the real one.
        APIClient().post(
            "/api/v1/auth/token/",
            {"phone": f"1390000{n:04d}", "password": WRONG},
            format="json",
            REMOTE_ADDR="192.168.1.1",
            HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 203.0.113.5",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}

    settings.CLIENT_IP_HEADER = ""
    APIClient().post(
        "/api/v1/auth/token/",
        {"phone": shopper.phone, "password": WRONG},
        format="json",
        REMOTE_ADDR="192.168.1.1",
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert AccessAttempt.objects.filter(username=shopper.phone).get().ip_address == "192.168.1.1"


def test_phone_written_differently_is_the_same_account(client, shopper):
    spaced = f"+86 {shopper.phone[:3]} {shopper.phone[3:7]} {shopper.phone[7:]}"
    for _ in range(LIMIT - 1):
        page_sign_in(client, spaced, WRONG)
    assert token_sign_in(shopper.phone, WRONG).status_code == 429


def test_counting_does_not_need_redis(client, shopper, password):
    """The count lives in PostgreSQL: with the cache unreachable the lock still comes on time."""
    dead_redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with override_settings(CACHES=dead_redis):
        answers = [page_sign_in(client, shopper.phone, WRONG).status_code for _ in range(LIMIT)]
        assert answers == [400] * (LIMIT - 1) + [429]
        assert page_sign_in(client, shopper.phone, password).status_code == 429


def test_signing_in_to_ones_own_account_does_not_reset_the_count_of_others(shopper, password):
    """An attacker with one real account signs in between guesses: the victim's count and the
    address's count go on (axes alone would delete every row of the address on success)."""
    attacker = UserFactory(password=password)
    for _ in range(LIMIT - 1):
        assert token_sign_in(shopper.phone, WRONG, address="10.9.9.9").status_code == 400
    assert token_sign_in(attacker.phone, password, address="10.9.9.9").status_code == 200
    assert token_sign_in(shopper.phone, WRONG, address="10.9.9.9").status_code == 429

    victims = UserFactory.create_batch(20, password=password)
    for user in victims[:15]:
        token_sign_in(user.phone, WRONG, address="10.8.8.8")
    assert token_sign_in(attacker.phone, password, address="10.8.8.8").status_code == 200
    answers = [token_sign_in(user.phone, WRONG, address="10.8.8.8").status_code for user in victims[15:]]
    assert answers == [400] * 4 + [429]


def test_operators_read_the_sign_in_protection_screens_in_chinese(client, operator, shopper):
    token_sign_in(shopper.phone, WRONG)
    client.force_login(operator)
    # The admin theme builds its menu from JSON, where Chinese is written as \u escapes.
    menu = client.get(reverse("admin:index")).content.decode()
    assert "登录保护".encode("unicode_escape").decode() in menu
    page = client.get(reverse("admin:axes_accessfailurelog_changelist")).content.decode()
    assert "登录失败记录" in page and "IP 地址" in page
