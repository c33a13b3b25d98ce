"""Promoter statistics: daily rollups (`PromoterDailyStat`) kept by Celery, and the reads the
promoter centre, the team pages, the API and the bench use. Reads never touch clicks or the ledger.

One cell per promoter, day (shop time), scene and product (0: a whole showcase):
- clicks, visits (a visitor's repeats on one link within 30 minutes count once, as in link_stats),
  visitors (distinct visitors that day in that cell), from `Click` through the link's promoter,
  scene and product;
- orders (an order counts once, in the cell of its first attributed line), GMV (the attributed
  lines' totals), and the commission by state, from the promoter's own ledger rows: pending,
  settled (commission and reversals settled), cancelled, clawed back. Commission and reversals are
  dated by the order's payment; a clawback by its own date (the refund after completion).

So over any period: settled − clawed back, and pending, are exactly what the ledger holds for those
rows, and over all time they equal the promoter's balance (`balance_of`).

`stats_rollup` recomputes cells, never adds to them: click columns for the days that got new clicks
since its watermark, ledger columns for the last STATS_RECOMPUTE_DAYS days (where orders still
settle, cancel or are refunded; clawbacks are dated when they happen, so they fall in it too).
`stats_rollup(full=True)` (`manage.py shell -c`, or the nightly beat) recomputes everything. It runs
under an advisory lock, so two workers take turns; running it twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from affiliates.models import Click, CommissionEntry, PromoterDailyStat, Scene, StatsWatermark, TrackedLink
from affiliates.selectors import REPEAT_CLICK_SECONDS
from affiliates.sql import is_postgres

LOCK_KEY = 0x4146_5354_4154_5300 & 0x7FFF_FFFF_FFFF_FFFF  # "AFSTATS"
WATERMARK = "clicks"
# Clicks are stamped when their flush transaction inserts them; one committing a little after a
# rollup read the watermark is still picked up by the next run.
WATERMARK_MARGIN = timedelta(minutes=2)
CLICK_COLUMNS = ("clicks", "visits", "visitors")
LEDGER_COLUMNS = ("orders", "gmv_fen", "pending_fen", "settled_fen", "cancelled_fen", "clawed_back_fen")
METRICS = CLICK_COLUMNS + LEDGER_COLUMNS


def _recompute_days() -> int:
    return int(getattr(settings, "STATS_RECOMPUTE_DAYS", 60))


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _lock() -> None:
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _upsert(cells: dict[tuple, dict], columns: tuple[str, ...]) -> int:
    rows = [
        PromoterDailyStat(promoter_id=promoter_id, day=day, scene=scene, product_id=product_id, **values)
        for (promoter_id, day, scene, product_id), values in cells.items()
    ]
    PromoterDailyStat.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["promoter", "day", "scene", "product_id"],
        update_fields=[*columns, "updated_at"],
    )
    return len(rows)


def _ranges(days: set[date]) -> list[tuple[date, date]]:
    """Sorted days as contiguous [first, last] ranges."""
    ranges: list[list[date]] = []
    for day in sorted(days):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(first, last) for first, last in ranges]


def rollup_clicks(days: set[date]) -> int:
    """Recompute the click columns of every cell on `days` from the clicks."""
    if not days:
        return 0
    per_link: dict[tuple[int, date], dict] = {}
    repeat = timedelta(seconds=REPEAT_CLICK_SECONDS)
    for first, last in _ranges(days):
        start, end = _day_start(first), _day_start(last + timedelta(days=1))
        rows = (
            Click.objects.filter(clicked_at__gte=start - repeat, clicked_at__lt=end)
            .order_by("link_id", "visitor", "clicked_at")
            .values_list("link_id", "visitor", "clicked_at")
        )
        previous_key, previous_at = None, None
        for link_id, visitor, clicked_at in rows.iterator(chunk_size=5000):
            key = (link_id, visitor)
            new_visit = key != previous_key or clicked_at - previous_at > repeat
            previous_key, previous_at = key, clicked_at
            if clicked_at < start:
                continue  # only looked at for the 30-minute rule
            values = per_link.setdefault(
                (link_id, _local_day(clicked_at)), {"clicks": 0, "visits": 0, "seen": set()}
            )
            values["clicks"] += 1
            values["visits"] += int(new_visit)
            values["seen"].add(visitor)
    links = {
        pk: (promoter_id, scene, product_id or 0)
        for pk, promoter_id, scene, product_id in TrackedLink.objects.filter(
            pk__in={link_id for link_id, _day in per_link}
        ).values_list("pk", "promoter_id", "scene", "product_id")
    }
    cells: dict[tuple, dict] = {}
    seen: dict[tuple, set] = defaultdict(set)
    for (link_id, day), values in per_link.items():
        promoter_id, scene, product_id = links[link_id]
        cell = (promoter_id, day, scene, product_id)
        totals = cells.setdefault(cell, {"clicks": 0, "visits": 0, "visitors": 0})
        totals["clicks"] += values["clicks"]
        totals["visits"] += values["visits"]
        seen[cell] |= values["seen"]
    for cell, visitors in seen.items():
        cells[cell]["visitors"] = len(visitors)
    PromoterDailyStat.objects.filter(day__in=days).exclude(clicks=0, visits=0, visitors=0).update(
        clicks=0, visits=0, visitors=0
    )
    return _upsert(cells, CLICK_COLUMNS)


def rollup_ledger(since: date) -> int:
    """Recompute the ledger columns of every cell from `since` on."""
    start = _day_start(since)
    rows = (
        CommissionEntry.objects.filter(promoter__isnull=False)
        .filter(Q(order__paid_at__gte=start) | Q(kind="clawback", settled_at__gte=start))
        .values_list(
            "promoter_id",
            "kind",
            "status",
            "order_id",
            "order_line_id",
            "scene",
            "product_id",
            "base_fen",
            "amount_fen",
            "order__paid_at",
            "settled_at",
        )
    )
    cells: dict[tuple, dict] = {}
    first_line: dict[tuple[int, int], tuple[int, tuple]] = {}
    for (
        promoter_id,
        kind,
        status,
        order_id,
        line_id,
        scene,
        product_id,
        base,
        amount,
        paid_at,
        settled_at,
    ) in rows.iterator(chunk_size=5000):
        moment = settled_at if kind == "clawback" else paid_at
        if moment is None:
            continue
        day = _local_day(moment)
        if day < since:
            continue
        cell = (promoter_id, day, scene, product_id or 0)
        values = cells.setdefault(cell, dict.fromkeys(LEDGER_COLUMNS, 0))
        if kind == "commission":
            values["gmv_fen"] += base
            known = first_line.get((promoter_id, order_id))
            if known is None or line_id < known[0]:
                first_line[(promoter_id, order_id)] = (line_id, cell)
        if kind == "clawback":
            values["clawed_back_fen"] -= amount
        elif status == "pending":
            values["pending_fen"] += amount
        elif status == "settled":
            values["settled_fen"] += amount
        else:
            values["cancelled_fen"] += amount
    for _line, cell in first_line.values():
        cells[cell]["orders"] += 1
    PromoterDailyStat.objects.filter(day__gte=since).update(**dict.fromkeys(LEDGER_COLUMNS, 0))
    return _upsert(cells, LEDGER_COLUMNS)


def stats_rollup(*, full: bool = False, now: datetime | None = None) -> dict[str, int]:
    """Bring the rollups up to date (see the module docstring). Idempotent; two at once take turns."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock()
        mark = StatsWatermark.objects.filter(name=WATERMARK).first()
        if full or mark is None:
            click_days = set(
                Click.objects.annotate(d=TruncDate("clicked_at")).values_list("d", flat=True).distinct()
            )
            first = Click.objects.aggregate(first=Min("clicked_at"))["first"]
            ledger_first = CommissionEntry.objects.aggregate(first=Min("order__paid_at"))["first"]
            moments = [m for m in (first, ledger_first) if m is not None]
            since = min((_local_day(m) for m in moments), default=_local_day(now))
        else:
            click_days = set(
                Click.objects.filter(recorded_at__gt=mark.value - WATERMARK_MARGIN)
                .annotate(d=TruncDate("clicked_at"))
                .values_list("d", flat=True)
                .distinct()
            )
            since = _local_day(now) - timedelta(days=_recompute_days())
        counts = {"click_cells": rollup_clicks(click_days), "ledger_cells": rollup_ledger(since)}
        StatsWatermark.objects.update_or_create(name=WATERMARK, defaults={"value": now})
        transaction.on_commit(_publish_version(now.isoformat()))
    return counts


