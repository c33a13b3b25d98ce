"""The public affiliate pages (a creator's showcase `/s/<code>/`, a link's share card
`/card/<code>/`) are built like the catalog's list pages (shop/catalog_cache.py): the part every
visitor shares is cached per language with the catalog generation, so a merchant's edit of a title,
price or status retires it with every other list, and the visitor's own parts are markers filled per
request. What only affiliates change drops the page on commit: the creator's profile or status, the
showcase's items, the link. Stale at most CATALOG_CACHE_SECONDS if a drop is missed (Redis away)."""

import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from affiliates.models import CommissionPlan, Promoter, ShowcaseItem, TargetedRate, TrackedLink
from shop.catalog_cache import cache_logger, layered_key, list_key


def showcase_key(code: str, language: str) -> str:
    return list_key(name="affiliates-showcase", language=language, parts=[code])


def card_key(code: str, language: str) -> str:
    return list_key(name="affiliates-card", language=language, parts=[code])


def _drop(keys: list[str]) -> None:
    try:
        cache.delete_many(keys)
    except Exception:  # a cache away is a miss later; the entries expire on their own
        cache_logger.warning("could not drop affiliate pages %s", keys[:4], exc_info=True)


def pages_drop(*, showcase_codes=(), link_codes=()) -> None:
    """Drop these showcases' and cards' shared parts (every language) once the transaction commits."""
    languages = [code for code, _name in settings.LANGUAGES]
    keys = [showcase_key(c, lang) for c in showcase_codes for lang in languages]
    keys += [card_key(c, lang) for c in link_codes for lang in languages]
    # Stored split under layered_key; the bare keys are what earlier versions stored (a deploy).
    keys += [layered_key(key) for key in keys]
    if keys:
        transaction.on_commit(lambda: _drop(keys))


@receiver(post_save, sender=Promoter, dispatch_uid="affiliates.pages_on_promoter")
def _promoter_changed(sender, instance: Promoter, **kwargs) -> None:
    # Name, introduction and status show on the showcase and on every card of the promoter's links.
    codes = list(TrackedLink.objects.filter(promoter=instance).values_list("code", flat=True)[:1000])
    pages_drop(showcase_codes=[instance.showcase_code], link_codes=codes)


@receiver([post_save, post_delete], sender=ShowcaseItem, dispatch_uid="affiliates.pages_on_item")
def _item_changed(sender, instance: ShowcaseItem, **kwargs) -> None:
    code = Promoter.objects.filter(pk=instance.creator_id).values_list("showcase_code", flat=True).first()
    if code:
        pages_drop(showcase_codes=[code])


@receiver(post_save, sender=TrackedLink, dispatch_uid="affiliates.pages_on_link")
def _link_changed(sender, instance: TrackedLink, **kwargs) -> None:
    pages_drop(link_codes=[instance.code])


# --- the promoter's own catalog pages ------------------------------------------------------------
# The product pool and showcase editing show catalog data (titles, prices, rates, sales) as one
# creator sees it. Each is cached per creator, with the catalog generation (a merchant's edit retires
# it with every list), under two versions read in one round trip: the creator's own (dropped when
# their showcase, profile or targeted rates change) and the pool's (dropped when any commission plan
# changes). A version is a random token, made afresh when missing, so an evicted or dropped version
# can never match an entry stored under the old one. Sales counts may lag by CATALOG_CACHE_SECONDS,
# as on every catalog list.
POOL_VERSION_KEY = "affiliates:pool-version"


def promoter_version_key(promoter_id: int) -> str:
    return f"affiliates:promoter-pages:{promoter_id}"


def _versions(keys: list[str]) -> list[str]:
    found = cache.get_many(keys)  # a cache away answers {}: every version is new, every read a miss
    versions = []
    for key in keys:
        value = found.get(key)
        if value is None:
            value = uuid.uuid4().hex[:12]
            if not cache.add(key, value, timeout=None):
                value = cache.get(key) or value  # another process made it first
        versions.append(value)
    return versions


def promoter_page_key(*, page: str, promoter_id: int, language: str, query: str = "-") -> str:
    """Key of one creator's cached pool or showcase-editing page (`query`: the filters' digest)."""
    versions = _versions([promoter_version_key(promoter_id), POOL_VERSION_KEY])
    return list_key(name=f"affiliates-{page}", language=language, parts=[promoter_id, *versions, query])


def promoter_pages_drop(*, promoter_ids=(), pool: bool = False) -> None:
    """Retire these creators' cached pages (and with `pool`, every creator's pool) on commit."""
    keys = [promoter_version_key(pk) for pk in promoter_ids] + ([POOL_VERSION_KEY] if pool else [])
    if keys:
        transaction.on_commit(lambda: _drop(keys))


@receiver(post_save, sender=Promoter, dispatch_uid="affiliates.promoter_pages_on_promoter")
def _promoter_pages_on_promoter(sender, instance: Promoter, **kwargs) -> None:
    promoter_pages_drop(promoter_ids=[instance.pk])


@receiver([post_save, post_delete], sender=ShowcaseItem, dispatch_uid="affiliates.promoter_pages_on_item")
def _promoter_pages_on_item(sender, instance: ShowcaseItem, **kwargs) -> None:
    promoter_pages_drop(promoter_ids=[instance.creator_id])


@receiver([post_save, post_delete], sender=TargetedRate, dispatch_uid="affiliates.promoter_pages_on_rate")
def _promoter_pages_on_rate(sender, instance: TargetedRate, **kwargs) -> None:
    promoter_pages_drop(promoter_ids=[instance.promoter_id])


@receiver([post_save, post_delete], sender=CommissionPlan, dispatch_uid="affiliates.promoter_pages_on_plan")
def _promoter_pages_on_plan(sender, instance: CommissionPlan, **kwargs) -> None:
    promoter_pages_drop(pool=True)
