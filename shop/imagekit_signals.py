"""django-imagekit listens to every model's post_init and post_save (its ModelSignalRouter connects
without a sender, since Django sends no signals for abstract models), then drops each signal that is
not about a model with an ImageSpecField. Every model instance the project creates paid for that:
eleven on a checkout, which creates no image at all. Once every model is loaded, the same receivers
are connected again for the models that have image specs only (and their subclasses), which
changes nothing for them and lets Django skip the signal for every other model."""

from django.apps import apps
from django.db.models.signals import post_init, post_save
from imagekit.models.fields.utils import ImageSpecFileDescriptor
from imagekit.specs.sourcegroups import signal_router

# The dispatch_uid imagekit's router connects its receivers under.
IMAGEKIT_RECEIVERS = "ik_spec_field_receivers"


def models_with_image_specs() -> list:
    return [
        model
        for model in apps.get_models()
        if any(
            isinstance(value, ImageSpecFileDescriptor)
            for klass in model.__mro__
            for value in vars(klass).values()
        )
    ]


def imagekit_listens_to_its_models_only() -> None:
    models = models_with_image_specs()
    if not post_init.disconnect(dispatch_uid=IMAGEKIT_RECEIVERS):
        return  # imagekit connected nothing under that name: leave it as it is
    post_save.disconnect(dispatch_uid=IMAGEKIT_RECEIVERS)
    for model in models:
        uid = f"{IMAGEKIT_RECEIVERS}:{model._meta.label}"
        post_init.connect(signal_router.post_init_receiver, sender=model, dispatch_uid=uid)
        post_save.connect(signal_router.post_save_receiver, sender=model, dispatch_uid=uid)
