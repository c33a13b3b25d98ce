"""Browser pages: register, sign in/out, me, addresses, inbox, friends. Thin: forms in, services do."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import AddressForm, FriendAddForm, PhoneAuthenticationForm, ProfileForm, RegisterForm
from config.exceptions import DomainError, Forbidden, NotFound, form_error_from


def _domain_errors(redirect_to: str):
    """For page actions with no form: "not found" is a 404 and "forbidden" a 403 (revealing
    nothing), any other refusal is shown as a message on the page the user came back to."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except NotFound as error:
                raise Http404(str(error.message)) from error
            except Forbidden as error:
                raise PermissionDenied(str(error.message)) from error
            except DomainError as error:
                messages.error(request, str(error.message))
                return redirect(redirect_to)

        return wrapper

    return decorate


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default


def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:me")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                phone=form.cleaned_data["phone"],
                password=form.cleaned_data["password"],
                nickname=form.cleaned_data["nickname"],
            )
        except DomainError as error:
            form_error_from(form, error)
        else:
            # login() sends user_logged_in, as the sign-in page does (the cart listens to it).
            login(request, user, backend="accounts.backends.AccountBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect(_safe_next(request, reverse("accounts:me")))
    status = 400 if form.errors else 200
    context = {"form": form, "next": _safe_next(request, "")}
    return render(request, "accounts/register.html", context, status=status)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = PhoneAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


@login_required
def me(request):
    form = ProfileForm(
        request.POST or None,
        request.FILES or None,
        initial={"nickname": request.user.nickname, "email": request.user.email},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update_profile(
                user=request.user,
                nickname=form.cleaned_data["nickname"],
                email=form.cleaned_data["email"],
                avatar=form.cleaned_data["avatar"] or None,
            )
        except DomainError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Profile saved."))
            return redirect("accounts:me")
    context = {
        "form": form,
        "default_address": selectors.address_default(user=request.user),
        "friend_count": len(selectors.friend_ids(user=request.user)),
    }
    return render(request, "accounts/me.html", context, status=400 if form.errors else 200)


# --- Addresses ----------------------------------------------------------------------------------


@login_required
def address_list(request):
    addresses = selectors.address_list(user=request.user)
    return render(request, "accounts/address_list.html", {"addresses": addresses})


@login_required
def address_create(request):
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_create(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Address saved."))
            return redirect(_safe_next(request, reverse("accounts:addresses")))
    return render(request, "accounts/address_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@_domain_errors("accounts:addresses")
def address_edit(request, address_id: int):
    address = selectors.address_get(user=request.user, address_id=address_id)
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_update(user=request.user, address_id=address.pk, **form.cleaned_data)
        except DomainError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Address saved."))
            return redirect("accounts:addresses")
    return render(
        request,
        "accounts/address_form.html",
        {"form": form, "address": address},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
@_domain_errors("accounts:addresses")
def address_delete(request, address_id: int):
    services.address_delete(user=request.user, address_id=address_id)
    messages.success(request, _("Address deleted."))
    return redirect("accounts:addresses")


@login_required
@require_POST
@_domain_errors("accounts:addresses")
def address_set_default(request, address_id: int):
    services.address_set_default(user=request.user, address_id=address_id)
    return redirect("accounts:addresses")


# --- Inbox --------------------------------------------------------------------------------------


@login_required
def inbox(request):
    page = Paginator(selectors.notification_list(user=request.user), 20).get_page(request.GET.get("page"))
    return render(request, "accounts/inbox.html", {"page": page})


@login_required
@require_POST
@_domain_errors("accounts:inbox")
def notification_open(request, notification_id: int):
    """Mark read, then follow the notification's link when it stays on this site."""
    notification = services.notification_mark_read(user=request.user, notification_id=notification_id)
    target = notification.url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("accounts:inbox")


@login_required
@require_POST
def notification_mark_all_read(request):
    count = services.notification_mark_all_read(user=request.user)
    if count:
        messages.success(request, _("All notifications marked read."))
    return redirect("accounts:inbox")


# --- Friends ------------------------------------------------------------------------------------


@login_required
def friends(request):
    form = FriendAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            friend_request = services.friend_request_send(
                from_user=request.user, phone=form.cleaned_data["phone"]
            )
        except DomainError as error:
            form_error_from(form, error)
        else:
            if friend_request.status == friend_request.Status.ACCEPTED:
                messages.success(request, _("You are now friends."))
            else:
                messages.success(request, _("Friend request sent."))
            return redirect("accounts:friends")
    context = {
        "form": form,
        "friends": selectors.friend_list(user=request.user),
        "incoming": selectors.friend_requests_incoming(user=request.user),
        "outgoing": selectors.friend_requests_outgoing(user=request.user),
    }
    return render(request, "accounts/friends.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
@_domain_errors("accounts:friends")
def friend_request_accept(request, request_id: int):
    services.friend_request_accept(user=request.user, request_id=request_id)
    messages.success(request, _("You are now friends."))
    return redirect("accounts:friends")


@login_required
@require_POST
@_domain_errors("accounts:friends")
def friend_request_decline(request, request_id: int):
    services.friend_request_decline(user=request.user, request_id=request_id)
    return redirect("accounts:friends")


@login_required
@require_POST
@_domain_errors("accounts:friends")
def friend_remove(request, user_id: int):
    services.friendship_remove(user=request.user, friend_id=user_id)
    messages.success(request, _("Friend removed."))
    return redirect("accounts:friends")
