"""accounts/authentication.py: the signed-in user (session) and the API caller (token) are loaded in one
statement each, with every rule of Django's ModelBackend and DRF's TokenAuthentication kept."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.authentication import token_with_user, user_by_id

User = get_user_model()
pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def test_user_by_id_loads_every_field_and_refuses_impossible_keys(shopper):
    loaded = user_by_id(shopper.pk)
    assert loaded == shopper
    for field in User._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(shopper, field.attname), field.name
    assert not loaded._state.adding and loaded._state.db == "default"
    assert loaded.get_deferred_fields() == set()
    assert user_by_id(str(shopper.pk)) == shopper  # the session keeps the key as text
    for bad in (None, "", "abc", "1.5", 0, -1, 2**63, str(shopper.pk + 1000)):
        assert user_by_id(bad) is None


def test_token_with_user_loads_token_and_user_in_one_query(shopper, django_assert_num_queries):
    key = Token.objects.create(user=shopper).key
    with django_assert_num_queries(1):
        token = token_with_user(key)
        assert token.key == key and token.user_id == shopper.pk
        assert token.user.phone == shopper.phone and token.user.is_active
    assert token_with_user("no-such-key") is None
    assert token_with_user(None) is None


def test_session_user_is_loaded_in_one_query_and_inactive_users_are_signed_out(shopper):
    assert "accounts.backends.AccountBackend" in settings.AUTHENTICATION_BACKENDS
    client = Client()
    client.force_login(shopper)
    assert client.get("/accounts/").status_code == 200
    assert client.session["_auth_user_backend"] == "accounts.backends.AccountBackend"

    User.objects.filter(pk=shopper.pk).update(is_active=False)
    response = client.get("/accounts/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_password_change_elsewhere_signs_the_session_out(shopper):
    client = Client()
    client.force_login(shopper)
    assert client.get("/accounts/").status_code == 200
    shopper.set_password("another-password-123")
    shopper.save()
    response = client.get("/accounts/")
    assert response.status_code == 302


def test_sign_in_page_and_token_api_use_the_backend(shopper, password):
    client = Client()
    response = client.post("/accounts/login/", {"username": shopper.phone, "password": password})
    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "accounts.backends.AccountBackend"
    assert client.get("/accounts/").status_code == 200

    api = APIClient()
    answer = api.post("/api/v1/auth/token/", {"phone": shopper.phone, "password": password}, format="json")
    assert answer.status_code == 200, answer.content


def test_token_requests_run_one_query_to_know_the_caller(shopper, django_assert_num_queries):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=shopper).key}")
    # /me/ reads nothing but the caller: the token and its user in one statement.
    with django_assert_num_queries(1):
        response = api.get(ME)
    assert response.status_code == 200 and response.json()["phone"] == shopper.phone


def test_bad_and_inactive_tokens_are_refused(shopper):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    # Refused as before (session authentication is listed first, so DRF answers 403, not 401).
    answer = api.get(ME)
    assert answer.status_code == 403 and answer.json()["detail"]

    key = Token.objects.create(user=shopper).key
    User.objects.filter(pk=shopper.pk).update(is_active=False)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = api.get(ME)
    assert answer.status_code == 403


def test_a_preloaded_token_is_taken_only_for_its_own_key_and_still_checked(
    shopper, django_assert_num_queries
):
    from rest_framework import exceptions
    from rest_framework.test import APIRequestFactory

    from accounts.authentication import AccountTokenAuthentication, token_preloaded

    other = User.objects.create_user(phone="13900000999", password="x" * 12)
    mine, theirs = Token.objects.create(user=shopper), Token.objects.create(user=other)
    preloaded = token_with_user(mine.key)
    authenticator = AccountTokenAuthentication()
    with token_preloaded(preloaded), django_assert_num_queries(0):
        assert authenticator.authenticate_credentials(mine.key) == (preloaded.user, preloaded)
    with token_preloaded(preloaded), django_assert_num_queries(1):  # another key: read as usual
        user, token = authenticator.authenticate_credentials(theirs.key)
    assert user.pk == other.pk and token.key == theirs.key
    preloaded.user.is_active = False  # what the statement read: refused like any inactive user
    with token_preloaded(preloaded), pytest.raises(exceptions.AuthenticationFailed):
        authenticator.authenticate_credentials(mine.key)
    with token_preloaded(None), django_assert_num_queries(1):
        assert authenticator.authenticate_credentials(mine.key)[0].pk == shopper.pk

    # The header is read as DRF reads it, with DRF's refusals.
    factory = APIRequestFactory()
    for header, refused in [("", False), ("Bearer x", False), ("Token", True), ("Token a b", True)]:
        request = factory.get("/", HTTP_AUTHORIZATION=header)
        if refused:
            with pytest.raises(exceptions.AuthenticationFailed):
                authenticator.authenticate(request)
        else:
            assert authenticator.authenticate(request) is None
    request = factory.get("/", HTTP_AUTHORIZATION=f"token {mine.key}")  # the keyword in any case
    assert authenticator.authenticate(request)[0].pk == shopper.pk
