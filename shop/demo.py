"""Demo shops and catalog for `manage.py seed_demo` (runs after accounts/demo.py).

Two shops, each with its owner and one more staff member; eight categories on two levels; 64
products with specs, SKU grids and images drawn here with Pillow (no downloads); and likes from
the demo shopper's friends, so the 朋友♡ section has something to show. Everything is looked up
before it is made, so a second run changes nothing.
"""

from __future__ import annotations

import colorsys
import hashlib
from functools import cache as memoize
from io import BytesIO
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

from shop.models import Category, Product, ProductLike, Shop
from shop.services import catalog as services

PASSWORD = "weshop-demo"
FALLBACK_PHONES = {
    "merchant": "13800000001",
    "merchant2": "13800000002",
    "shopper": "13800000003",
    "friend1": "13800000005",
    "friend2": "13800000006",
    "friend3": "13800000007",
}
STAFF = {  # extra staff member per shop: (phone, nickname)
    "tiantian": ("13800000011", "店员小李"),
    "ajie": ("13800000012", "店员小周"),
}
CJK_FONTS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
]

# slug: (name, parent slug or None, position)
CATEGORIES = {
    "women": ("女装", None, 0),
    "dresses": ("连衣裙", "women", 0),
    "coats": ("外套", "women", 1),
    "food": ("美食", None, 1),
    "snacks": ("零食", "food", 0),
    "tea": ("茶饮", "food", 1),
    "home": ("家居", None, 2),
    "storage": ("收纳", "home", 0),
}

COLORS = ("红色", "蓝色", "白色")
SIZES = ("S", "M", "L")

# (shop slug, category slug, titles, specs, base price in fen)
LINES = [
    (
        "tiantian",
        "dresses",
        [
            "碎花连衣裙",
            "法式连衣裙",
            "针织连衣裙",
            "雪纺连衣裙",
            "牛仔连衣裙",
            "吊带连衣裙",
            "衬衫连衣裙",
            "复古连衣裙",
            "收腰连衣裙",
            "长款连衣裙",
            "方领连衣裙",
            "泡泡袖连衣裙",
        ],
        [("颜色", COLORS), ("尺码", SIZES)],
        15900,
    ),
    (
        "tiantian",
        "coats",
        [
            "羊毛大衣",
            "短款风衣",
            "牛仔外套",
            "羽绒服",
            "针织开衫",
            "西装外套",
            "棉服",
            "冲锋衣",
            "皮衣夹克",
            "连帽卫衣",
        ],
        [("颜色", COLORS), ("尺码", SIZES)],
        29900,
    ),
    (
        "tiantian",
        "storage",
        [
            "桌面收纳盒",
            "衣柜收纳箱",
            "抽屉分隔盒",
            "化妆品收纳架",
            "鞋盒",
            "壁挂收纳袋",
            "床底收纳箱",
            "厨房调料架",
            "书桌置物架",
            "玄关钥匙盒",
        ],
        [("颜色", ("米白", "浅灰", "雾蓝"))],
        3900,
    ),
    (
        "ajie",
        "snacks",
        [
            "手工牛轧糖",
            "麻辣牛肉干",
            "坚果礼盒",
            "芒果干",
            "海苔脆片",
            "黑糖麻薯",
            "蛋黄酥",
            "凤梨酥",
            "猪肉脯",
            "话梅糖",
            "桃酥",
            "鸭脖",
            "辣条",
            "山楂条",
            "地瓜干",
            "绿豆糕",
        ],
        [("口味", ("原味", "香辣")), ("规格", ("小包", "大包"))],
        2900,
    ),
    (
        "ajie",
        "tea",
        [
            "西湖龙井",
            "铁观音",
            "茉莉花茶",
            "普洱熟茶",
            "正山小种",
            "白毫银针",
            "冻顶乌龙",
            "桂花乌龙",
            "大红袍",
            "碧螺春",
            "菊花茶",
            "柠檬红茶",
            "玫瑰花茶",
            "蜜桃乌龙",
            "黄山毛峰",
            "六安瓜片",
        ],
        [("规格", ("50g", "100g", "250g"))],
        6800,
    ),
]

SHOPS = {
    "tiantian": ("甜甜的衣橱", "merchant", "女装、外套和家居收纳，每周上新。"),
    "ajie": ("阿杰零食铺", "merchant2", "零食和好茶，当天发货。"),
}


def _user(role_or_phone: str, *, nickname: str = "", staff: bool = False):
    """A demo user by role (accounts.demo's phones when present) or by phone; made if missing."""
    try:
        from accounts.demo import DEMO_PHONES
    except ImportError:  # accounts' demo may not be installed yet
        DEMO_PHONES = FALLBACK_PHONES
    phone = DEMO_PHONES.get(role_or_phone, FALLBACK_PHONES.get(role_or_phone, role_or_phone))
    User = get_user_model()
    user = User.objects.filter(phone=phone).first()
    if user is None:
        user = User.objects.create_user(phone, PASSWORD, nickname=nickname or role_or_phone, is_staff=staff)
    return user


@memoize
def _font(size: int):
    for path in CJK_FONTS:
        if Path(path).exists():
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return ImageFont.load_default()


