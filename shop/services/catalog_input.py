"""Cleaning what merchants type and upload: sanitised descriptions, real images, numbers within bounds."""

from __future__ import annotations

import nh3
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from config.exceptions import DomainError
from shop.services.errors import ImageRejected, InvalidPrice, InvalidStock

ALLOWED_DESCRIPTION_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "h3", "h4", "blockquote",
    "a", "img", "span", "table", "thead", "tbody", "tr", "th", "td", "hr",
}  # fmt: skip
ALLOWED_DESCRIPTION_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
ALLOWED_IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
MAX_IMAGE_PIXELS = 40_000_000


def description_sanitize(html: str) -> str:
    """Keep formatting, links and images; drop scripts, styles, event handlers and foreign schemes."""
    return nh3.clean(
        html or "",
        tags=ALLOWED_DESCRIPTION_TAGS,
        attributes=ALLOWED_DESCRIPTION_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def image_validate(*, upload, field: str = "image") -> None:
    """Refuse anything that is not a real, decodable image of an allowed format under the size limit."""
    limit = settings.MAX_IMAGE_UPLOAD_BYTES
    size = getattr(upload, "size", None)
    if size is None or size > limit:
        raise ImageRejected(
            _("The image is larger than %(mb).1f MB.") % {"mb": limit / 1024 / 1024}, field=field
        )
    if size == 0:
        raise ImageRejected(_("The file is empty."), field=field)
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRejected(_("This file is not an image we can read."), field=field) from None
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_IMAGE_FORMATS:
        raise ImageRejected(_("Upload a JPEG, PNG, GIF or WebP image."), field=field)
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageRejected(_("The image has too many pixels."), field=field)


# Upper bounds keep numbers inside their columns (stock and positions are 32-bit) and far from any
# real shop's figures, so an absurd input is a clear 400 rather than a database overflow.
MAX_PRICE_FEN = 10**10  # ¥100,000,000
MAX_STOCK = 99_999_999
MAX_POSITION = 10_000


def _check_prices(*, price_fen: int, original_price_fen: int | None) -> None:
    if price_fen is None or price_fen < 0:
        raise InvalidPrice(_("The price cannot be negative."), field="price_fen")
    for field, value in (("price_fen", price_fen), ("original_price_fen", original_price_fen)):
        if value is not None and value > MAX_PRICE_FEN:
            raise InvalidPrice(_("The price cannot be above ¥100,000,000."), field=field)
    if original_price_fen is not None and original_price_fen < price_fen:
        raise InvalidPrice(_("The original price cannot be below the price."), field="original_price_fen")


def _check_stock(stock) -> None:
    if not isinstance(stock, int) or isinstance(stock, bool) or stock < 0:
        raise InvalidStock(_("Stock cannot be negative."), field="stock")
    if stock > MAX_STOCK:
        raise InvalidStock(_("Stock cannot be above %(max)s.") % {"max": MAX_STOCK}, field="stock")


def _check_position(position) -> None:
    if position is not None and not 0 <= position <= MAX_POSITION:
        message = _("Position must be between 0 and %(max)s.") % {"max": MAX_POSITION}
        raise DomainError(message, field="position")
