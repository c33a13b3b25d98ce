"""Chinese by default, English on request, on every kind of page the shop shows.

Source strings are mixed on purpose (the storefront and sandbox cashier are written with Chinese
msgids, orders / payments / after-sales / admin with English ones), so each app ships a zh_Hans and an
en catalog. These tests render real pages from real data and check that the default language shows
the Chinese words, that English words which used to leak into Chinese pages are gone, and that the
language cookie (what the footer switch sets) turns the same pages English. They also check the
committed catalogs: every entry translated, nothing fuzzy, and a compiled .mo beside each .po that is
not older than it (CI and production have no gettext tools, so nothing compiles at run time).
"""

import ast
import re
import shutil
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from shop.payments.sandbox import state as sandbox
from shop.services.cart import cart_add, cart_get_or_create
from tests.shop.factories import product_with_grid
from tests.shop.order_factories import make_buyer, pay_order, place_order, ship_order

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)


# --- Helpers ------------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    """What a person reads: text nodes plus placeholder / aria-label / value of buttons, without
    <script>, <style> and the hidden csrf / JSON bits."""

    SKIP = {"script", "style", "template"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1
            return
        attrs = dict(attrs)
        for name in ("placeholder", "aria-label", "title", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in {"submit", "button"} and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def visible_text(response) -> str:
    assert response.status_code == 200, response.status_code
    parser = _TextOnly()
    parser.feed(response.content.decode())
    return " ".join(parser.parts)


def in_english(client):
    """What the footer switch does: /i18n/setlang/ stores the choice in the language cookie."""
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    return client


# --- The data every page below needs ------------------------------------------------------------


@pytest.fixture
def world(shop, password):
    """A buyer with an address, a cart line, a pending order, a shipped order (with a timeline and a
    notification in the inbox) and an open sandbox transaction; the shop's owner for the admin."""
    product = product_with_grid(shop=shop, title="碎花连衣裙", colors=("红色",), sizes=("S", "M"))
    skus = list(product.skus.order_by("pk"))
    buyer = make_buyer(nickname="小明", password=password)
    pending = place_order(buyer=buyer, sku=skus[0])
    shipped = ship_order(pay_order(place_order(buyer=buyer, sku=skus[1])))
    cart_add(cart=cart_get_or_create(user=buyer), sku_id=skus[0].pk, quantity=2)
    transaction = sandbox.transaction_create(
        mchid="1900000001",
        appid="wx0000000000000001",
        out_trade_no=f"I18N{pending.number}",
        description=f"{shop.name} {pending.number}",
        amount_fen=pending.total_fen,
        notify_url="http://127.0.0.1:9/notify/",
        time_expire=(timezone.now() + timedelta(minutes=15)).isoformat(timespec="seconds"),
        client_ip="127.0.0.1",
    )
    return {
        "product": product,
        "buyer": buyer,
        "pending": pending,
        "shipped": shipped,
        "prepay_id": transaction["prepay_id"],
        "merchant": shop.owner,
    }


