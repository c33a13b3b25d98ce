"""In a phone-sized Chromium: the sign-in page after too many wrong passwords shows the lock message
(and the right password waits for the cool-off); a staff member sees an after-sales request with its
private photo but no approve buttons; the owner sees both."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from shop.services.aftersales import after_sales_create
from tests.factories import UserFactory
from tests.shop.factories import ShopMembershipFactory
from tests.shop.order_factories import make_sku, pay_order, place_order
from tests.shop.test_after_sales_photos import png_bytes

pytestmark = pytest.mark.e2e


def try_sign_in(page, *, phone, password, path="/accounts/login/"):
    page.goto(path)
    page.fill("input[name=username]", phone)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("input[name=password]").press("Enter")


def test_sign_in_page_locks_with_a_message_and_opens_after_the_cool_off(page, screenshot, password):
    shopper = UserFactory(password=password)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        try_sign_in(page, phone=shopper.phone, password="wrong-password-1")
        assert "手机号" in page.content() and "登录失败次数过多" not in page.content()
    try_sign_in(page, phone=shopper.phone, password="wrong-password-1")
    assert "登录失败次数过多" in page.locator(".auth-card form").inner_text()
    screenshot(page, "locked")
    try_sign_in(page, phone=shopper.phone, password=password)
    assert "登录失败次数过多" in page.content()

    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    try_sign_in(page, phone=shopper.phone, password=password)
    assert "/accounts/login/" not in page.url
    screenshot(page, "signed-in-after-cool-off")


def test_staff_sees_the_private_photo_but_not_the_approve_buttons(page, screenshot, password):
    order = pay_order(place_order(sku=make_sku(price_fen=1000), quantity=1))
    request = after_sales_create(
        buyer=order.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        quantity=1,
        reason="坏了",
        photos=[SimpleUploadedFile("my-name.png", png_bytes(), content_type="image/png")],
    )
    staff = ShopMembershipFactory(shop=order.shop).user
    staff.set_password(password)
    staff.save()
    owner = order.shop.owner
    owner.set_password(password)
    owner.save()

    try_sign_in(page, phone=staff.phone, password=password, path="/admin/login/?next=/admin/")
    page.goto(f"/admin/shop/aftersalesrequest/{request.pk}/change/")
    photo = page.locator(".field-preview img, td.field-preview img").first
    photo.wait_for(state="visible")
    assert page.evaluate("img => img.naturalWidth", photo.element_handle()) == 8  # the image loaded
    assert page.locator("button[value=approve]").count() == 0
    assert page.locator("button[value=reject]").count() == 1
    screenshot(page, "staff-after-sales")

    page.context.clear_cookies()
    try_sign_in(page, phone=owner.phone, password=password, path="/admin/login/?next=/admin/")
    page.goto(f"/admin/shop/aftersalesrequest/{request.pk}/change/")
    assert page.locator("button[value=approve]").count() == 1
    screenshot(page, "owner-after-sales")
