"""Checkout: turn cart lines (or one "buy now" line) into orders, one per shop.

Prices, titles, specs and images come from the SKU and product at this moment and are snapshotted
onto the order lines; the client never sends a price. Stock is taken by conditional UPDATE in the same
transaction, as its last statement, so the hot SKU row is locked only for the UPDATE and the commit.
"""

import contextlib
import dataclasses
import functools
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.authentication import token_from_row, token_statement, user_id_column
from accounts.models import Address
from config.exceptions import DomainError
from config.postgres.base import prepared_cursor
from outbox.services import outbox_relay_on_commit
from shop import hooks, signals
from shop.models import SKU, Cart, CartLine, Order, OrderEvent, OrderLine, Product, ProductImage, Shop
from shop.services.announce import order_announcement_messages
from shop.services.cart import MAX_LINE_QUANTITY
from shop.services.errors import (
    AddressRequired,
    EmptyCart,
    InvalidQuantity,
    NotPurchasable,
    OutOfStock,
    Unpriced,
)
from shop.services.locking import lock_one
from shop.services.rawsql import (
    Keyed,
    column,
    insert_many_unique,
    insert_together,
    instances_from_row,
    next_key_sql,
    select_list,
    valid_id,
)
from shop.services.stock import STOCK_CONSTRAINT, stock_take, stock_take_one

logger = logging.getLogger(__name__)


def order_number_generate(now=None) -> str:
    """20 digits: local time to the second, then 8 random digits.

    Sortable by creation time, unique (with the database's unique constraint behind it) and not
    guessable from a neighbour's number.
    """
    now = timezone.localtime(now or timezone.now())
    return f"{now:%y%m%d%H%M%S}{secrets.randbelow(10**8):08d}"


def _renumber(order: Order) -> None:
    order.number = order_number_generate()


def product_thumbnail_url(product: Product) -> str:
    """The URL of the product's first image thumbnail ('' without images). Generating a missing
    thumbnail reads the image, so call it outside transactions. Uses `first_image` when the query
    annotated it (as checkout does), else the product's images."""
    if hasattr(product, "first_image"):
        if not product.first_image:
            return ""
        image = ProductImage(product=product, image=product.first_image)
    else:
        image = product.images.order_by("position", "id").first()
        if image is None:
            return ""
    try:
        return _thumbnail_url(image.image.name)
    except Exception:  # a missing or unreadable source image must not stop a checkout
        logger.warning("thumbnail for product image %s unavailable", image.image.name, exc_info=True)
        try:
            return image.image.url
        except Exception:
            return ""


@functools.lru_cache(maxsize=4096)
def _thumbnail_url(source_name: str) -> str:
    """The thumbnail URL of the product image stored as `source_name`. The thumbnail's name follows
    from the source's name and the spec alone (imagekit's namer; the Optimistic strategy makes it
    when the source is saved), so it is worked out once per process: working it out hashes the
    spec, which was a tenth of a "buy now"'s CPU. A failure is not remembered."""
    return ProductImage(image=source_name).thumbnail.url


def _merge_items(items: Sequence[tuple[int, int]], max_quantity: int = MAX_LINE_QUANTITY) -> dict[int, int]:
    merged: dict[int, int] = defaultdict(int)
    for sku_id, quantity in items:
        try:
            sku_id, quantity = int(sku_id), int(quantity)
        except (TypeError, ValueError):
            raise InvalidQuantity(field="quantity") from None
        if quantity < 1:
            raise InvalidQuantity(field="quantity")
        merged[sku_id] += quantity
    if not merged:
        raise EmptyCart()
    if any(quantity > max_quantity for quantity in merged.values()):
        raise InvalidQuantity(field="quantity")
    return dict(merged)


# Checkout's two reads before its transaction, the buyer's address and the SKUs with their product,
# shop and first image, are written out in SQL (from the models' own table and column names) and
# loaded with Model.from_db: building and compiling them through the ORM cost more CPU than the rest
# of a checkout's statements together, and checkout is the busiest write of the shop. Only the
# columns checkout reads are loaded; the others are deferred, as with QuerySet.only().
_ADDRESS_COLUMNS = (
    (Address, ("id", "user_id", "recipient_name", "phone", "province", "city", "district", "detail")),
)
_SKU_COLUMNS = (
    (SKU, ("id", "product_id", "spec_label", "price_fen", "is_active")),
    (Product, ("id", "shop_id", "title", "status")),
    (Shop, ("id", "name", "slug", "status")),
)


