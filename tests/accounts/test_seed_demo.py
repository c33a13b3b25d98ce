from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts import selectors
from accounts.demo import DEMO_PASSWORD, DEMO_PHONES
from accounts.management.commands.seed_demo import demo_modules

User = get_user_model()
pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_people_with_fixed_logins():
    output = _seed()
    expected = {
        "operator": ("运营小王", True, True),
        "merchant": ("甜甜", True, False),
        "merchant2": ("阿杰", True, False),
        "shopper": ("小明", False, False),
        "promoter": ("带货达人", False, False),
        "friend1": ("小红", False, False),
        "friend2": ("小刚", False, False),
        "friend3": ("小美", False, False),
    }
    for role, (nickname, is_staff, is_superuser) in expected.items():
        user = User.objects.get(phone=DEMO_PHONES[role])
        assert (user.nickname, user.is_staff, user.is_superuser) == (nickname, is_staff, is_superuser), role
        assert user.check_password(DEMO_PASSWORD)
        assert DEMO_PHONES[role] in output
    assert DEMO_PASSWORD == "weshop-demo" and DEMO_PASSWORD in output


def test_shopper_has_three_symmetric_friends_an_address_and_a_welcome():
    _seed()
    shopper = User.objects.get(phone=DEMO_PHONES["shopper"])
    friends = {DEMO_PHONES[r] for r in ("friend1", "friend2", "friend3")}
    assert (
        set(User.objects.filter(pk__in=selectors.friend_ids(user=shopper)).values_list("phone", flat=True))
        == friends
    )
    for phone in friends:
        assert selectors.friend_ids(user=User.objects.get(phone=phone)) == [shopper.pk]
    assert selectors.address_default(user=shopper) is not None
    assert selectors.notification_unread_count(user=shopper) == 1


def test_running_twice_changes_nothing():
    _seed()
    before = _row_counts()
    passwords = dict(User.objects.values_list("phone", "password"))
    second_output = _seed()
    assert _row_counts() == before
    assert dict(User.objects.values_list("phone", "password")) == passwords
    assert "13800000003" in second_output  # the logins are printed every time


def test_demo_modules_run_in_installed_apps_order():
    labels = [label for label, _module in demo_modules()]
    order = [config.label for config in apps.get_app_configs()]
    assert labels[0] == "accounts"
    assert labels == sorted(labels, key=order.index)
