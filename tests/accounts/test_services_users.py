import pytest
from django.contrib.auth import get_user_model

from accounts import services
from accounts.errors import InvalidInput, PhoneTaken
from tests.factories import UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def test_register_normalises_phone_and_signs_in_with_password():
    user = services.user_register(phone="+86 139-1234-5678", password="lychee-tea-42", nickname="阿花")
    assert user.phone == "13912345678"
    assert user.check_password("lychee-tea-42")
    assert user.display_name == "阿花"
    assert not user.is_staff


def test_register_taken_phone_is_refused_and_saves_nothing():
    UserFactory(phone="13912345678")
    with pytest.raises(PhoneTaken) as caught:
        services.user_register(phone="139 1234 5678", password="lychee-tea-42")
    assert caught.value.field == "phone"
    assert User.objects.filter(phone="13912345678").count() == 1


@pytest.mark.parametrize("phone", ["12345678901", "1391234567", "abc", "", "23912345678"])
def test_register_malformed_phone_is_refused(phone):
    with pytest.raises(InvalidInput) as caught:
        services.user_register(phone=phone, password="lychee-tea-42")
    assert "phone" in caught.value.errors
    assert User.objects.count() == 0


@pytest.mark.parametrize("password", ["short1", "12345678901", "password123"])
def test_register_weak_password_is_refused(password):
    with pytest.raises(InvalidInput) as caught:
        services.user_register(phone="13912345678", password=password)
    assert "password" in caught.value.errors
    assert User.objects.count() == 0


def test_update_profile_changes_only_given_fields():
    user = UserFactory(nickname="旧名", email="")
    services.user_update_profile(user=user, email="a@example.com")
    user.refresh_from_db()
    assert (user.nickname, user.email) == ("旧名", "a@example.com")


def test_update_profile_rejects_bad_email():
    user = UserFactory(email="")
    with pytest.raises(InvalidInput) as caught:
        services.user_update_profile(user=user, email="not-an-email")
    assert "email" in caught.value.errors
    user.refresh_from_db()
    assert user.email == ""
