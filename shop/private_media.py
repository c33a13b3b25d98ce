"""Files only some people may see (after-sales photos): stored outside MEDIA_ROOT, under random names,
and served only by a view that checks who asks (shop.views.aftersales.after_sales_photo).

PRIVATE_MEDIA_ROOT is never mounted under MEDIA_URL or served by the web server; a file here has no
public address at all, so asking the storage for one is a mistake and raises.
"""

import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils import timezone
from django.utils.deconstruct import deconstructible

# Extensions we write, by the image format Pillow verified (shop.services.aftersales).
IMAGE_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


@deconstructible
class PrivateMediaStorage(FileSystemStorage):
    """FileSystemStorage rooted at settings.PRIVATE_MEDIA_ROOT (read on each use, so tests may move it)."""

    def __init__(self):
        super().__init__()

    @property
    def base_location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return str(PurePath(settings.PRIVATE_MEDIA_ROOT))

    def url(self, name):
        raise ValueError(f"{name} is private: link to the view that checks access instead.")


def private_storage() -> PrivateMediaStorage:
    return PrivateMediaStorage()


def after_sales_photo_path(instance, filename: str) -> str:
    """after-sales/<year>/<month>/<random>.<ext>: nothing of the buyer's own file name is kept."""
    extension = PurePath(filename).suffix.lower().lstrip(".")
    extension = {"jpeg": "jpg"}.get(extension, extension)
    if extension not in CONTENT_TYPES:
        extension = "img"
    return f"after-sales/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{extension}"


def content_type_for(name: str) -> str:
    return CONTENT_TYPES.get(PurePath(name).suffix.lower().lstrip("."), "application/octet-stream")