def _publish_version(version: str):
    def publish() -> None:
        from django.core.cache import cache

        cache.set(VERSION_CACHE_KEY, version, VERSION_CACHE_SECONDS)

    return publish


# --- reads ------------------------------------------------------------------------------------------


VERSION_CACHE_KEY = "affiliates:stats-version"
# The version is also kept in the cache, set when a rollup commits. Should that set be lost, the
# cached version expires after this long and is read from the database again.
VERSION_CACHE_SECONDS = 60


def rollup_version() -> str:
    """Changes whenever stats_rollup has run (its watermark is stamped in the same transaction as
    the cells it wrote): pages key cached figures by it, so they never show older rollups."""
    from django.core.cache import cache

    version = cache.get(VERSION_CACHE_KEY)
    if version is None:
        value = StatsWatermark.objects.filter(name=WATERMARK).values_list("value", flat=True).first()
        version = value.isoformat() if value else "none"
        cache.set(VERSION_CACHE_KEY, version, VERSION_CACHE_SECONDS)
    return version


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    key: str  # "today", "7", "30" or "custom"

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


MAX_PERIOD_DAYS = 366


def period_from(
    *, key: str | None, start: str | None = None, end: str | None = None, today: date | None = None
):
    """today / 7 / 30 (the default) days up to today, or a custom start..end (at most a year).
    Raises ValueError with a message for bad custom dates."""
    today = today or timezone.localdate()
    if key == "custom":
        try:
            first, last = date.fromisoformat(start or ""), date.fromisoformat(end or "")
        except ValueError:
            raise ValueError("dates") from None
        if first > last or (last - first).days >= MAX_PERIOD_DAYS:
            raise ValueError("range")
        return Period(first, last, "custom")
    if key == "today":
        return Period(today, today, "today")
    if key == "7":
        return Period(today - timedelta(days=6), today, "7")
    return Period(today - timedelta(days=29), today, "30")