_ADDRESS_SQL = (
    f'SELECT {select_list(_ADDRESS_COLUMNS)} FROM "{Address._meta.db_table}" '
    f"WHERE {column(Address, 'id')} = %s AND {column(Address, 'user_id')} = %s"
)


def buyer_address(*, buyer, address_id) -> Address | None:
    """One of `buyer`'s addresses by id (None for anything else), in one prepared statement."""
    address_id = valid_id(address_id)
    if address_id is None:
        return None
    with prepared_cursor() as cursor:
        cursor.execute(_ADDRESS_SQL, [address_id, buyer.pk])
        row = cursor.fetchone()
    return instances_from_row(_ADDRESS_COLUMNS, row)[0] if row else None


@functools.lru_cache(maxsize=64)
def _skus_sql(
    count: int | None,
    with_address: bool = False,
    with_order_keys: bool = False,
    buyer_column: str | None = None,
) -> str:
    """SKUs by id with their product, shop and the path of the product's first image (the same
    ordering as ProductImage's: position, then id). On PostgreSQL (`count` None) the ids are one
    array, so the text is the same for any number and is planned once per connection
    (prepared_cursor); the local demo's SQLite gets `count` placeholders.

    `with_address` also reads one of the buyer's addresses on every row (its columns NULL when the
    id is not theirs), so a standard checkout's two reads are one round trip; its parameters, the
    address id and the buyer's id, come before the SKU ids. `with_order_keys` (PostgreSQL) draws an
    order id from the orders' sequence on every row, last: a checkout places at most one order per
    SKU, so it knows its orders' ids before it writes them (see checkout_place). With `buyer_column`
    the address's owner is compared with that column of an enclosing statement instead of a
    parameter (`buy_now_preread`)."""
    first_image = (
        f'SELECT {column(ProductImage, "image")} FROM "{ProductImage._meta.db_table}" '
        f"WHERE {column(ProductImage, 'product_id')} = {column(SKU, 'product_id')} "
        f"ORDER BY {column(ProductImage, 'position')}, {column(ProductImage, 'id')} LIMIT 1"
    )
    address_columns, address_join = "", ""
    if with_address:
        address_columns = f", {select_list(_ADDRESS_COLUMNS)}"
        address_join = (
            f'LEFT JOIN "{Address._meta.db_table}" ON {column(Address, "id")} = %s '
            f"AND {column(Address, 'user_id')} = {buyer_column or '%s'} "
        )
    order_key = f", {next_key_sql(Order)}" if with_order_keys else ""
    return (
        f"SELECT {select_list(_SKU_COLUMNS)}, ({first_image}){address_columns}{order_key} "
        f'FROM "{SKU._meta.db_table}" '
        f'JOIN "{Product._meta.db_table}" ON {column(Product, "id")} = {column(SKU, "product_id")} '
        f'JOIN "{Shop._meta.db_table}" ON {column(Shop, "id")} = {column(Product, "shop_id")} '
        + address_join
        + (
            f"WHERE {column(SKU, 'id')} = ANY(CAST(%s AS bigint[]))"
            if count is None
            else f"WHERE {column(SKU, 'id')} IN ({', '.join(['%s'] * count)})"
        )
    )


@functools.cache
def _token_and_skus_sql() -> str:
    select_list, from_clause, key_column = token_statement()
    skus = _skus_sql(None, True, True, buyer_column=user_id_column())
    return (
        f"SELECT {select_list}, skus.* FROM {from_clause} "
        f"LEFT JOIN LATERAL ({skus}) AS skus ON TRUE WHERE {key_column} = %s"
    )


@dataclasses.dataclass(frozen=True)
class BuyNowPreread:
    """What checkout reads first for a "buy now" (see `_purchasable_skus`), read with the caller's
    API token, before the token has vouched for anyone."""

    buyer_id: int
    address_id: int
    sku_ids: tuple[int, ...]
    rows: tuple

    def serves(self, buyer, address_id, sku_ids) -> bool:
        return (self.buyer_id, self.address_id, self.sku_ids) == (buyer.pk, address_id, tuple(sku_ids))