def _hue(text: str) -> float:
    return int(hashlib.md5(text.encode()).hexdigest()[:6], 16) / 0xFFFFFF


def product_picture(title: str, variant: int = 0, size: int = 640) -> bytes:
    """A product picture drawn from its title: a two-colour gradient, a few shapes, the title."""
    hue = (_hue(title) + variant * 0.08) % 1.0
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.35, 0.98))
    bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.1) % 1.0, 0.6, 0.85))
    image = Image.new("RGB", (size, size), top)
    draw = ImageDraw.Draw(image)
    for y in range(size):
        t = y / (size - 1)
        draw.line(
            [(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    seed = int(hashlib.md5(f"{title}{variant}".encode()).hexdigest(), 16)
    for i in range(4):
        radius = 40 + (seed >> (i * 5)) % 90
        x = (seed >> (i * 7)) % size
        y = (seed >> (i * 11)) % size
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=(255, 255, 255), width=6)
    draw.rounded_rectangle([40, size // 2 - 70, size - 40, size // 2 + 70], radius=24, fill=(255, 255, 255))
    font = _font(64 if len(title) <= 6 else 48)
    draw.text((size // 2, size // 2), title, fill=(40, 40, 40), font=font, anchor="mm")
    buffer = BytesIO()
    image.save(buffer, format="JPEG", quality=82)
    return buffer.getvalue()


def _shops(stdout) -> dict[str, Shop]:
    shops = {}
    for slug, (name, owner_role, description) in SHOPS.items():
        owner = _user(owner_role, staff=True)
        shop = services.shop_create(name=name, slug=slug, owner=owner, description=description)
        phone, nickname = STAFF[slug]
        services.shop_member_add(shop=shop, user=_user(phone, nickname=nickname, staff=True))
        shops[slug] = shop
    return shops


def _categories() -> dict[str, Category]:
    categories: dict[str, Category] = {}
    for slug, (name, parent_slug, position) in CATEGORIES.items():
        category = Category.objects.filter(slug=slug).first()
        if category is None:
            category = Category.objects.create(
                slug=slug, name=name, parent=categories.get(parent_slug), position=position
            )
        categories[slug] = category
    return categories


def _product(*, shop, category, title, specs, price_fen, index) -> tuple[Product, bool]:
    existing = Product.objects.filter(shop=shop, title=title).first()
    if existing is not None:
        return existing, False
    product = services.product_create(
        shop=shop,
        category=category,
        title=title,
        subtitle=f"{shop.name} · {category.name}",
        description=(
            f"<p>{title}，{category.name}精选。</p><ul><li>七天无理由退换</li><li>48 小时内发货</li></ul>"
        ),
    )
    grid = services.product_specs_set(
        product=product, specs=[services.SpecInput(name=name, values=values) for name, values in specs]
    )
    for position, sku in enumerate(grid):
        # A few sold-out combinations so the spec picker has something to disable.
        stock = 0 if (index + position) % 5 == 0 else 5 + (index * 7 + position * 3) % 60
        price = price_fen + position * 500 + (index % 4) * 1000
        services.sku_update(
            sku=sku,
            price_fen=price,
            original_price_fen=price + 3000 if index % 3 == 0 else None,
            stock=stock,
            code=f"{shop.slug[:2].upper()}{index:03d}-{position + 1}",
        )
    for variant in range(2):
        upload = SimpleUploadedFile(
            f"{shop.slug}-{index}-{variant}.jpg", product_picture(title, variant), content_type="image/jpeg"
        )
        services.product_image_add(product=product, upload=upload, position=variant)
    services.product_set_status(product=product, status=Product.Status.ON_SALE)
    Product.objects.filter(pk=product.pk).update(sales_count=(index * 37) % 500)
    return product, True


def _likes(products: list[Product]) -> int:
    """The shopper's friends like a few products each, overlapping, so 朋友♡ has a ranking."""
    picks = {"friend1": products[0:8], "friend2": products[2:7], "friend3": products[4:7] + products[30:33]}
    added = 0
    for role, liked in picks.items():
        friend = _user(role)
        for product in liked:
            if not ProductLike.objects.filter(user=friend, product=product).exists():
                services.product_like(user=friend, product=product)
                added += 1
    return added


def seed(*, stdout) -> list[tuple[str, str, str]]:
    shops = _shops(stdout)
    categories = _categories()
    products, created = [], 0
    index = 0
    for shop_slug, category_slug, titles, specs, price_fen in LINES:
        for title in titles:
            index += 1
            product, made = _product(
                shop=shops[shop_slug],
                category=categories[category_slug],
                title=title,
                specs=specs,
                price_fen=price_fen,
                index=index,
            )
            products.append(product)
            created += made
    likes = _likes(products)
    stdout.write(
        f"shop: {len(shops)} shops, {len(categories)} categories, {len(products)} products "
        f"({created} new), {likes} new likes"
    )
    return [
        (f"merchant staff · {nickname} ({SHOPS[slug][0]})", phone, PASSWORD)
        for slug, (phone, nickname) in STAFF.items()
    ]
