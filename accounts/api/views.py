"""/api/v1/ endpoints of the accounts app: one view per operation, each calling a service.

Auth is by session (browser, with CSRF) or by `Authorization: Token <key>` from POST auth/token/.
Other users' addresses, requests and notifications answer 404, never 403, so ids reveal nothing.
"""

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api import serializers as s

TAG_AUTH = ["auth"]
TAG_ME = ["me"]
TAG_ADDRESSES = ["addresses"]
TAG_FRIENDS = ["friends"]
TAG_NOTIFICATIONS = ["notifications"]

_no_body = OpenApiResponse(description="Done; no body.")


class _SignedIn(APIView):
    permission_classes = [IsAuthenticated]


# --- Auth ---------------------------------------------------------------------------------------


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    @extend_schema(
        tags=TAG_AUTH,
        request=s.RegisterInputSerializer,
        responses={201: s.RegisterOutputSerializer},
        summary="Create an account; answers with the user and an API token",
    )
    def post(self, request):
        data = s.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        token, _created = Token.objects.get_or_create(user=user)
        body = s.RegisterOutputSerializer({"user": user, "token": token.key}, context={"request": request})
        return Response(body.data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(
        tags=TAG_AUTH,
        request=s.TokenInputSerializer,
        responses={200: s.TokenOutputSerializer},
        summary="Exchange phone and password for an API token (the same token on every call)",
    )
    def post(self, request):
        data = s.TokenInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        token, _created = Token.objects.get_or_create(user=data.validated_data["user"])
        return Response(s.TokenOutputSerializer({"token": token.key}).data)


class LogoutApi(_SignedIn):
    @extend_schema(
        tags=TAG_AUTH,
        request=None,
        responses={204: _no_body},
        summary="Delete the API token and end the session",
    )
    def post(self, request):
        Token.objects.filter(user=request.user).delete()
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Me -----------------------------------------------------------------------------------------


class MeApi(_SignedIn):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(tags=TAG_ME, responses={200: s.MeOutputSerializer}, summary="The signed-in user")
    def get(self, request):
        return Response(s.MeOutputSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        tags=TAG_ME,
        request=s.MeUpdateInputSerializer,
        responses={200: s.MeOutputSerializer},
        summary="Change nickname, e-mail or avatar",
    )
    def patch(self, request):
        data = s.MeUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request.user, **data.validated_data)
        return Response(s.MeOutputSerializer(user, context={"request": request}).data)


# --- Addresses ----------------------------------------------------------------------------------


