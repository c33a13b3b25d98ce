"""Every write in the accounts app: users, addresses, friends, notifications.

Each function is one use case: keyword-only arguments, one transaction, the current state checked
first, and a repeat call that finds the work already done changes nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import signals
from accounts.errors import (
    AddressNotFound,
    AlreadyFriends,
    CannotBefriendSelf,
    FriendRequestAnswered,
    FriendRequestNotFound,
    InvalidInput,
    NotificationNotFound,
    PhoneTaken,
    UserNotFoundByPhone,
)
from accounts.models import Address, FriendRequest, Friendship, Notification
from accounts.validators import normalize_phone, validate_cn_mobile
from outbox.services import outbox_enqueue, outbox_handler

logger = logging.getLogger(__name__)
User = get_user_model()

ADDRESS_FIELDS = ("recipient_name", "phone", "province", "city", "district", "detail")


def _raise_invalid(exc: ValidationError) -> None:
    raise InvalidInput(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}) from exc


def _lock_user(user_id: int) -> None:
    """Serialise writes that keep a per-user rule (one default address) by locking the user's row."""
    User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True).get()


# --- Users --------------------------------------------------------------------------------------


def user_register(*, phone: str, password: str, nickname: str = "", email: str = ""):
    """Create a shopper account that signs in with `phone` and `password`.

    Refuses a malformed or taken phone and a weak password (Django's password validators) with
    field errors; nothing is stored then. A concurrent registration of the same phone loses on the
    unique constraint and gets the same "taken" error.
    """
    phone = normalize_phone(phone)
    errors: dict[str, list[str]] = {}
    try:
        validate_cn_mobile(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    user = User(phone=phone, nickname=nickname.strip(), email=email.strip())
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise InvalidInput(errors)
    if User.objects.filter(phone=phone).exists():
        raise PhoneTaken()
    try:
        user.full_clean(exclude=["password", "phone"])
    except ValidationError as exc:
        _raise_invalid(exc)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise PhoneTaken() from exc
    return user


def user_update_profile(*, user, nickname: str | None = None, email: str | None = None, avatar=None):
    """Change the signed-in user's nickname, e-mail or avatar. Fields left as None keep their value."""
    changed: list[str] = []
    if nickname is not None and nickname.strip() != user.nickname:
        user.nickname = nickname.strip()
        changed.append("nickname")
    if email is not None and email.strip() != user.email:
        user.email = email.strip()
        changed.append("email")
    if avatar is not None:
        # Django's ImageField checks that it decodes; the size limit is the project's, as for all uploads.
        limit = settings.MAX_IMAGE_UPLOAD_BYTES
        if getattr(avatar, "size", 0) > limit:
            raise InvalidInput(
                {"avatar": [_("The image is larger than %(mb).1f MB.") % {"mb": limit / 1024 / 1024}]}
            )
        user.avatar = avatar
        changed.append("avatar")
    if not changed:
        return user
    try:
        user.full_clean(exclude=[f for f in ("password", "phone", "nickname", "email") if f not in changed])
    except ValidationError as exc:
        _raise_invalid(exc)
    user.save(update_fields=changed)
    return user


# --- Addresses ----------------------------------------------------------------------------------


def _clean_address(address: Address) -> None:
    address.phone = normalize_phone(address.phone)
    for field in ADDRESS_FIELDS:
        setattr(address, field, (getattr(address, field) or "").strip())
    try:
        address.full_clean(exclude=["user", "is_default"], validate_constraints=False)
    except ValidationError as exc:
        _raise_invalid(exc)


@transaction.atomic
def address_create(
    *,
    user,
    recipient_name: str,
    phone: str,
    province: str,
    city: str,
    district: str,
    detail: str,
    is_default: bool = False,
) -> Address:
    """Add a shipping address. The user's first address becomes the default whatever is asked.

    Locks the user's row so two requests cannot both leave a default behind.
    """
    address = Address(
        user=user,
        recipient_name=recipient_name,
        phone=phone,
        province=province,
        city=city,
        district=district,
        detail=detail,
    )
    _clean_address(address)
    _lock_user(user.pk)
    has_addresses = Address.objects.filter(user=user).exists()
    address.is_default = is_default or not has_addresses
    if address.is_default:
        Address.objects.filter(user=user, is_default=True).update(is_default=False)
    address.save()
    return address


def _own_address_for_update(*, user, address_id: int) -> Address:
    _lock_user(user.pk)
    try:
        return Address.objects.get(pk=address_id, user=user)
    except (Address.DoesNotExist, ValueError, TypeError):
        raise AddressNotFound() from None


@transaction.atomic
def address_update(*, user, address_id: int, **fields) -> Address:
    """Change the given fields of one of the user's own addresses (others' ids are "not found").

    `is_default=True` makes it the default; `is_default=False` on the default is ignored, since a
    user with addresses always has one default.
    """
    unknown = set(fields) - set(ADDRESS_FIELDS) - {"is_default"}
    if unknown:
        raise TypeError(f"address_update got unknown fields: {sorted(unknown)}")
    address = _own_address_for_update(user=user, address_id=address_id)
    make_default = fields.pop("is_default", None)
    for name, value in fields.items():
        setattr(address, name, value)
    _clean_address(address)
    if make_default and not address.is_default:
        Address.objects.filter(user=user, is_default=True).update(is_default=False)
        address.is_default = True
    address.save()
    return address


@transaction.atomic
def address_set_default(*, user, address_id: int) -> Address:
    """Make one of the user's addresses the default. Already the default: nothing changes."""
    address = _own_address_for_update(user=user, address_id=address_id)
    if not address.is_default:
        Address.objects.filter(user=user, is_default=True).update(is_default=False)
        address.is_default = True
        address.save(update_fields=["is_default"])
    return address


@transaction.atomic
def address_delete(*, user, address_id: int) -> None:
    """Delete one of the user's addresses. If it was the default, the newest remaining one takes over.

    Orders keep their own copy of the address, so deleting never changes an order.
    """
    address = _own_address_for_update(user=user, address_id=address_id)
    was_default = address.is_default
    address.delete()
    if was_default:
        successor = Address.objects.filter(user=user).order_by("-id").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default"])


# --- Friends ------------------------------------------------------------------------------------


@transaction.atomic
def friendship_create(*, user, friend) -> None:
    """Make two users friends: both directions in one transaction. Already friends: nothing changes."""
    if user.pk == friend.pk:
        raise CannotBefriendSelf()
    Friendship.objects.bulk_create(
        [Friendship(user=user, friend=friend), Friendship(user=friend, friend=user)], ignore_conflicts=True
    )
    _announce_friendships_changed(user.pk, friend.pk)


def _announce_friendships_changed(*user_ids: int) -> None:
    transaction.on_commit(lambda: signals.friendships_changed.send(sender=Friendship, user_ids=user_ids))


def _are_friends(user_id: int, other_id: int) -> bool:
    return Friendship.objects.filter(user_id=user_id, friend_id=other_id).exists()


@transaction.atomic
def friend_request_send(*, from_user, phone: str) -> FriendRequest:
    """Ask the user with `phone` to be friends.

    A pending request in the same direction is returned as it is (a repeat sends nothing new); a
    pending request the other way round is accepted instead, since both sides want it. Already
    friends, oneself, or an unknown phone are refused with a field error on `phone`.
    """
    phone = normalize_phone(phone)
    to_user = User.objects.filter(phone=phone, is_active=True).first()
    if to_user is None:
        raise UserNotFoundByPhone()
    if to_user.pk == from_user.pk:
        raise CannotBefriendSelf()
    if _are_friends(from_user.pk, to_user.pk):
        raise AlreadyFriends()
    reverse = FriendRequest.objects.filter(
        from_user=to_user, to_user=from_user, status=FriendRequest.Status.PENDING
    ).first()
    if reverse is not None:
        return friend_request_accept(user=from_user, request_id=reverse.pk)
    try:
        with transaction.atomic():
            request, created = FriendRequest.objects.get_or_create(
                from_user=from_user, to_user=to_user, status=FriendRequest.Status.PENDING
            )
    except IntegrityError:  # a concurrent identical request won the race
        request = FriendRequest.objects.get(
            from_user=from_user, to_user=to_user, status=FriendRequest.Status.PENDING
        )
        created = False
    if created:
        notification_send(
            user_id=to_user.pk,
            key=f"friend-request:{request.pk}",
            kind="friend_request",
            title=_("%(name)s wants to be your friend") % {"name": from_user.display_name},
            url="/accounts/friends/",
        )
    return request


def _pending_request_for_update(*, user, request_id: int) -> FriendRequest:
    try:
        return (
            FriendRequest.objects.select_for_update()
            .select_related("from_user")
            .get(pk=request_id, to_user=user)
        )
    except (FriendRequest.DoesNotExist, ValueError, TypeError):
        raise FriendRequestNotFound() from None


@transaction.atomic
def friend_request_accept(*, user, request_id: int) -> FriendRequest:
    """Accept a request sent to `user`: marks it accepted and writes both friendship directions.

    Locks the request row. Accepting an accepted request changes nothing; a declined one is refused.
    """
    request = _pending_request_for_update(user=user, request_id=request_id)
    if request.status == FriendRequest.Status.ACCEPTED:
        return request
    if request.status != FriendRequest.Status.PENDING:
        raise FriendRequestAnswered()
    request.status = FriendRequest.Status.ACCEPTED
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "answered_at"])
    friendship_create(user=request.from_user, friend=user)
    notification_send(
        user_id=request.from_user_id,
        key=f"friend-accepted:{request.pk}",
        kind="friend_accepted",
        title=_("%(name)s accepted your friend request") % {"name": user.display_name},
        url="/accounts/friends/",
    )
    return request