def buy_now_preread(*, key, sku_id, address_id) -> tuple[object | None, BuyNowPreread | None]:
    """The API token with key `key` (its user loaded with it), and what a buy-now of `sku_id` to
    that user's address `address_id` reads first, in one statement on PostgreSQL (a round trip
    fewer than authenticating, then reading): (None, None) when no such token exists, (None, None)
    elsewhere or for ids that cannot exist.

    The token is not yet vouched for: the caller hands it to DRF's authentication
    (accounts.authentication.token_preloaded), which checks it as always, and passes the preread on
    to `checkout_buy_now` only if this token authenticated the request; checkout uses it only for
    the buyer, address and SKU it was read for."""
    sku_id, address_id = valid_id(sku_id), valid_id(address_id)
    if connection.vendor != "postgresql" or not isinstance(key, str) or sku_id is None or address_id is None:
        return None, None
    with prepared_cursor() as cursor:
        cursor.execute(_token_and_skus_sql(), [address_id, [sku_id], key])
        rows = cursor.fetchall()
    if not rows:
        return None, None
    token, rest = token_from_row(rows[0])
    width = len(rows[0]) - len(rest)
    skus = tuple(row[width:] for row in rows if row[width] is not None)  # no SKU: one row of NULLs
    return token, BuyNowPreread(token.user_id, address_id, (sku_id,), skus)


_SKU_WIDTH = sum(len(attnames) for _model, attnames in _SKU_COLUMNS) + 1  # and the first image


def _purchasable_skus(
    sku_ids, *, buyer=None, address_id=None, preread: BuyNowPreread | None = None
) -> tuple[dict[int, SKU], Address | None, list[int]]:
    """The SKUs of `sku_ids`, each purchasable (else NotPurchasable or Unpriced), with their product
    and shop; when `buyer` is given, their address `address_id` read in the same statement (None
    when it is not theirs, which raises AddressRequired); and on PostgreSQL one new order id per SKU
    (else []). A `preread` (`buy_now_preread`) read for this buyer, address and these SKUs stands
    for the statement."""
    ids = sorted({valid for valid in map(valid_id, sku_ids) if valid is not None})
    with_address = buyer is not None
    address_params = [address_id, buyer.pk] if with_address else []
    postgres = connection.vendor == "postgresql"
    rows = []
    if (
        preread is not None
        and with_address
        and preread.serves(buyer=buyer, address_id=address_id, sku_ids=ids)
    ):
        rows = list(preread.rows)
    elif ids:
        with prepared_cursor() as cursor:
            if postgres:
                cursor.execute(_skus_sql(None, with_address, True), [*address_params, ids])
            else:
                cursor.execute(_skus_sql(len(ids), with_address), [*address_params, *ids])
            rows = cursor.fetchall()
    order_keys = [row[-1] for row in rows] if postgres else []
    address = None
    if with_address:
        if rows:
            if rows[0][_SKU_WIDTH] is not None:
                (address,) = instances_from_row(_ADDRESS_COLUMNS, rows[0][_SKU_WIDTH:])
        else:  # no SKU row to carry it: asked on its own, so a wrong address is still named first
            address = buyer_address(buyer=buyer, address_id=address_id)
        if address is None:
            raise AddressRequired(field="address_id")
    skus = {}
    for row in rows:
        sku, product, shop = instances_from_row(_SKU_COLUMNS, row)
        product.shop, sku.product = shop, product
        product.first_image = row[_SKU_WIDTH - 1]  # see product_thumbnail_url
        skus[sku.pk] = sku
    for sku_id in sku_ids:
        sku = skus.get(sku_id)
        if (
            sku is None
            or not sku.is_active
            or sku.product.status != Product.Status.ON_SALE
            or sku.product.shop.status != Shop.Status.ACTIVE
        ):
            name = f"{sku.product.title} {sku.spec_label}".strip() if sku else ""
            message = f"{NotPurchasable.default_message} ({name})" if name else None
            raise NotPurchasable(message, field="sku_id")
        if sku.price_fen <= 0:  # could be ordered, but never paid: refused here, where it starts
            name = f"{sku.product.title} {sku.spec_label}".strip()
            raise Unpriced(f"{Unpriced.default_message} ({name})", field="sku_id")
    return skus, address, order_keys


