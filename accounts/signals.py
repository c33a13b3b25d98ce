"""Events the accounts app announces; other apps subscribe (accounts never imports them).

Sent with `transaction.on_commit`, so receivers see committed state. Keyword arguments as noted.
"""

from django.dispatch import Signal

friendships_changed = Signal()  # user_ids: the users whose list of friends changed