class AddressListCreateApi(_SignedIn):
    @extend_schema(
        tags=TAG_ADDRESSES,
        responses={200: s.AddressOutputSerializer(many=True)},
        summary="My addresses, the default first",
    )
    def get(self, request):
        addresses = selectors.address_list(user=request.user)
        return Response(s.AddressOutputSerializer(addresses, many=True).data)

    @extend_schema(
        tags=TAG_ADDRESSES,
        request=s.AddressInputSerializer,
        responses={201: s.AddressOutputSerializer},
        summary="Add an address (the first one becomes the default)",
    )
    def post(self, request):
        data = s.AddressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.address_create(user=request.user, **data.validated_data)
        return Response(s.AddressOutputSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(_SignedIn):
    @extend_schema(
        tags=TAG_ADDRESSES, responses={200: s.AddressOutputSerializer}, summary="One of my addresses"
    )
    def get(self, request, address_id: int):
        address = selectors.address_get(user=request.user, address_id=address_id)
        return Response(s.AddressOutputSerializer(address).data)

    @extend_schema(
        tags=TAG_ADDRESSES,
        request=s.AddressInputSerializer(partial=True),
        responses={200: s.AddressOutputSerializer},
        summary="Change some fields of one of my addresses",
    )
    def patch(self, request, address_id: int):
        data = s.AddressInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = {name: value for name, value in data.validated_data.items() if name in request.data}
        address = services.address_update(user=request.user, address_id=address_id, **fields)
        return Response(s.AddressOutputSerializer(address).data)

    @extend_schema(tags=TAG_ADDRESSES, responses={204: _no_body}, summary="Delete one of my addresses")
    def delete(self, request, address_id: int):
        services.address_delete(user=request.user, address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressSetDefaultApi(_SignedIn):
    @extend_schema(
        tags=TAG_ADDRESSES,
        request=None,
        responses={200: s.AddressOutputSerializer},
        summary="Make it my default",
    )
    def post(self, request, address_id: int):
        address = services.address_set_default(user=request.user, address_id=address_id)
        return Response(s.AddressOutputSerializer(address).data)


# --- Friends ------------------------------------------------------------------------------------


class FriendListApi(_SignedIn):
    @extend_schema(tags=TAG_FRIENDS, responses={200: s.UserBriefSerializer(many=True)}, summary="My friends")
    def get(self, request):
        return Response(s.UserBriefSerializer(selectors.friend_list(user=request.user), many=True).data)


class FriendRemoveApi(_SignedIn):
    @extend_schema(
        tags=TAG_FRIENDS, responses={204: _no_body}, summary="End a friendship (both sides); repeats are fine"
    )
    def delete(self, request, user_id: int):
        services.friendship_remove(user=request.user, friend_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendRequestListCreateApi(_SignedIn):
    @extend_schema(
        tags=TAG_FRIENDS,
        responses={200: s.FriendRequestListOutputSerializer},
        summary="Pending friend requests, to me and from me",
    )
    def get(self, request):
        body = {
            "incoming": selectors.friend_requests_incoming(user=request.user).select_related("to_user"),
            "outgoing": selectors.friend_requests_outgoing(user=request.user).select_related("from_user"),
        }
        return Response(s.FriendRequestListOutputSerializer(body).data)

    @extend_schema(
        tags=TAG_FRIENDS,
        request=s.FriendRequestInputSerializer,
        responses={201: s.FriendRequestOutputSerializer},
        summary="Ask someone, by phone number, to be friends",
        description="If they had already asked you, this accepts their request (status `accepted`).",
    )
    def post(self, request):
        data = s.FriendRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        friend_request = services.friend_request_send(
            from_user=request.user, phone=data.validated_data["phone"]
        )
        return Response(s.FriendRequestOutputSerializer(friend_request).data, status=status.HTTP_201_CREATED)


class FriendRequestAcceptApi(_SignedIn):
    @extend_schema(
        tags=TAG_FRIENDS, request=None, responses={200: s.FriendRequestOutputSerializer}, summary="Accept"
    )
    def post(self, request, request_id: int):
        friend_request = services.friend_request_accept(user=request.user, request_id=request_id)
        return Response(s.FriendRequestOutputSerializer(friend_request).data)


class FriendRequestDeclineApi(_SignedIn):
    @extend_schema(
        tags=TAG_FRIENDS, request=None, responses={200: s.FriendRequestOutputSerializer}, summary="Decline"
    )
    def post(self, request, request_id: int):
        friend_request = services.friend_request_decline(user=request.user, request_id=request_id)
        return Response(s.FriendRequestOutputSerializer(friend_request).data)


# --- Notifications ------------------------------------------------------------------------------


@extend_schema(tags=TAG_NOTIFICATIONS, summary="My inbox, newest first (paginated)")
class NotificationListApi(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.NotificationOutputSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.notification_list(user=self.request.user)


class NotificationUnreadCountApi(_SignedIn):
    @extend_schema(
        tags=TAG_NOTIFICATIONS, responses={200: s.UnreadCountOutputSerializer}, summary="How many are unread"
    )
    def get(self, request):
        return Response({"unread": selectors.notification_unread_count(user=request.user)})


class NotificationMarkReadApi(_SignedIn):
    @extend_schema(
        tags=TAG_NOTIFICATIONS,
        request=None,
        responses={200: s.NotificationOutputSerializer},
        summary="Mark one read (the first read time is kept)",
    )
    def post(self, request, notification_id: int):
        notification = services.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response(s.NotificationOutputSerializer(notification).data)


class NotificationMarkAllReadApi(_SignedIn):
    @extend_schema(
        tags=TAG_NOTIFICATIONS,
        request=None,
        responses={200: s.MarkAllReadOutputSerializer},
        summary="Mark every unread notification read",
    )
    def post(self, request):
        return Response({"marked": services.notification_mark_all_read(user=request.user)})
