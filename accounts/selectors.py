"""Reads shared by the accounts pages, API and other apps."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from accounts.errors import AddressNotFound
from accounts.models import Address, FriendRequest, Friendship, Notification

User = get_user_model()


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_list(*, user) -> QuerySet[Notification]:
    """The user's inbox, newest first (served by notification_inbox_idx)."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def address_list(*, user) -> QuerySet[Address]:
    """The user's addresses, the default first."""
    return Address.objects.filter(user=user).order_by("-is_default", "-id")


def address_get(*, user, address_id) -> Address:
    """One of the user's own addresses; another user's id is "not found"."""
    try:
        return Address.objects.get(pk=address_id, user=user)
    except (Address.DoesNotExist, ValueError, TypeError):
        raise AddressNotFound() from None


def address_default(*, user) -> Address | None:
    return Address.objects.filter(user=user, is_default=True).first()


def friend_ids(*, user) -> list[int]:
    """Ids of the user's friends: one indexed query on the friendship table."""
    return list(Friendship.objects.filter(user=user).values_list("friend_id", flat=True))


def friend_list(*, user) -> QuerySet:
    """The user's friends as User rows, by nickname."""
    return User.objects.filter(pk__in=Friendship.objects.filter(user=user).values("friend_id")).order_by(
        "nickname", "pk"
    )


def friend_requests_incoming(*, user) -> QuerySet[FriendRequest]:
    return FriendRequest.objects.filter(to_user=user, status=FriendRequest.Status.PENDING).select_related(
        "from_user"
    )


def friend_requests_outgoing(*, user) -> QuerySet[FriendRequest]:
    return FriendRequest.objects.filter(from_user=user, status=FriendRequest.Status.PENDING).select_related(
        "to_user"
    )