def _evaluated(order: Order, lines: list[OrderLine]):
    """`order.lines` as an already evaluated queryset of the lines just written (any further
    filtering on it still asks the database). The filter is kept, not applied, until something asks
    for the query (as Django's related managers do): an answer rendered from the cache never does."""
    queryset = OrderLine.objects.all()
    queryset._defer_next_filter = True
    queryset = queryset.filter(order=order)
    queryset._result_cache = [line for line in lines if line.order is order]
    queryset._prefetch_done = True
    return queryset


def checkout_place(
    *,
    buyer,
    address_id,
    items: Sequence[tuple[int, int]],
    notes: Mapping[int, str] | None = None,
    note: str = "",
    checkout_id: uuid.UUID | str | None = None,
    cart_id: int | None = None,
    kind: str = Order.Kind.STANDARD,
    checkout_context: Mapping | None = None,
    max_quantity: int = MAX_LINE_QUANTITY,
    preread: BuyNowPreread | None = None,
) -> list[Order]:
    """Place one order per shop for `items` [(sku_id, quantity)], shipped to one of the buyer's
    addresses, with an optional note per shop ({shop_id: note}; `note` for shops not named there).

    All or nothing: an item not on sale (NotPurchasable), a bad quantity, no address (AddressRequired)
    or too little stock (OutOfStock) refuses the whole checkout and changes nothing. On success the
    items are removed from the cart `cart_id` (when given) in the same transaction, and `order_placed`
    is announced for the orders (shop.services.announce) in the same transaction.

    `checkout_id` is an idempotency key: placing again with the same key returns the orders already
    placed under it (the buyer row is locked to serialise two submits of the same form). Either way
    the orders come back with their shop and lines loaded, ready to render. Locks: the
    buyer (only with a key), then the SKUs in primary-key order (through stock_take).

    `checkout_context` (from `shop.hooks.checkout_context(request)`) goes to the registered checkout
    line hooks, which run inside this transaction before the orders and lines are written.

    On PostgreSQL a "buy now" of one SKU with no key and no cart, called outside any transaction,
    needs none: one statement writes the order, its line, event, announcement and stock (a statement
    is atomic by itself), which saves the BEGIN and COMMIT round trips. The stock's CheckConstraint
    then refuses a take the stock cannot cover, failing the statement, and a SKU deleted meanwhile
    fails it on the line's foreign key (NotPurchasable); the hooks run just before it.

    `preread` is what a "buy now" read with the caller's API token (`buy_now_preread`).

    `kind` gift places an order with no address (a gift's copies ship as sub-orders when claimed,
    shop/services/sub_orders.py); `max_quantity` lets such an order hold more units than a cart line.
    """
    quantities = _merge_items(items, max_quantity)
    standard = kind == Order.Kind.STANDARD
    address_id = valid_id(address_id) if standard else None
    if standard and address_id is None:
        raise AddressRequired(field="address_id")
    if checkout_id is not None:
        try:
            checkout_id = uuid.UUID(str(checkout_id))
        except ValueError:
            raise DomainError(_("Invalid checkout id."), field="checkout_id") from None
    # A standard order's address is read with its SKUs, in one statement.
    skus, address, order_keys = _purchasable_skus(
        quantities, buyer=buyer if standard else None, address_id=address_id, preread=preread
    )
    images = {sku.product_id: product_thumbnail_url(sku.product) for sku in skus.values()}
    notes = {int(shop_id): (note or "").strip()[:200] for shop_id, note in (notes or {}).items()}

    by_shop: dict[int, list[tuple[SKU, int]]] = defaultdict(list)
    for sku_id in sorted(quantities):
        sku = skus[sku_id]
        by_shop[sku.product.shop_id].append((sku, quantities[sku_id]))

    now = timezone.now()
    deadline = now + settings.ORDER_PAYMENT_TIMEOUT
    # One statement outside any transaction writes a "buy now" of one SKU with no idempotency key
    # (no BEGIN or COMMIT round trips); anything else writes in a transaction.
    single = bool(order_keys) and len(quantities) == 1 and checkout_id is None and cart_id is None
    single = single and connection.get_autocommit() and not connection.in_atomic_block
    # Numbers are random: one taken meanwhile (by a committed order or a concurrent checkout) fails
    # the attempt, which is rolled back as a whole, and the next draws new ones.
    for attempt in range(1, ORDER_NUMBER_ATTEMPTS + 1):
        try:
            with contextlib.nullcontext() if single else transaction.atomic():
                return _place(
                    buyer=buyer,
                    skus=skus,
                    by_shop=by_shop,
                    quantities=quantities,
                    address=address,
                    images=images,
                    notes=notes,
                    note=note,
                    kind=kind,
                    checkout_id=checkout_id,
                    cart_id=cart_id,
                    checkout_context=checkout_context,
                    now=now,
                    deadline=deadline,
                    order_keys=order_keys,
                    single=single,
                )
        except IntegrityError as error:
            if _violation(error, "23505", Order) and attempt < ORDER_NUMBER_ATTEMPTS:
                continue  # the order number was taken: nothing was written, draw again
            if single and _violation(error, "23514", SKU, constraint=STOCK_CONSTRAINT):
                raise OutOfStock(field=f"sku_{next(iter(quantities))}") from None
            if single and _violation(error, "23503", OrderLine):
                raise NotPurchasable(field="sku_id") from None  # the SKU was deleted meanwhile
            raise
    raise AssertionError("unreachable")


