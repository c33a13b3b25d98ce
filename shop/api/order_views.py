"""/api/v1/ for carts, checkout, orders, payment and after-sales (buyers), and orders, shipping and
after-sales decisions (merchant staff, own shops only). One view per operation, each calling a service.
Other people's orders answer 404; refusals are 400 with a message (config.exceptions)."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import token_key, token_preloaded
from config.exceptions import DomainError
from config.schema import ApiErrorSerializer
from shop import hooks
from shop.admin.scoping import is_merchant_staff
from shop.api import order_serializers as s
from shop.models import AfterSalesRequest, Order
from shop.selectors.orders import (
    BUYER_ORDER_TABS,
    after_sales_for_buyer,
    after_sales_for_merchant,
    cart_for_request,
    cart_lines,
    cart_lines_by_shop,
    managed_shop_ids,
    order_for_buyer,
    orders_for_buyer,
    orders_for_merchant,
)
from shop.services.aftersales import (
    after_sales_approve,
    after_sales_create,
    after_sales_reject,
    after_sales_return_receive,
    after_sales_return_ship,
    after_sales_withdraw,
)
from shop.services.cart import cart_add, cart_get_or_create, cart_remove, cart_set_quantity
from shop.services.checkout import buy_now_preread, checkout_buy_now, checkout_from_cart
from shop.services.errors import OrderNotFound
from shop.services.orders import order_cancel, order_confirm_receipt, order_ship, orders_ship_many
from shop.services.payments import payment_start
from shop.services.refunds import RefundLineSpec, order_refund
from shop.views.payments import client_ip

TAG_CART = ["cart"]
TAG_ORDERS = ["orders"]
TAG_AFTER_SALES = ["after-sales"]
TAG_MERCHANT = ["merchant orders"]
# Paying and refunding call WeChat Pay; when it cannot be reached the answer is a 503 to retry later.
PROVIDER_UNAVAILABLE = OpenApiResponse(
    ApiErrorSerializer, description="The payment provider could not be reached"
)
_no_body = OpenApiResponse(description="Done; no body.")


class _SignedIn(APIView):
    permission_classes = [IsAuthenticated]


class _Merchant(APIView):
    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not is_merchant_staff(request.user):
            raise PermissionDenied("Merchant staff only.")


def _cart_body(user) -> dict:
    groups = cart_lines_by_shop(cart_lines(cart=cart_for_request(user=user, cart_id=None)))
    body = {
        "shops": [
            {"shop": g["shop"], "subtotal_fen": g["subtotal_fen"], "lines": g["lines"]} for g in groups
        ],
        "total_fen": sum(g["subtotal_fen"] for g in groups),
    }
    return s.CartOutputSerializer(body).data


# --- cart ---------------------------------------------------------------------------------------


class CartApi(_SignedIn):
    @extend_schema(tags=TAG_CART, responses={200: s.CartOutputSerializer}, summary="My cart, per shop")
    def get(self, request):
        return Response(_cart_body(request.user))


class CartItemsApi(_SignedIn):
    @extend_schema(
        tags=TAG_CART,
        request=s.CartAddInputSerializer,
        responses={201: s.CartOutputSerializer},
        summary="Add a SKU to my cart (quantities add up; checked against stock)",
    )
    def post(self, request):
        data = s.CartAddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart_add(cart=cart_get_or_create(user=request.user), **data.validated_data)
        return Response(_cart_body(request.user), status=status.HTTP_201_CREATED)


class CartItemApi(_SignedIn):
    @extend_schema(
        tags=TAG_CART,
        request=s.CartQuantityInputSerializer,
        responses={200: s.CartOutputSerializer},
        summary="Set a cart line's quantity (0 removes it)",
    )
    def patch(self, request, sku_id: int):
        data = s.CartQuantityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart_set_quantity(
            cart=cart_get_or_create(user=request.user),
            sku_id=sku_id,
            quantity=data.validated_data["quantity"],
        )
        return Response(_cart_body(request.user))

    @extend_schema(tags=TAG_CART, responses={204: _no_body}, summary="Remove a line from my cart")
    def delete(self, request, sku_id: int):
        cart = cart_for_request(user=request.user, cart_id=None)
        if cart is not None:
            cart_remove(cart=cart, sku_ids=[sku_id])
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- checkout -----------------------------------------------------------------------------------


class CheckoutApi(_SignedIn):
    @extend_schema(
        tags=TAG_ORDERS,
        request=s.CheckoutInputSerializer,
        responses={201: s.OrderOutputSerializer(many=True)},
        summary="Check out my cart: one order per shop, sharing a checkout id",
    )
    def post(self, request):
        data = s.CheckoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        orders = checkout_from_cart(  # the buyer's own cart, read with its lines in one query
            buyer=request.user,
            checkout_context=hooks.checkout_context(request),
            **data.validated_data,
        )
        # The orders come back with their shop and lines: the answer needs no further query.
        body = s.PlacedOrderOutputSerializer(orders, many=True)
        return Response(body.data, status=status.HTTP_201_CREATED)


class BuyNowApi(_SignedIn):
    """A caller with an API token has it read in the statement that reads what the order is made of
    (shop.services.checkout.buy_now_preread): a round trip fewer, see perform_authentication."""

    def perform_authentication(self, request):
        """DRF authenticates the caller as for any view, but with a token and a valid body the token
        is read together with the SKU and address the body names, and handed to DRF's token
        authentication (accounts.authentication.token_preloaded), which checks it as usual; checkout
        uses what was read only if that token is what authenticated the request. A body that cannot
        be parsed is answered after authentication, as DRF would."""
        self.body, self.preread = None, None
        key = token_key(request)
        if key is None or request.method != "POST":
            return super().perform_authentication(request)
        try:
            body = s.BuyNowInputSerializer(data=request.data)
        except ParseError:
            super().perform_authentication(request)  # a caller who is not signed in hears that first
            raise
        if not body.is_valid():
            return super().perform_authentication(request)
        token, preread = buy_now_preread(
            key=key, sku_id=body.validated_data["sku_id"], address_id=body.validated_data["address_id"]
        )
        with token_preloaded(token):
            super().perform_authentication(request)
        self.body = body
        if token is not None and request.auth is token:
            self.preread = preread

    @extend_schema(
        tags=TAG_ORDERS,
        request=s.BuyNowInputSerializer,
        responses={201: s.OrderOutputSerializer},
        summary="Buy one SKU now, skipping the cart",
    )
    def post(self, request):
        data = self.body or s.BuyNowInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = checkout_buy_now(
            buyer=request.user,
            checkout_context=hooks.checkout_context(request),
            preread=self.preread,
            **data.validated_data,
        )
        return Response(s.PlacedOrderOutputSerializer(order).data, status=status.HTTP_201_CREATED)


# --- my orders ----------------------------------------------------------------------------------


class OrderListApi(ListAPIView):
    permission_classes = [IsAuthenticated]
    queryset = Order.objects.none()  # the schema's model; get_queryset scopes to the buyer
    serializer_class = s.OrderOutputSerializer

    @extend_schema(
        tags=TAG_ORDERS,
        parameters=[OpenApiParameter("tab", str, enum=list(BUYER_ORDER_TABS), description="Order state tab")],
        summary="My orders, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        tab = self.request.query_params.get("tab", "all")
        if tab not in BUYER_ORDER_TABS:
            raise DomainError(f"Unknown tab; choose one of {', '.join(BUYER_ORDER_TABS)}.", field="tab")
        return orders_for_buyer(user=self.request.user, tab=tab)


def _own_order(request, number: str) -> Order:
    order = order_for_buyer(user=request.user, number=number)
    if order is None:
        raise Http404
    return order


class OrderDetailApi(_SignedIn):
    @extend_schema(
        tags=TAG_ORDERS, responses={200: s.OrderDetailOutputSerializer}, summary="One of my orders"
    )
    def get(self, request, number: str):
        return Response(s.OrderDetailOutputSerializer(_own_order(request, number)).data)


class OrderCancelApi(_SignedIn):
    @extend_schema(
        tags=TAG_ORDERS,
        request=None,
        responses={200: s.OrderDetailOutputSerializer},
        summary="Cancel my unpaid order (stock goes back)",
    )
    def post(self, request, number: str):
        order = _own_order(request, number)
        order_cancel(order_id=order.pk, buyer=request.user, actor=request.user)
        return Response(s.OrderDetailOutputSerializer(_own_order(request, number)).data)


class OrderConfirmReceiptApi(_SignedIn):
    @extend_schema(
        tags=TAG_ORDERS,
        request=None,
        responses={200: s.OrderDetailOutputSerializer},
        summary="Confirm I received my shipped order",
    )
    def post(self, request, number: str):
        order = _own_order(request, number)
        order_confirm_receipt(order_id=order.pk, buyer=request.user)
        return Response(s.OrderDetailOutputSerializer(_own_order(request, number)).data)


class OrderPayApi(_SignedIn):
    @extend_schema(
        tags=TAG_ORDERS,
        request=None,
        responses={200: s.PaymentStartOutputSerializer, 503: PROVIDER_UNAVAILABLE},
        summary="Start paying my order: open the browser at pay_url",
    )
    def post(self, request, number: str):
        order = _own_order(request, number)
        return_url = request.build_absolute_uri(f"/orders/{order.number}/")
        result = payment_start(
            order_id=order.pk, buyer=request.user, client_ip=client_ip(request), return_url=return_url
        )
        return Response(
            s.PaymentStartOutputSerializer({"pay_url": result.pay_url, "prepay_id": result.prepay_id}).data
        )


# --- after-sales (buyer) ------------------------------------------------------------------------


class AfterSalesListCreateApi(ListAPIView):
    permission_classes = [IsAuthenticated]
    queryset = AfterSalesRequest.objects.none()
    serializer_class = s.AfterSalesOutputSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return after_sales_for_buyer(user=self.request.user)

    @extend_schema(tags=TAG_AFTER_SALES, summary="My after-sales requests")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAG_AFTER_SALES,
        request={
            "multipart/form-data": s.AfterSalesCreateInputSerializer,
            "application/json": s.AfterSalesCreateInputSerializer,
        },
        responses={201: s.AfterSalesOutputSerializer},
        summary="Ask for a refund, or a return and refund, on one line of my order",
    )
    def post(self, request):
        data = s.AfterSalesCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        order = _own_order(request, values.pop("order_number"))
        created = after_sales_create(buyer=request.user, order_id=order.pk, **values)
        row = after_sales_for_buyer(user=request.user).get(pk=created.pk)
        return Response(s.AfterSalesOutputSerializer(row).data, status=status.HTTP_201_CREATED)


class AfterSalesWithdrawApi(_SignedIn):
    @extend_schema(
        tags=TAG_AFTER_SALES,
        request=None,
        responses={200: s.AfterSalesOutputSerializer},
        summary="Withdraw my open request",
    )
    def post(self, request, request_id: int):
        after_sales_withdraw(request_id=request_id, buyer=request.user)
        return Response(
            s.AfterSalesOutputSerializer(after_sales_for_buyer(user=request.user).get(pk=request_id)).data
        )


class AfterSalesReturnShipmentApi(_SignedIn):
    @extend_schema(
        tags=TAG_AFTER_SALES,
        request=s.ReturnShipmentInputSerializer,
        responses={200: s.AfterSalesOutputSerializer},
        summary="Enter the carrier and tracking number of the goods sent back (return and refund)",
    )
    def post(self, request, request_id: int):
        data = s.ReturnShipmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        after_sales_return_ship(request_id=request_id, buyer=request.user, **data.validated_data)
        return Response(
            s.AfterSalesOutputSerializer(after_sales_for_buyer(user=request.user).get(pk=request_id)).data
        )


# --- merchant -----------------------------------------------------------------------------------


class MerchantOrderListApi(ListAPIView, _Merchant):
    queryset = Order.objects.none()
    serializer_class = s.MerchantOrderOutputSerializer

    @extend_schema(
        tags=TAG_MERCHANT,
        parameters=[OpenApiParameter("status", str, enum=list(Order.Status.values))],
        summary="Orders of my shops",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted and wanted not in Order.Status.values:
            raise DomainError("Unknown status.", field="status")
        return orders_for_merchant(user=self.request.user, status=wanted)


def _merchant_order(request, number: str) -> Order:
    order = orders_for_merchant(user=request.user).filter(number=number).first()
    if order is None:
        raise Http404
    return order


class MerchantOrderDetailApi(_Merchant):
    @extend_schema(
        tags=TAG_MERCHANT, responses={200: s.MerchantOrderOutputSerializer}, summary="One order of my shops"
    )
    def get(self, request, number: str):
        return Response(s.MerchantOrderOutputSerializer(_merchant_order(request, number)).data)


class MerchantOrderShipApi(_Merchant):
    @extend_schema(
        tags=TAG_MERCHANT,
        request=s.ShipInputSerializer,
        responses={200: s.MerchantOrderOutputSerializer},
        summary="Ship a paid order with carrier and tracking number",
    )
    def post(self, request, number: str):
        data = s.ShipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = _merchant_order(request, number)
        order_ship(
            order_id=order.pk,
            actor=request.user,
            shop_ids=managed_shop_ids(request.user),
            **data.validated_data,
        )
        return Response(s.MerchantOrderOutputSerializer(_merchant_order(request, number)).data)


class MerchantOrderRefundApi(_Merchant):
    @extend_schema(
        tags=TAG_MERCHANT,
        request=s.MerchantRefundInputSerializer,
        responses={201: s.RefundOutputSerializer, 503: PROVIDER_UNAVAILABLE},
        summary="Refund a paid order (any time, also after completion): lines, an amount, or in full",
    )
    def post(self, request, number: str):
        data = s.MerchantRefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        order = _merchant_order(request, number)
        if values.get("lines"):
            lines = [RefundLineSpec(**line) for line in values["lines"]]
        else:
            lines = None if values.get("amount_fen") else []  # [] with shipping_fen: the fee alone
        refund = order_refund(
            order_id=order.pk,
            actor=request.user,
            reason=values["reason"],
            full=values["full"],
            lines=lines,
            amount_fen=values.get("amount_fen"),
            shipping_fen=values["shipping_fen"],
            restock=values["restock"],
            shop_ids=managed_shop_ids(request.user),
        )
        return Response(s.RefundOutputSerializer(refund).data, status=status.HTTP_201_CREATED)


class MerchantBulkShipApi(_Merchant):
    @extend_schema(
        tags=TAG_MERCHANT,
        operation_id="v1_merchant_orders_bulk_ship",
        request=s.BulkShipInputSerializer,
        responses={200: s.BulkShipResultSerializer(many=True)},
        summary="Ship many orders at once; each one succeeds or is refused on its own",
    )
    def post(self, request):
        data = s.BulkShipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = data.validated_data["items"]
        ids = dict(
            orders_for_merchant(user=request.user)
            .filter(number__in=[item["number"] for item in items])
            .values_list("number", "pk")
        )
        outcome = orders_ship_many(
            shipments=[
                (ids[item["number"]], item["carrier"], item["tracking_number"])
                for item in items
                if item["number"] in ids
            ],
            actor=request.user,
            shop_ids=managed_shop_ids(request.user),
        )
        results = []
        for item in items:
            order_id = ids.get(item["number"])
            error = outcome[order_id] if order_id is not None else OrderNotFound()
            message = str(error.message) if error else ""
            results.append({"number": item["number"], "shipped": error is None, "error": message})
        return Response(s.BulkShipResultSerializer(results, many=True).data)


class MerchantAfterSalesListApi(ListAPIView, _Merchant):
    queryset = AfterSalesRequest.objects.none()
    serializer_class = s.AfterSalesOutputSerializer

    @extend_schema(
        tags=TAG_MERCHANT,
        parameters=[OpenApiParameter("status", str, enum=list(AfterSalesRequest.Status.values))],
        summary="After-sales requests of my shops (the queue)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted and wanted not in AfterSalesRequest.Status.values:
            raise DomainError("Unknown status.", field="status")
        return after_sales_for_merchant(user=self.request.user, status=wanted)


class MerchantAfterSalesApproveApi(_Merchant):
    @extend_schema(
        tags=TAG_MERCHANT,
        request=s.AfterSalesApproveInputSerializer,
        responses={200: s.AfterSalesOutputSerializer, 503: PROVIDER_UNAVAILABLE},
        summary="Approve a request: refund through the payment provider, optionally return the stock",
    )
    def post(self, request, request_id: int):
        data = s.AfterSalesApproveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        after_sales_approve(
            request_id=request_id,
            actor=request.user,
            shop_ids=managed_shop_ids(request.user),
            **data.validated_data,
        )
        return Response(
            s.AfterSalesOutputSerializer(after_sales_for_merchant(user=request.user).get(pk=request_id)).data
        )


class MerchantAfterSalesReturnReceivedApi(_Merchant):
    @extend_schema(
        tags=TAG_MERCHANT,
        request=s.ReturnReceivedInputSerializer,
        responses={200: s.AfterSalesOutputSerializer, 503: PROVIDER_UNAVAILABLE},
        summary="The returned goods arrived: refund, optionally returning the stock",
    )
    def post(self, request, request_id: int):
        data = s.ReturnReceivedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        after_sales_return_receive(
            request_id=request_id,
            actor=request.user,
            shop_ids=managed_shop_ids(request.user),
            **data.validated_data,
        )
        return Response(
            s.AfterSalesOutputSerializer(after_sales_for_merchant(user=request.user).get(pk=request_id)).data
        )


class MerchantAfterSalesRejectApi(_Merchant):
    @extend_schema(
        tags=TAG_MERCHANT,
        request=s.AfterSalesRejectInputSerializer,
        responses={200: s.AfterSalesOutputSerializer},
        summary="Reject a request with a note to the buyer",
    )
    def post(self, request, request_id: int):
        data = s.AfterSalesRejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        after_sales_reject(
            request_id=request_id,
            actor=request.user,
            shop_ids=managed_shop_ids(request.user),
            **data.validated_data,
        )
        return Response(
            s.AfterSalesOutputSerializer(after_sales_for_merchant(user=request.user).get(pk=request_id)).data
        )
