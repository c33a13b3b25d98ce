"""Demo people for `manage.py seed_demo`. Other apps' demo modules import these constants.

Everything is looked up by phone first, so running the seed again changes nothing.
"""

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import services
from accounts.models import Address

DEMO_PASSWORD = "weshop-demo"

# role -> phone. Merchants get shops from shop/demo.py; the friends are the shopper's.
DEMO_PHONES = {
    "operator": "13800000000",
    "merchant": "13800000001",
    "merchant2": "13800000002",
    "shopper": "13800000003",
    "promoter": "13800000004",
    "friend1": "13800000005",
    "friend2": "13800000006",
    "friend3": "13800000007",
}

# role -> (nickname, label printed in the logins table, is_staff, is_superuser)
DEMO_PEOPLE = {
    "operator": ("运营小王", "operator (superuser)", True, True),
    "merchant": ("甜甜", "merchant", True, False),
    "merchant2": ("阿杰", "merchant", True, False),
    "shopper": ("小明", "shopper", False, False),
    "promoter": ("带货达人", "promoter", False, False),
    "friend1": ("小红", "shopper's friend", False, False),
    "friend2": ("小刚", "shopper's friend", False, False),
    "friend3": ("小美", "shopper's friend", False, False),
}

FRIEND_ROLES = ("friend1", "friend2", "friend3")


def demo_user(role: str):
    """The demo user for a role (after seeding)."""
    return get_user_model().objects.get(phone=DEMO_PHONES[role])


def _ensure_user(role: str):
    User = get_user_model()
    nickname, _label, is_staff, is_superuser = DEMO_PEOPLE[role]
    user = User.objects.filter(phone=DEMO_PHONES[role]).first()
    if user is not None:
        return user
    if is_superuser:
        return User.objects.create_superuser(DEMO_PHONES[role], DEMO_PASSWORD, nickname=nickname)
    return User.objects.create_user(DEMO_PHONES[role], DEMO_PASSWORD, nickname=nickname, is_staff=is_staff)


@transaction.atomic
def seed(*, stdout) -> list[tuple[str, str, str]]:
    people = {role: _ensure_user(role) for role in DEMO_PHONES}
    shopper = people["shopper"]
    for role in FRIEND_ROLES:
        services.friendship_create(user=shopper, friend=people[role])
    if not Address.objects.filter(user=shopper).exists():
        services.address_create(
            user=shopper,
            recipient_name="小明",
            phone=DEMO_PHONES["shopper"],
            province="广东省",
            city="深圳市",
            district="南山区",
            detail="科技园科苑路 15 号 3 栋 1201",
            is_default=True,
        )
    for role in FRIEND_ROLES:
        friend = people[role]
        if not Address.objects.filter(user=friend).exists():
            services.address_create(
                user=friend,
                recipient_name=friend.nickname,
                phone=friend.phone,
                province="上海市",
                city="上海市",
                district="徐汇区",
                detail=f"漕溪北路 {FRIEND_ROLES.index(role) + 1}8 号",
                is_default=True,
            )
    # Delivered directly (not queued): seeding runs before any worker is up. Idempotent by key.
    services.notification_deliver(
        user_id=shopper.pk,
        key="demo:welcome:shopper",
        kind="welcome",
        title="欢迎来到小店 Welcome to the shop",
        body="小红、小刚和小美已经是你的朋友了，可以给他们送礼物。",
        url="/accounts/friends/",
    )
    stdout.write(f"accounts: {len(people)} demo people, shopper has {len(FRIEND_ROLES)} friends")
    return [
        (DEMO_PEOPLE[role][1] + f" · {DEMO_PEOPLE[role][0]}", DEMO_PHONES[role], DEMO_PASSWORD)
        for role in DEMO_PHONES
    ]