@transaction.atomic
def friend_request_decline(*, user, request_id: int) -> FriendRequest:
    """Decline a request sent to `user`. Declining again changes nothing; an accepted one is refused.

    The sender is not told (as in WeChat) and may ask again later.
    """
    request = _pending_request_for_update(user=user, request_id=request_id)
    if request.status == FriendRequest.Status.DECLINED:
        return request
    if request.status != FriendRequest.Status.PENDING:
        raise FriendRequestAnswered()
    request.status = FriendRequest.Status.DECLINED
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "answered_at"])
    return request


@transaction.atomic
def friendship_remove(*, user, friend_id: int) -> None:
    """End a friendship in both directions. Not (or no longer) friends: nothing changes."""
    deleted, _rows = Friendship.objects.filter(user=user, friend_id=friend_id).delete()
    deleted += Friendship.objects.filter(user_id=friend_id, friend=user).delete()[0]
    if deleted:
        _announce_friendships_changed(user.pk, friend_id)


# --- Notifications ------------------------------------------------------------------------------


def notification_send(
    *, user_id: int, key: str, kind: str, title: str, body: str = "", url: str = ""
) -> None:
    """Record delivery of one notification in the current transaction (an outbox message, relayed to
    a worker once it commits; see outbox/services.py).

    `key` names the event (e.g. "order-paid:42"): however often it is sent, the user gets one inbox
    row and at most one e-mail. Nothing is sent if the transaction rolls back; once it commits, a
    broker outage only delays it.
    """
    payload = {
        "user_id": user_id,
        "key": key,
        "kind": kind,
        "title": str(title),
        "body": str(body),
        "url": url,
    }
    outbox_enqueue(handler=notification_deliver, payload=payload)