def _violation(error: IntegrityError, sqlstate: str, model, *, constraint: str | None = None) -> bool:
    """Whether `error` is PostgreSQL's `sqlstate` on `model`'s table (and `constraint`, if named)."""
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    return (
        getattr(cause, "sqlstate", None) == sqlstate
        and diag is not None
        and diag.table_name == model._meta.db_table
        and (constraint is None or diag.constraint_name == constraint)
    )


ORDER_NUMBER_ATTEMPTS = 8


def _place(
    *,
    buyer,
    skus,
    by_shop,
    quantities,
    address,
    images,
    notes,
    note,
    kind,
    checkout_id,
    cart_id,
    checkout_context,
    now,
    deadline,
    order_keys,
    single: bool = False,
) -> list[Order]:
    """One attempt of checkout_place's writes (see there), in its transaction or, `single`, as one
    statement on its own; an order number taken meanwhile raises IntegrityError."""
    if checkout_id is not None:
        lock_one(get_user_model().objects.filter(pk=buyer.pk).only("pk"))
        existing = list(
            Order.objects.filter(buyer=buyer, checkout_id=checkout_id)
            .select_related("shop")
            .prefetch_related("lines")
            .order_by("pk")
        )
        if existing:
            return existing
    else:
        checkout_id = uuid.uuid4()
    orders = []
    shops = {sku.product.shop_id: sku.product.shop for sku in skus.values()}
    for shop_id, shop_lines in by_shop.items():
        items_fen = sum(sku.price_fen * quantity for sku, quantity in shop_lines)
        order = Order(
            number=order_number_generate(now),
            buyer=buyer,
            shop=shops[shop_id],
            kind=kind,
            checkout_id=checkout_id,
            items_fen=items_fen,
            shipping_fen=0,
            total_fen=items_fen,
            note=notes.get(shop_id, note.strip()[:200]),
            payment_deadline=deadline,
        )
        if address is not None:
            order.recipient_name = address.recipient_name
            order.recipient_phone = address.phone
            order.province = address.province
            order.city = address.city
            order.district = address.district
            order.address_detail = address.detail
        orders.append(order)
    if order_keys:  # drawn with the SKUs: the orders go in the statement below with the rest
        for order, key in zip(orders, order_keys, strict=False):
            order.pk = key
        placed = Keyed(orders)
    else:  # the SQLite demo: the orders first, to learn their ids
        insert_many_unique(orders, unique="number", regenerate=_renumber)
        placed = []
    lines = []
    for order in orders:
        for sku, quantity in by_shop[order.shop_id]:
            lines.append(
                OrderLine(
                    order=order,
                    sku=sku,
                    product_id=sku.product_id,
                    title=sku.product.title,
                    spec_label=sku.spec_label,
                    image_url=images.get(sku.product_id, "")[:300],
                    unit_price_fen=sku.price_fen,
                    quantity=quantity,
                    total_fen=sku.price_fen * quantity,
                )
            )
    hooks.run_checkout_line_hooks(buyer=buyer, orders=orders, lines=lines, context=checkout_context)
    if cart_id is not None:
        CartLine.objects.filter(cart_id=cart_id, sku_id__in=list(quantities)).delete()
    # The orders, lines, events and the announcement of order_placed (outbox messages, relayed on
    # commit) go in one statement, and so does the stock taken from a single SKU: durable
    # announcements cost checkout no extra round trip. Last, so the SKU rows stay locked only for
    # this statement and the commit.
    announcements = order_announcement_messages(signals.order_placed, orders=orders)
    take_one = stock_take_one(quantities=quantities, refused_by_constraint=single)
    taken = insert_together(
        placed,
        lines,
        [
            OrderEvent(
                order=order,
                actor=buyer,
                kind=OrderEvent.Kind.PLACED,
                to_status=Order.Status.PENDING_PAYMENT,
            )
            for order in orders
        ],
        announcements,
        also=take_one,
    )
    if take_one is None:  # several SKUs: locked in order, then taken
        stock_take(quantities=quantities)
    elif taken != 1:
        raise OutOfStock(field=f"sku_{next(iter(quantities))}")
    outbox_relay_on_commit(announcements)
    for order in orders:  # callers render the answer from memory, without asking again
        order._prefetched_objects_cache = {"lines": _evaluated(order, lines)}
    return orders


