"""The session's authentication backend (settings.AUTHENTICATION_BACKENDS)."""

from django.contrib.auth.backends import ModelBackend

from accounts.authentication import user_by_id


class AccountBackend(ModelBackend):
    """ModelBackend (passwords, permissions, is_active) with the session's user loaded in one
    statement written once instead of through the ORM (accounts.authentication.user_by_id)."""

    def get_user(self, user_id):
        user = user_by_id(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
