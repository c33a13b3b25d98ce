import threading

import pytest
from django.db import connection

from accounts import selectors, services
from accounts.errors import AddressNotFound, InvalidInput
from accounts.models import Address
from tests.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

VALID = {
    "recipient_name": "张三",
    "phone": "13912345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科苑路 15 号",
}


def test_first_address_becomes_default_even_if_not_asked():
    user = UserFactory()
    address = services.address_create(user=user, **VALID, is_default=False)
    assert address.is_default


def test_new_default_replaces_the_old_one():
    user = UserFactory()
    first = services.address_create(user=user, **VALID)
    second = services.address_create(user=user, **VALID, is_default=True)
    first.refresh_from_db()
    assert second.is_default and not first.is_default
    assert Address.objects.filter(user=user, is_default=True).count() == 1


def test_address_without_district_is_refused_and_nothing_saved():
    user = UserFactory()
    with pytest.raises(InvalidInput) as caught:
        services.address_create(user=user, **{**VALID, "district": "  "})
    assert "district" in caught.value.errors
    assert not Address.objects.filter(user=user).exists()


def test_address_phone_must_be_a_mainland_mobile():
    user = UserFactory()
    with pytest.raises(InvalidInput) as caught:
        services.address_create(user=user, **{**VALID, "phone": "010-12345678"})
    assert "phone" in caught.value.errors


def test_address_phone_is_normalised():
    address = services.address_create(user=UserFactory(), **{**VALID, "phone": "+86 139 1234 5678"})
    assert address.phone == "13912345678"


def test_set_default_twice_changes_nothing_the_second_time():
    user = UserFactory()
    services.address_create(user=user, **VALID)
    second = services.address_create(user=user, **VALID)
    services.address_set_default(user=user, address_id=second.pk)
    services.address_set_default(user=user, address_id=second.pk)
    assert list(Address.objects.filter(user=user, is_default=True).values_list("pk", flat=True)) == [
        second.pk
    ]


def test_deleting_the_default_promotes_the_newest_remaining():
    user = UserFactory()
    first = services.address_create(user=user, **VALID)
    second = services.address_create(user=user, **VALID)
    third = services.address_create(user=user, **VALID)
    services.address_set_default(user=user, address_id=first.pk)
    services.address_delete(user=user, address_id=first.pk)
    assert selectors.address_default(user=user).pk == third.pk
    assert Address.objects.filter(pk=second.pk, is_default=False).exists()


def test_update_keeps_other_fields_and_validates():
    user = UserFactory()
    address = services.address_create(user=user, **VALID)
    services.address_update(user=user, address_id=address.pk, detail="新地址 1 号")
    address.refresh_from_db()
    assert (address.detail, address.district) == ("新地址 1 号", "南山区")
    with pytest.raises(InvalidInput):
        services.address_update(user=user, address_id=address.pk, district="")
    address.refresh_from_db()
    assert address.district == "南山区"


def test_other_users_addresses_are_not_found():
    mine, theirs = UserFactory(), UserFactory()
    address = AddressFactory(user=theirs)
    for call in (
        lambda: services.address_update(user=mine, address_id=address.pk, detail="x"),
        lambda: services.address_delete(user=mine, address_id=address.pk),
        lambda: services.address_set_default(user=mine, address_id=address.pk),
        lambda: selectors.address_get(user=mine, address_id=address.pk),
    ):
        with pytest.raises(AddressNotFound):
            call()
    assert Address.objects.filter(pk=address.pk, detail=address.detail).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_default_addresses_leave_exactly_one_default():
    user = UserFactory()
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def add(n: int):
        try:
            barrier.wait()
            services.address_create(user=user, **{**VALID, "detail": f"{n} 号"}, is_default=True)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Address.objects.filter(user=user).count() == 4
    assert Address.objects.filter(user=user, is_default=True).count() == 1
