"""factory_boy factories shared by the suite. Apps add theirs below; keep one per model."""

import factory
from django.contrib.auth import get_user_model

from accounts.models import Address, FriendRequest, Notification


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"138{n:08d}")
    nickname = factory.Sequence(lambda n: f"用户{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-9")

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    recipient_name = "张三"
    phone = "13900000000"
    province = "广东省"
    city = "深圳市"
    district = "南山区"
    detail = "科技园科苑路 15 号"
    is_default = True


class FriendRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FriendRequest

    from_user = factory.SubFactory(UserFactory)
    to_user = factory.SubFactory(UserFactory)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    key = factory.Sequence(lambda n: f"test:{n}")
    kind = "test"
    title = factory.Sequence(lambda n: f"通知 {n}")
    body = "正文"
