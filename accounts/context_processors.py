def inbox(request):
    """The unread count for the header badge: one indexed COUNT, only for signed-in users."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def unread_count():
        from accounts.selectors import notification_unread_count

        return notification_unread_count(user=user)

    # Lazy: pages that never show the badge (API, admin) never pay for the query.
    return {"inbox_unread_count": unread_count}