# Each page: (who is signed in, url) and, per language, words that must show and words that must not.
# The "must not" lists are the English strings that used to reach Chinese pages (and the reverse).
PAGES = {
    "home": {
        "who": None,
        "url": lambda w: "/",
        "zh": (["首页", "购物车", "为你推荐", "登录"], ["Sign in", "Recommended"]),
        "en": (["Home", "Cart", "Recommended for you", "Sign in"], ["为你推荐", "购物车"]),
    },
    "product": {
        "who": None,
        "url": lambda w: reverse("shop:product-detail", args=[w["product"].pk]),
        "zh": (["加入购物车", "立即购买", "请选择规格"], ["Add to cart", "Buy now"]),
        "en": (["Add to cart", "Buy now", "Please choose options"], ["加入购物车", "立即购买"]),
    },
    "search": {
        "who": None,
        "url": lambda w: "/search/?q=连衣裙",
        "zh": (["搜索", "筛选", "找到 1 件商品"], ["Search", "Filters", "found"]),
        "en": (["Search", "Filters", "1 product found"], ["筛选", "件商品"]),
    },
    "cart": {
        "who": "buyer",
        "url": lambda w: reverse("shop:cart"),
        "zh": (["购物车", "合计", "去结算", "小计"], ["Cart", "Check out", "Subtotal", "Total"]),
        "en": (["Cart", "Check out", "Subtotal", "Total"], ["去结算", "小计"]),
    },
    "checkout": {
        "who": "buyer",
        "url": lambda w: reverse("shop:checkout"),
        "zh": (
            ["确认订单", "收货地址", "提交订单", "给商家留言"],
            ["Confirm order", "Ship to", "Place order"],
        ),
        "en": (["Confirm order", "Ship to", "Place order", "Note to the shop"], ["确认订单", "提交订单"]),
    },
    "my orders": {
        "who": "buyer",
        "url": lambda w: reverse("shop:orders"),
        "zh": (
            ["我的订单", "待付款", "待发货", "待收货", "已完成", "售后", "付款"],
            ["My orders", "Pending payment", "pending payment", "To pay", "To ship", "After-sales", "Total"],
        ),
        "en": (["My orders", "To pay", "To ship", "After-sales", "Pending payment"], ["我的订单", "待付款"]),
    },
    "order detail (pending)": {
        "who": "buyer",
        "url": lambda w: reverse("shop:order-detail", args=[w["pending"].number]),
        "zh": (
            ["待付款", "立即付款", "取消订单", "订单进度", "已下单"],
            ["Pay now", "Cancel order", "Timeline"],
        ),
        "en": (["Pending payment", "Pay now", "Cancel order", "Timeline", "Order placed"], ["立即付款"]),
    },
    "order detail (shipped)": {
        "who": "buyer",
        "url": lambda w: reverse("shop:order-detail", args=[w["shipped"].number]),
        "zh": (
            ["待收货", "确认收货", "物流信息", "已发货", "已付款"],
            ["Confirm receipt", "Shipping", "Shipped"],
        ),
        "en": (["Shipped", "Confirm receipt", "Shipping", "Paid"], ["确认收货", "物流信息"]),
    },
    "pay page": {
        "who": "buyer",
        "url": lambda w: reverse("shop:order-pay", args=[w["pending"].number]),
        "zh": (["微信支付", "查看订单"], ["Pay with WeChat Pay", "View order", "Please pay by"]),
        "en": (["Pay with WeChat Pay", "View order", "Please pay by"], ["查看订单"]),
    },
    "sandbox cashier": {
        "who": None,
        "url": lambda w: f"/sandbox/wechatpay/pay/{w['prepay_id']}/",
        "zh": (["微信支付", "确认支付", "取消支付", "收款方"], ["WeChat Pay", "Confirm payment"]),
        "en": (["WeChat Pay", "Confirm payment", "Cancel payment", "Payee"], ["确认支付", "收款方"]),
    },
    "after-sales form": {
        "who": "buyer",
        "url": lambda w: reverse("shop:after-sales-new", args=[w["shipped"].number]),
        "zh": (["退款/退货", "仅退款", "退货退款", "申请原因", "最多"], ["Refund", "refund only", "Up to"]),
        "en": (
            ["Refund / return", "refund only", "return and refund", "Reason", "Up to"],
            ["仅退款", "最多"],
        ),
    },
    "after-sales": {
        "who": "buyer",
        "url": lambda w: reverse("shop:after-sales"),
        "zh": (["售后", "暂无售后申请"], ["After-sales", "No after-sales requests"]),
        "en": (["After-sales", "No after-sales requests"], ["暂无售后申请"]),
    },
    "register": {
        "who": None,
        "url": lambda w: reverse("accounts:register"),
        "zh": (["注册", "手机号", "密码"], ["Register", "Phone number", "Password"]),
        "en": (["Phone number", "Password"], ["手机号", "密码"]),
    },
    "inbox": {
        "who": "buyer",
        "url": lambda w: reverse("accounts:inbox"),
        "zh": (["消息"], ["Inbox"]),
        "en": (["Inbox"], ["全部已读"]),
    },
    "admin order list": {
        "who": "merchant",
        "url": lambda w: reverse("admin:shop_order_changelist"),
        "zh": (
            [
                "订单",
                "订单编号",
                "买家",
                "状态",
                "合计",
                "待付款",
                "待收货",
                "所选订单发货",
                "收货人手机号",
                "创建时间",  # date filters are the theme's date-range pickers, titled in attributes
            ],
            [
                "Pending payment",
                "pending payment",
                "Ship selected orders",
                "Buyer",
                "Recipient phone",
                "paid at",
            ],
        ),
        "en": (
            [
                "Order number",
                "Buyer",
                "pending payment",
                "Ship selected orders",
                "Recipient phone",
                "Created",
            ],
            ["订单编号", "待付款", "收货人手机号"],
        ),
    },
}


