"""Catalog figures for `make bench` (see tests/load/bench.py for ctx).

- product_detail: /products/<id>/ of the first on-sale demo product (gallery, 颜色 × 尺码 picker,
  description), as a signed-out shopper; served from the Redis page cache after its first view.
- product_list: the home page feed, /, page 1 (categories + 20 product cards), signed out.
Both are driven exactly like the bare view (plain wrk GETs, no Lua), so the ratio compares like with like.
"""


def run(ctx) -> list[tuple[str, float, str]]:
    rows = ctx.sql(
        "SELECT p.id FROM shop_product p WHERE p.status = 'on_sale' "
        "AND EXISTS (SELECT 1 FROM shop_productimage i WHERE i.product_id = p.id) "
        "AND EXISTS (SELECT 1 FROM shop_specdimension d WHERE d.product_id = p.id) ORDER BY p.id LIMIT 1"
    )
    if not rows:
        raise RuntimeError(
            "no on-sale product with images and specs in the bench database: did seed_demo run?"
        )
    detail_rps, detail_ratio = ctx.against_bare(f"/products/{rows[0][0]}/")
    list_rps, list_ratio = ctx.against_bare("/")
    return [
        ("product_detail_rps", detail_rps, "req/s"),
        ("product_detail_ratio", detail_ratio, "x"),
        ("product_list_rps", list_rps, "req/s"),
        ("product_list_ratio", list_ratio, "x"),
    ]
