"""After-sales photos become private: stored under PRIVATE_MEDIA_ROOT with random names and served only
through the checking view. Photos uploaded before are moved there from the public MEDIA_ROOT and
renamed; a file already missing is left as it is (its row keeps the old name and answers 404)."""

from pathlib import PurePath

from django.core.files.storage import default_storage
from django.db import migrations, models

import shop.private_media


def move_existing_photos(apps, schema_editor):
    from shop.private_media import after_sales_photo_path, private_storage

    AfterSalesPhoto = apps.get_model("shop", "AfterSalesPhoto")
    private = private_storage()
    for photo in AfterSalesPhoto.objects.exclude(image="").iterator():
        old_name = photo.image.name
        if private.exists(old_name) or not default_storage.exists(old_name):
            continue
        extension = PurePath(old_name).suffix
        with default_storage.open(old_name, "rb") as handle:
            new_name = private.save(after_sales_photo_path(photo, f"photo{extension}"), handle)
        AfterSalesPhoto.objects.filter(pk=photo.pk).update(image=new_name)
        default_storage.delete(old_name)


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0005_shopmembership_permissions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="aftersalesphoto",
            name="image",
            field=models.ImageField(
                storage=shop.private_media.private_storage,
                upload_to=shop.private_media.after_sales_photo_path,
                verbose_name="image",
            ),
        ),
        migrations.RunPython(move_existing_photos, migrations.RunPython.noop),
    ]
