"""After-sales photos are private: stored outside MEDIA_ROOT under random names, served only through a
view that lets in the buyer, the shop's staff and operators; to anyone else the URL answers 404."""

import importlib
import io
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from shop.models import AfterSalesPhoto
from shop.private_media import private_storage
from tests.factories import UserFactory
from tests.shop.factories import ShopMembershipFactory
from tests.shop.test_aftersales import _request, paid_order  # noqa: F401

pytestmark = pytest.mark.django_db


def png_bytes(color="red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def photo(paid_order):  # noqa: F811
    upload = SimpleUploadedFile("张三-身份证-13912345678.png", png_bytes(), content_type="image/png")
    request = _request(paid_order, photos=[upload])
    return request.photos.get()


def test_stored_privately_under_a_random_name(photo):
    name = photo.image.name
    assert name.startswith("after-sales/") and name.endswith(".png")
    assert "13912345678" not in name and "张三" not in name
    assert len(Path(name).stem) == 32  # a random hex name
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / name).is_file()
    assert not (Path(settings.MEDIA_ROOT) / name).exists()
    with pytest.raises(ValueError):
        _ = photo.image.url  # no public address exists


def test_the_buyer_the_shops_staff_and_operators_see_it(client, photo, operator):
    url = photo.get_absolute_url()
    order = photo.request.order
    staff = ShopMembershipFactory(shop=order.shop).user
    for viewer in (order.buyer, order.shop.owner, staff, operator):
        client.force_login(viewer)
        response = client.get(url)
        assert response.status_code == 200, viewer
        assert response["Content-Type"] == "image/png"
        assert "private" in response["Cache-Control"]
        assert b"".join(response.streaming_content) == png_bytes()


def test_another_buyer_or_another_shops_staff_gets_404(client, photo, other_shop):
    url = photo.get_absolute_url()
    for outsider in (UserFactory(), other_shop.owner, ShopMembershipFactory(shop=other_shop).user):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(photo.request.order.buyer)
    assert client.get(reverse("shop:after-sales-photo", args=[photo.pk + 1000])).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, photo):
    response = client.get(photo.get_absolute_url())
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_the_public_media_url_does_not_serve_it(client, photo):
    client.force_login(photo.request.order.buyer)
    assert client.get(f"{settings.MEDIA_URL}{photo.image.name}").status_code == 404


def test_pages_admin_and_api_link_to_the_checking_view(client, photo):
    order = photo.request.order
    url = photo.get_absolute_url()
    client.force_login(order.buyer)
    assert url in client.get(reverse("shop:after-sales")).content.decode()
    api = APIClient()
    api.force_authenticate(order.buyer)
    listed = api.get("/api/v1/after-sales/").json()
    assert listed["results"][0]["photos"] == [url]
    client.force_login(order.shop.owner)
    admin_page = client.get(reverse("admin:shop_aftersalesrequest_change", args=[photo.request.pk]))
    assert url in admin_page.content.decode()


def test_the_migration_moves_existing_public_photos(photo):
    """Photos uploaded before this change sat in MEDIA_ROOT under the buyer's file name."""
    old_name = default_storage.save("after-sales/2026/11/我的快递单.png", ContentFile(png_bytes("blue")))
    AfterSalesPhoto.objects.filter(pk=photo.pk).update(image=old_name)
    migration = importlib.import_module("shop.migrations.0006_after_sales_photos_private")

    migration.move_existing_photos(apps, None)
    migration.move_existing_photos(apps, None)  # running again changes nothing

    photo.refresh_from_db()
    assert photo.image.name != old_name and "快递单" not in photo.image.name
    assert not default_storage.exists(old_name)
    with private_storage().open(photo.image.name, "rb") as handle:
        assert handle.read() == png_bytes("blue")