def checkout_placed_orders(*, buyer, checkout_id) -> list[Order]:
    """The orders `buyer` already placed under `checkout_id` (none for a bad or unknown id), with
    shop and lines loaded like checkout's own answer."""
    try:
        checkout_id = uuid.UUID(str(checkout_id))
    except ValueError:
        return []
    return list(
        Order.objects.filter(buyer=buyer, checkout_id=checkout_id)
        .select_related("shop")
        .prefetch_related("lines")
        .order_by("pk")
    )


def checkout_from_cart(
    *,
    buyer,
    cart: Cart | None = None,
    address_id,
    notes: Mapping[int, str] | None = None,
    checkout_id=None,
    sku_ids=None,
    checkout_context: Mapping | None = None,
) -> list[Order]:
    """Check out the cart's lines (or only those of `sku_ids`): see `checkout_place`.

    Sending the same checkout again (a double submit, a retry after a lost answer) returns the
    orders it already placed, even though their lines have left the cart meanwhile; only with
    neither lines nor earlier orders is it EmptyCart.

    Without `cart`, the buyer's own cart is checked out: its lines are read with the cart's id in one
    query (a signed-in user has one cart at most), a round trip fewer than finding the cart first.
    """
    lines = (
        CartLine.objects.filter(cart=cart) if cart is not None else CartLine.objects.filter(cart__user=buyer)
    )
    if sku_ids is not None:
        lines = lines.filter(sku_id__in=[int(s) for s in sku_ids if str(s).isdigit()])
    rows = list(lines.values_list("cart_id", "sku_id", "quantity"))
    items = [(sku_id, quantity) for _cart_id, sku_id, quantity in rows]
    if not items:
        placed = checkout_placed_orders(buyer=buyer, checkout_id=checkout_id) if checkout_id else []
        if placed:
            return placed
        raise EmptyCart()
    return checkout_place(
        buyer=buyer,
        address_id=address_id,
        items=items,
        notes=notes,
        checkout_id=checkout_id,
        cart_id=rows[0][0],
        checkout_context=checkout_context,
    )


def checkout_buy_now(
    *,
    buyer,
    sku_id,
    quantity,
    address_id,
    note: str = "",
    checkout_id=None,
    checkout_context=None,
    preread: BuyNowPreread | None = None,
) -> Order:
    """ "Buy now" from the product page: one order for one SKU, the cart untouched."""
    orders = checkout_place(
        buyer=buyer,
        address_id=address_id,
        items=[(sku_id, quantity)],
        note=note,
        checkout_id=checkout_id,
        checkout_context=checkout_context,
        preread=preread,
    )
    return orders[0]
