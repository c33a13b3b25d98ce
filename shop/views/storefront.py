"""Storefront pages: home (categories, feed, 朋友♡), shop, category, product, 搜一搜 search, likes.

Every page here is built in two layers (shop.catalog_cache): the part every shopper shares (cards,
gallery, spec picker, description, search results) is rendered once with markers where a visitor's own
parts go and cached per language; the visitor's own parts (who is signed in, inbox and cart badges,
♥ on cards, the ♡ button, 朋友♡, "you bought this", CSRF token) are filled in per request from a few
small queries. Catalog and order events drop the shared parts (shop.catalog_cache).
"""

from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config.exceptions import DomainError
from shop import catalog_cache
from shop.models import Category, Product, Shop
from shop.selectors import catalog as selectors
from shop.services import catalog as services
from shop.templatetags.money import parse_yuan

PAGE_SIZE = 20


# --- Shared parts cached, personal parts layered (shop.catalog_cache) -----------------------


def _page_number(request) -> int | None:
    """The ?page= number if it is the only parameter besides `sort` and is a plain number, else None
    (such requests are rendered without the cache)."""
    if set(request.GET) - {"page"}:
        return None
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else None


def _cards_context(page) -> dict:
    products = list(page.object_list)
    for product in products:
        product.cover = selectors.product_cover(product)
    return {"products": products, "page_obj": page}


# --- Pages ------------------------------------------------------------------------------------


def home(request):
    page_number = _page_number(request)
    key = (
        catalog_cache.list_key(name="home", language=get_language(), parts=(page_number,))
        if page_number
        else None
    )

    def build():
        page = Paginator(selectors.product_feed(), PAGE_SIZE).get_page(request.GET.get("page"))
        return {
            "categories": selectors.category_tree(),
            **_cards_context(page),
        }

    return catalog_cache.page_response(
        request,
        key=key,
        template="shop/storefront/home.html",
        build_context=build,
        generational=True,
        personal=("friends_liked",),
    )


def shop_detail(request, slug: str):
    page_number = _page_number(request)
    key = (
        catalog_cache.list_key(name="shop", language=get_language(), parts=(slug, page_number))
        if page_number
        else None
    )

    def build():
        shop = selectors.shop_visible_or_none(slug=slug)
        if shop is None:
            raise Http404
        queryset = selectors.product_cards(Product.objects.on_sale().filter(shop=shop)).order_by(
            "-sales_count", "-id"
        )
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        return {"shop": shop, **_cards_context(page)}

    return catalog_cache.page_response(
        request, key=key, template="shop/storefront/shop.html", build_context=build, generational=True
    )


def category_detail(request, slug: str):
    page_number = _page_number(request)
    key = (
        catalog_cache.list_key(name="category", language=get_language(), parts=(slug, page_number))
        if page_number
        else None
    )

    def build():
        category = get_object_or_404(Category.objects.select_related("parent"), slug=slug)
        filters = selectors.ProductFilters(category=category, order=selectors.SearchOrder.NEWEST)
        page = Paginator(selectors.product_search(filters), PAGE_SIZE).get_page(request.GET.get("page"))
        top = category.parent or category
        return {
            "category": category,
            "top_category": top,
            "subcategories": list(top.children.all()),
            **_cards_context(page),
        }

    return catalog_cache.page_response(
        request, key=key, template="shop/storefront/category.html", build_context=build, generational=True
    )


def product_detail(request, pk: int):
    key = catalog_cache.product_key(catalog_cache.PAGE_KIND, pk, get_language()) if not request.GET else None

    def build():
        product = selectors.product_visible_or_none(product_id=pk)
        if product is None:
            raise Http404
        picker = selectors.sku_picker_data(product)
        low, high = selectors.price_range(product)
        return {
            "product": product,
            "images": list(product.images.all()),
            "dimensions": picker["dimensions"],
            "skus": picker["skus"],
            "picker": picker,
            "picker_text": {
                "choose": gettext("请选择规格"),
                "soldOut": gettext("已售罄"),
                "stock": gettext("库存"),
                "inStock": gettext("有货"),
            },
            "price_low": low,
            "price_high": high,
            "in_stock": any(sku["stock"] > 0 for sku in picker["skus"]),
        }

    return catalog_cache.page_response(
        request, key=key, template="shop/storefront/product.html", build_context=build
    )