@outbox_handler
def notification_deliver(
    *, user_id: int, key: str, kind: str, title: str, body: str = "", url: str = ""
) -> Notification | None:
    """Store the notification once by `key`, then e-mail it once if the user has an e-mail address.

    Two steps, each its own transaction:
    1. The inbox row is inserted unless one with `key` exists (the unique key decides between
       concurrent deliveries; the loser reads the winner's row). It is committed before any e-mail.
    2. The row is locked (SELECT ... FOR UPDATE); if `emailed_at` is still empty the e-mail is sent
       and `emailed_at` set in the same transaction. A concurrent delivery waits on the lock and then
       finds `emailed_at` set. An SMTP failure raises (so the outbox retries it with backoff), rolls
       back only step 2, and the retry re-attempts only the e-mail.
    Returns None when the user no longer exists.
    """
    user = User.objects.filter(pk=user_id).only("pk", "email", "is_active").first()
    if user is None:
        logger.info("notification %s dropped: user %s is gone", key, user_id)
        return None
    try:
        with transaction.atomic():
            notification, _created = Notification.objects.get_or_create(
                key=key[:200],
                defaults={
                    "user": user,
                    "kind": kind[:40],
                    "title": title[:200],
                    "body": body,
                    "url": url[:300],
                },
            )
    except IntegrityError:
        notification = Notification.objects.get(key=key[:200])
    if notification.emailed_at is not None or not user.email or not user.is_active:
        return notification
    with transaction.atomic():
        locked = Notification.objects.select_for_update().get(pk=notification.pk)
        if locked.emailed_at is None:
            link = f"\n\n{settings.SITE_URL}{locked.url}" if locked.url.startswith("/") else ""
            send_mail(
                subject=locked.title,
                message=f"{locked.body}{link}".strip() or locked.title,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[user.email],
                fail_silently=False,
            )
            locked.emailed_at = timezone.now()
            locked.save(update_fields=["emailed_at"])
    return locked


def notification_mark_read(*, user, notification_id: int) -> Notification:
    """Mark one of the user's notifications read. Already read: the first read time is kept."""
    try:
        notification = Notification.objects.get(pk=notification_id, user=user)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise NotificationNotFound() from None
    if notification.read_at is None:
        now = timezone.now()
        # Conditional, so a concurrent mark keeps the earlier time.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notification_mark_all_read(*, user) -> int:
    """Mark every unread notification of the user read in one UPDATE. Returns how many changed."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
