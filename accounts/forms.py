"""Browser forms. They check shapes; the services check rules and do the writing."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Address
from accounts.signin import LockoutAwareAuthenticationMixin
from accounts.validators import normalize_phone, validate_cn_mobile


class PhoneField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("label", _("Phone number"))
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = normalize_phone(super().clean(value))
        if value:
            validate_cn_mobile(value)
        return value


class RegisterForm(forms.Form):
    phone = PhoneField()
    nickname = forms.CharField(label=_("Nickname"), max_length=40, required=False)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not only digits, not a common password."),
    )
    password_confirm = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        password, confirm = cleaned.get("password"), cleaned.get("password_confirm")
        if password and confirm and password != confirm:
            self.add_error("password_confirm", _("The two passwords differ."))
        return cleaned


class PhoneAuthenticationForm(LockoutAwareAuthenticationMixin, AuthenticationForm):
    """Django's sign-in form with the phone number normalised (spaces, dashes and +86 allowed)."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Phone number")
        self.fields["username"].widget.attrs.update({"type": "tel", "autocomplete": "tel"})

    def clean_username(self):
        return normalize_phone(self.cleaned_data.get("username", ""))


class ProfileForm(forms.Form):
    nickname = forms.CharField(label=_("Nickname"), max_length=40, required=False)
    email = forms.EmailField(
        label=_("E-mail"), required=False, help_text=_("Notifications are also sent here.")
    )
    avatar = forms.ImageField(label=_("Avatar"), required=False)


class AddressForm(forms.ModelForm):
    phone = PhoneField(label=_("Recipient's phone"))

    class Meta:
        model = Address
        fields = ["recipient_name", "phone", "province", "city", "district", "detail", "is_default"]
        labels = {"is_default": _("Use as default address")}


class FriendAddForm(forms.Form):
    phone = PhoneField(label=_("Friend's phone number"))