@require_POST
def product_like(request, pk: int):
    """♡ or un-♡ (action=unlike) a product, then go back. Signed-out visitors are sent to sign in."""
    product = get_object_or_404(Product.objects.on_sale(), pk=pk)
    back = request.POST.get("next") or f"/products/{pk}/"
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = f"/products/{pk}/"
    if not request.user.is_authenticated:
        return redirect(f"/accounts/login/?next={quote(back)}")
    try:
        if request.POST.get("action") == "unlike":
            services.product_unlike(user=request.user, product=product)
        else:
            services.product_like(user=request.user, product=product)
    except DomainError as error:
        from django.contrib import messages

        messages.error(request, error.message)
    return redirect(back)


# --- Search -----------------------------------------------------------------------------------


class SearchForm(forms.Form):
    q = forms.CharField(label=_("搜一搜"), max_length=60, required=False)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.all(), to_field_name="slug", required=False
    )
    shop = forms.ModelChoiceField(
        label=_("Shop"), queryset=Shop.objects.active(), to_field_name="slug", required=False
    )
    price_min = forms.CharField(label=_("Lowest price (yuan)"), required=False, max_length=12)
    price_max = forms.CharField(label=_("Highest price (yuan)"), required=False, max_length=12)
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            (selectors.SearchOrder.RELEVANCE, _("Relevance")),
            (selectors.SearchOrder.SALES, pgettext_lazy("sort by", "Sales")),
            (selectors.SearchOrder.PRICE_ASC, _("Price ↑")),
            (selectors.SearchOrder.PRICE_DESC, _("Price ↓")),
            (selectors.SearchOrder.NEWEST, _("Newest")),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def _clean_price(self, name):
        raw = self.cleaned_data.get(name)
        if not raw:
            return None
        try:
            return parse_yuan(raw)
        except ValueError:
            raise forms.ValidationError(_("Enter an amount in yuan, such as 99 or 99.5.")) from None

    def clean_price_min(self):
        return self._clean_price("price_min")

    def clean_price_max(self):
        return self._clean_price("price_max")

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", _("The highest price is below the lowest."))
        return cleaned


def search(request):
    """搜一搜: search with filters, sorting and pagination. Bad filters re-show the form (400).

    A valid search's page is shared by everyone asking the same thing, so it is cached per query
    string like the other lists; a refused one is rendered for the visitor alone."""
    key = catalog_cache.list_key(
        name="search", language=get_language(), parts=(catalog_cache.query_digest(request.GET),)
    )

    def build():
        form = SearchForm(request.GET or None)  # only when the page is built: a form costs CPU
        context = {"form": form, "products": [], "searched": False, "categories": selectors.category_tree()}
        if not request.GET:
            return context
        if not form.is_valid():
            raise _Refused(context)
        data = form.cleaned_data
        filters = selectors.ProductFilters(
            query=data["q"] or "",
            category=data["category"],
            shop=data["shop"],
            price_min_fen=data["price_min"],
            price_max_fen=data["price_max"],
            order=data["sort"] or selectors.SearchOrder.RELEVANCE,
        )
        page = Paginator(selectors.product_search(filters), PAGE_SIZE).get_page(data["page"])
        query_without_page = request.GET.copy()
        query_without_page.pop("page", None)
        context.update(_cards_context(page))
        context.update({"searched": True, "query_string": query_without_page.urlencode()})
        return context

    template = "shop/storefront/search.html"
    try:
        return catalog_cache.page_response(
            request, key=key, template=template, build_context=build, generational=True
        )
    except _Refused as refused:
        context = refused.context
    return catalog_cache.page_response(
        request, key=None, template=template, build_context=lambda: context, status=400
    )


class _Refused(Exception):
    """A search form with errors: shown again to this visitor (400), never cached."""

    def __init__(self, context):
        self.context = context
