"""Carts: one per signed-in user, one per browser session for anonymous shoppers.

Quantities are checked against stock when added or changed (stock is only taken at checkout, so the
check there is the one that counts). An anonymous cart merges into the user's cart on sign-in.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from shop.models import SKU, Cart, CartLine, Product, Shop
from shop.services.errors import InvalidQuantity, NotPurchasable, OutOfStock, Unpriced
from shop.services.locking import lock_one

MAX_LINE_QUANTITY = 99
STALE_ANONYMOUS_CART_DAYS = 30


def purchasable_sku(sku_id) -> SKU:
    try:
        sku_id = int(sku_id)
    except (TypeError, ValueError):
        raise NotPurchasable(field="sku_id") from None
    sku = (
        SKU.objects.select_related("product__shop")
        .filter(
            pk=sku_id,
            is_active=True,
            product__status=Product.Status.ON_SALE,
            product__shop__status=Shop.Status.ACTIVE,
        )
        .first()
    )
    if sku is None:
        raise NotPurchasable(field="sku_id")
    if sku.price_fen <= 0:
        raise Unpriced(field="sku_id")
    return sku


def valid_quantity(quantity) -> int:
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        raise InvalidQuantity(field="quantity") from None
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidQuantity(field="quantity")
    return quantity


def cart_get_or_create(*, user=None, session_key: str = "") -> Cart:
    """The signed-in user's cart (created on first use), or a new anonymous cart for `session_key`.

    Safe under concurrency: two first requests of one user race on the unique user column and
    the loser reads the winner's cart.
    """
    if user is not None and user.is_authenticated:
        cart = Cart.objects.filter(user=user).first()
        if cart:
            return cart
        try:
            with transaction.atomic():
                return Cart.objects.create(user=user)
        except IntegrityError:
            return Cart.objects.get(user=user)
    if not session_key:
        raise ValueError("An anonymous cart needs a session key.")
    return Cart.objects.create(session_key=session_key)


@transaction.atomic
def cart_add(*, cart: Cart, sku_id, quantity) -> CartLine:
    """Add `quantity` of a SKU on sale to the cart (adding to the line if it is there already).

    Locks the cart row, so concurrent adds to one cart add up. Raises NotPurchasable, InvalidQuantity
    or OutOfStock (the line would exceed the stock left) and then changes nothing.
    """
    quantity = valid_quantity(quantity)
    sku = purchasable_sku(sku_id)
    lock_one(Cart.objects.filter(pk=cart.pk))
    line = CartLine.objects.filter(cart=cart, sku=sku).first()
    new_quantity = (line.quantity if line else 0) + quantity
    if new_quantity > MAX_LINE_QUANTITY:
        raise InvalidQuantity(field="quantity")
    if new_quantity > sku.stock:
        raise OutOfStock(field="quantity")
    if line:
        line.quantity = new_quantity
        line.save(update_fields=["quantity"])
    else:
        line = CartLine.objects.create(cart=cart, sku=sku, quantity=new_quantity)
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    return line


@transaction.atomic
def cart_set_quantity(*, cart: Cart, sku_id, quantity) -> CartLine | None:
    """Set a line's quantity; 0 removes the line. Same checks as `cart_add`. Setting the same
    quantity twice changes nothing."""
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        raise InvalidQuantity(field="quantity") from None
    if quantity == 0:
        cart_remove(cart=cart, sku_ids=[sku_id])
        return None
    quantity = valid_quantity(quantity)
    sku = purchasable_sku(sku_id)
    lock_one(Cart.objects.filter(pk=cart.pk))
    if quantity > sku.stock:
        raise OutOfStock(field="quantity")
    line, _created = CartLine.objects.update_or_create(cart=cart, sku=sku, defaults={"quantity": quantity})
    return line


def cart_remove(*, cart: Cart, sku_ids) -> int:
    """Remove the lines of `sku_ids` from the cart. Removing what is not there is fine."""
    ids = [int(sku_id) for sku_id in sku_ids if str(sku_id).isdigit()]
    deleted, _ = CartLine.objects.filter(cart=cart, sku_id__in=ids).delete()
    return deleted


@transaction.atomic
def cart_merge(*, anonymous_cart_id: int, user) -> Cart | None:
    """Move an anonymous cart's lines into `user`'s cart on sign-in, then delete the anonymous cart.

    Quantities of the same SKU add up, capped at the stock left and the line maximum. Lines for SKUs
    no longer on sale are dropped. Merging a cart that is already gone changes nothing.
    """
    anonymous = lock_one(Cart.objects.filter(pk=anonymous_cart_id, user__isnull=True))
    if anonymous is None:
        return None
    cart = cart_get_or_create(user=user)
    lock_one(Cart.objects.filter(pk=cart.pk))
    incoming = list(anonymous.lines.select_related("sku__product__shop"))
    existing = {line.sku_id: line for line in cart.lines.all()}
    for line in incoming:
        sku = line.sku
        if not (
            sku.is_active and sku.product.status == Product.Status.ON_SALE and sku.product.shop.is_active
        ):
            continue
        current = existing.get(sku.pk)
        quantity = min((current.quantity if current else 0) + line.quantity, MAX_LINE_QUANTITY, sku.stock)
        if quantity < 1:
            continue
        if current:
            CartLine.objects.filter(pk=current.pk).update(quantity=quantity)
        else:
            CartLine.objects.create(cart=cart, sku=sku, quantity=quantity)
    anonymous.delete()
    return cart


def cart_clear_stale(*, now=None) -> int:
    """Delete anonymous carts untouched for STALE_ANONYMOUS_CART_DAYS. One set-based DELETE; running
    it twice deletes nothing more. Returns the number of carts deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=STALE_ANONYMOUS_CART_DAYS)
    stale = Cart.objects.filter(user__isnull=True, updated_at__lt=cutoff)
    CartLine.objects.filter(cart__in=stale).delete()
    deleted, _ = stale.delete()
    return deleted