def _with_rates(row: dict) -> dict:
    row = {name: int(row.get(name) or 0) for name in METRICS} | {
        key: value for key, value in row.items() if key not in METRICS
    }
    row["commission_fen"] = row["pending_fen"] + row["settled_fen"] - row["clawed_back_fen"]
    row["conversion_bp"] = row["orders"] * 10000 // row["visits"] if row["visits"] else 0
    return row


# Annotations may not share a model field's name: summed as total_<name>, read back by _summed.
_SUMS = {f"total_{name}": Sum(name) for name in METRICS}


def _summed(row: dict) -> dict:
    return {(key[len("total_") :] if key.startswith("total_") else key): value for key, value in row.items()}


def promoter_stats(*, promoter_ids: list[int], period: Period, products_limit: int = 20) -> dict:
    """Results of these promoters over `period`: totals, by day (every day, zeros included), by
    scene and by product (the best `products_limit` by GMV, then clicks). Three queries on rollups."""
    cells = PromoterDailyStat.objects.filter(
        promoter_id__in=promoter_ids, day__gte=period.start, day__lte=period.end
    )
    by_day = {row["day"]: _summed(row) for row in cells.values("day").annotate(**_SUMS).order_by()}
    days = [_with_rates(by_day.get(day, {}) | {"day": day}) for day in period.days]
    scene_names = dict(Scene.choices)
    scenes = [
        _with_rates(_summed(row)) | {"scene_name": scene_names.get(row["scene"], row["scene"])}
        for row in cells.values("scene")
        .annotate(**_SUMS)
        .order_by("-total_gmv_fen", "-total_clicks", "scene")
    ]
    products = [
        _with_rates(_summed(row))
        for row in cells.values("product_id")
        .annotate(**_SUMS)
        .order_by("-total_gmv_fen", "-total_clicks", "product_id")[:products_limit]
    ]
    if products:
        from shop.models import Product

        titles = dict(
            Product.objects.filter(pk__in=[p["product_id"] for p in products]).values_list("pk", "title")
        )
        for row in products:
            row["title"] = titles.get(row["product_id"], "")
    totals = _with_rates({name: sum(day[name] for day in days) for name in METRICS})
    return {"period": period, "totals": totals, "days": days, "scenes": scenes, "products": products}


def members_stats(*, promoter_ids: list[int], period: Period) -> dict[int, dict]:
    """{promoter_id: totals over `period`} for a team, in one query."""
    rows = (
        PromoterDailyStat.objects.filter(
            promoter_id__in=promoter_ids, day__gte=period.start, day__lte=period.end
        )
        .values("promoter_id")
        .annotate(**_SUMS)
        .order_by()
    )
    found = {row["promoter_id"]: _with_rates(_summed(row)) for row in rows}
    return {pk: found.get(pk) or _with_rates({}) for pk in promoter_ids}


def chart_data(stats: dict) -> dict:
    """What the chart draws: the same numbers as the table (fen for money)."""
    days = stats["days"]
    return {
        "labels": [day["day"].strftime("%m-%d") for day in days],
        "visits": [day["visits"] for day in days],
        "orders": [day["orders"] for day in days],
        "commission_fen": [day["commission_fen"] for day in days],
        "gmv_fen": [day["gmv_fen"] for day in days],
    }