def _check(text: str, must: list[str], must_not: list[str], where: str) -> None:
    missing = [word for word in must if word not in text]
    leaked = [word for word in must_not if word in text]
    assert not missing and not leaked, f"{where}: missing {missing}, should not show {leaked}\n{text}"


@pytest.mark.parametrize("name", list(PAGES))
def test_pages_are_chinese_by_default_and_english_with_the_language_cookie(client, world, name):
    page = PAGES[name]
    if page["who"]:
        client.force_login(world[page["who"]])
    url = page["url"](world)

    _check(visible_text(client.get(url)), *page["zh"], where=f"{name} (default)")

    _check(visible_text(in_english(client).get(url)), *page["en"], where=f"{name} (en)")


def test_the_page_says_which_language_it_is_in(client, world):
    assert b'<html lang="zh-hans">' in client.get("/").content
    assert b'<html lang="en">' in in_english(client).get("/").content


def test_the_footer_offers_both_languages_and_posts_to_setlang(client, world):
    html = client.get("/").content.decode()
    assert 'action="/i18n/setlang/"' in html
    assert 'value="zh-hans"' in html and 'value="en"' in html


def test_spec_picker_texts_follow_the_language(client, world):
    """The spec picker's JavaScript shows strings the template hands it as JSON."""
    url = reverse("shop:product-detail", args=[world["product"].pk])
    zh = client.get(url).content.decode()
    en = in_english(client).get(url).content.decode()
    zh_json = re.search(r'<script id="picker-text" type="application/json">(.*?)</script>', zh).group(1)
    en_json = re.search(r'<script id="picker-text" type="application/json">(.*?)</script>', en).group(1)
    assert zh_json != en_json
    assert not re.search(r"[A-Za-z]{3,}", re.sub(r'"\w+":', "", zh_json)), zh_json
    assert not re.search(r"[\u4e00-\u9fff]", en_json.encode().decode("unicode_escape")), en_json


# --- Errors: API answers and form messages --------------------------------------------------------


