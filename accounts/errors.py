"""Domain errors raised by the accounts services. config/exceptions.py turns them into 400/404s."""

from django.utils.translation import gettext_lazy as _

from config.exceptions import Conflict, DomainError, NotFound


class InvalidInput(DomainError):
    """One or more fields are wrong. Carries every field's messages, not just the first."""

    code = "invalid"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {field: [str(m) for m in messages] for field, messages in errors.items()}
        field, messages = next(iter(self.errors.items()))
        super().__init__(messages[0], field=None if field == "__all__" else field)

    def field_messages(self) -> dict[str | None, list[str]]:
        return {(None if field == "__all__" else field): msgs for field, msgs in self.errors.items()}

    def as_dict(self) -> dict:
        body = {("detail" if field == "__all__" else field): msgs for field, msgs in self.errors.items()}
        body["code"] = self.code
        return body


class PhoneTaken(DomainError):
    code = "phone_taken"

    def __init__(self):
        super().__init__(str(_("An account with this phone number already exists.")), field="phone")


class AddressNotFound(NotFound):
    default_message = _("Address not found.")


class NotificationNotFound(NotFound):
    default_message = _("Notification not found.")


class FriendRequestNotFound(NotFound):
    default_message = _("Friend request not found.")


class UserNotFoundByPhone(DomainError):
    code = "user_not_found"

    def __init__(self):
        super().__init__(str(_("No user has this phone number.")), field="phone")


class CannotBefriendSelf(DomainError):
    code = "self_friend"

    def __init__(self):
        super().__init__(str(_("You cannot add yourself as a friend.")), field="phone")


class AlreadyFriends(Conflict):
    code = "already_friends"

    def __init__(self):
        super().__init__(str(_("You are already friends.")), field="phone")


class FriendRequestAnswered(Conflict):
    code = "friend_request_answered"

    def __init__(self):
        super().__init__(str(_("This friend request was already answered.")))
