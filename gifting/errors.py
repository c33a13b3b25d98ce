"""Gifting's domain errors. Each becomes a 400 (or the status it names) with its message at the edge
(config.exceptions); nothing was changed when one is raised."""

from django.utils.translation import gettext_lazy as _

from config.exceptions import Conflict, DomainError, Forbidden, NotFound


class GiftNotFound(NotFound):
    code = "gift_not_found"
    default_message = _("This gift link is not valid. Ask the sender for a new one.")


class NotGiftable(DomainError):
    code = "not_giftable"
    default_message = _("This product cannot be sent as a gift.")


class GiftPriceTooHigh(DomainError):
    code = "gift_price_too_high"
    default_message = _("Items above the gift price limit cannot be sent as gifts.")


class InvalidGift(DomainError):
    code = "invalid_gift"


class GiftAllTaken(Conflict):
    code = "gift_all_taken"
    default_message = _("Sorry, every copy of this gift has been taken.")


class GiftExpired(DomainError):
    code = "gift_expired"
    default_message = _("This gift has expired: its unclaimed copies went back to the sender.")


class GiftNotOpen(DomainError):
    code = "gift_not_open"
    default_message = _("This gift cannot be claimed now.")


class GiftAlreadyClaimed(Conflict):
    code = "gift_already_claimed"
    default_message = _("You have already accepted a copy of this gift.")


class GiftOwn(DomainError):
    code = "gift_own"
    default_message = _("You sent this gift; share it with someone else.")


class GiftFriendsOnly(Forbidden):
    code = "gift_friends_only"
    default_message = _("The sender keeps this gift for their friends.")


class GiftSkuPriceDiffers(DomainError):
    code = "gift_sku_price_differs"
    default_message = _("You can only switch to a spec at the same price.")


class GiftNotWinner(Forbidden):
    code = "gift_not_winner"
    default_message = _("Only the lucky-draw winners can accept this gift.")


class GiftDrawClosed(DomainError):
    code = "gift_draw_closed"
    default_message = _("The lucky draw is closed to new entries.")