def test_api_domain_error_in_the_requested_language(client, world):
    client.force_login(world["buyer"])
    sku = world["product"].skus.first()
    url = "/api/v1/cart/items/"
    body = {"sku_id": sku.pk, "quantity": 50}  # 10 in stock

    chinese = client.post(url, body, content_type="application/json")
    assert chinese.status_code == 400
    assert chinese.json()["quantity"] == ["库存不足。"]

    english = client.post(url, body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 400
    assert english.json()["quantity"] == ["Not enough stock left."]

    missing = client.get("/api/v1/orders/00000000000000000000/", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    assert missing.json()["detail"] in {"Not found.", "Order not found."}
    missing = client.get("/api/v1/orders/00000000000000000000/")
    assert missing.json()["detail"] in {"未找到。", "订单不存在。"}


def test_lazy_default_messages_are_rendered_per_request_language():
    """DomainError defaults are lazy: the same exception object speaks the language active when it
    is turned into an answer, and as_dict hands the renderer plain strings."""
    from shop.services.catalog import InvalidStock
    from shop.services.errors import OutOfStock

    error = OutOfStock(field="quantity")
    with translation.override("zh-hans"):
        assert error.as_dict() == {"quantity": ["库存不足。"], "code": "out_of_stock"}
    with translation.override("en"):
        body = InvalidStock().as_dict()
        assert body == {"detail": "Stock must be a whole number, zero or more.", "code": "invalid_stock"}
        assert type(body["detail"]) is str


def test_refusal_of_a_state_change_reads_naturally_in_both_languages(world):
    """Status names and refusal verbs share English words ('paid', 'shipped') but not Chinese ones."""
    from config.exceptions import DomainError
    from shop.services.orders import order_ship

    order = world["pending"]
    for language, expected in (
        ("zh-hans", f"订单 {order.number} 当前为「待付款」，无法发货。"),
        ("en", f"Order {order.number} is pending payment and cannot be shipped."),
    ):
        with translation.override(language):
            with pytest.raises(DomainError) as refused:
                order_ship(
                    order_id=order.pk, actor=world["merchant"], carrier="顺丰速运", tracking_number="SF1"
                )
            assert str(refused.value.message) == expected


# --- The catalogs themselves --------------------------------------------------------------------


def _po_files() -> list[Path]:
    found = [
        path
        for path in BASE_DIR.glob("**/locale/*/LC_MESSAGES/django.po")
        if ".venv" not in path.parts and "site-packages" not in path.parts
    ]
    return sorted(found)


def _po_entries(path: Path) -> list[dict]:
    """A small .po reader: enough for what makemessages writes (comments, flags, msgctxt, msgid,
    msgid_plural, msgstr / msgstr[n], continuation lines)."""
    entries, current, key = [], None, None

    def finish():
        if current is not None and (current.get("msgid") or current.get("msgstr")):
            entries.append(current)

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            finish()
            current, key = None, None
            continue
        if current is None:
            current = {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            current["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if key.startswith("msgstr"):
                current["msgstr"][key] += value
            else:
                current[key] += value
        else:
            key, _, rest = line.partition(" ")
            value = ast.literal_eval(rest)
            if key.startswith("msgstr"):
                current["msgstr"][key] = value
            else:
                current[key] = value
    return entries


def test_every_app_with_strings_ships_both_catalogs():
    languages = {(path.relative_to(BASE_DIR).parts[0], path.parts[-3]) for path in _po_files()}
    for area in ("locale", "shop", "affiliates", "gifting"):
        assert (area, "zh_Hans") in languages and (area, "en") in languages
    assert ("accounts", "zh_Hans") in languages


@pytest.mark.parametrize("po", _po_files(), ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_catalog_is_complete_and_compiled(po):
    entries = _po_entries(po)
    header = next(e for e in entries if e["msgid"] == "")
    assert "charset=UTF-8" in header["msgstr"]["msgstr"]
    messages = [e for e in entries if e["msgid"] != ""]
    assert len(messages) > 5
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries in {po}: {fuzzy}"
    empty = [e["msgid"] for e in messages if not all(e["msgstr"].values())]
    assert not empty, f"untranslated entries in {po}: {empty}"
    # Placeholders survive translation.
    for entry in messages:
        wanted = set(re.findall(r"%\(\w+\)", entry["msgid"]))
        for text in entry["msgstr"].values():
            assert set(re.findall(r"%\(\w+\)", text)) == wanted, (po, entry["msgid"], text)

    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run compilemessages and commit it"
    assert mo.stat().st_size > 0


def test_compiled_catalogs_match_their_sources():
    """Each .mo holds exactly the translations of its .po (so an edited .po was recompiled)."""
    import gettext

    for po in _po_files():
        with po.with_suffix(".mo").open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        for entry in _po_entries(po):
            if entry["msgid"] == "" or "msgid_plural" in entry:
                continue
            msgid = entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
            assert compiled._catalog.get(msgid) == entry["msgstr"]["msgstr"], (po, entry["msgid"])


@pytest.mark.skipif(not shutil.which("xgettext"), reason="gettext tools are not installed here")
def test_makemessages_finds_nothing_new(tmp_path, settings, monkeypatch):
    """Running makemessages on a copy of the sources adds no untranslated or fuzzy entry: every
    user-visible string in the code is in the committed catalogs."""
    from django.core.management import call_command

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "media")
    for name in ("shop", "accounts", "affiliates", "gifting", "payouts", "templates", "config", "locale"):
        shutil.copytree(BASE_DIR / name, tmp_path / name, ignore=ignore)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    runs = [
        (tmp_path / "shop", ["zh_Hans", "en"]),
        (tmp_path / "accounts", ["zh_Hans"]),
        (tmp_path / "affiliates", ["zh_Hans", "en"]),
        (tmp_path / "gifting", ["zh_Hans", "en"]),
        (tmp_path / "payouts", ["zh_Hans", "en"]),
    ]
    runs.append((tmp_path, ["zh_Hans", "en"]))
    for folder, languages in runs:
        monkeypatch.chdir(folder)
        ignored = (
            ["shop/*", "accounts/*", "affiliates/*", "gifting/*", "payouts/*"] if folder == tmp_path else []
        )
        call_command("makemessages", locale=languages, ignore_patterns=ignored, no_obsolete=True, verbosity=0)
    problems = []
    for po in sorted(tmp_path.glob("**/locale/*/LC_MESSAGES/django.po")):
        for entry in _po_entries(po):
            if entry["msgid"] and ("fuzzy" in entry["flags"] or not all(entry["msgstr"].values())):
                problems.append(f"{po.relative_to(tmp_path)}: {entry['msgid']!r}")
    assert not problems, "translate these (makemessages, fill msgstr, compilemessages):\n" + "\n".join(
        problems
    )
