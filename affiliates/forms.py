from django import forms
from django.utils.translation import gettext_lazy as _

from affiliates.models import Promoter, Scene


class ApplyForm(forms.Form):
    role = forms.ChoiceField(label=_("I want to be"), choices=Promoter.Role.choices)
    display_name = forms.CharField(label=_("Display name"), max_length=40)
    real_name = forms.CharField(label=_("Real name"), max_length=40)
    id_number = forms.CharField(label=_("ID card number"), max_length=18, min_length=18)
    bio = forms.CharField(label=_("Introduction"), max_length=200, required=False)


class PoolFilterForm(forms.Form):
    category = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    rate_min = forms.DecimalField(
        label=_("Rate at least (%)"), required=False, min_value=0, max_value=90, decimal_places=2
    )
    price_min = forms.DecimalField(label=_("Price from (¥)"), required=False, min_value=0, decimal_places=2)
    price_max = forms.DecimalField(label=_("Price to (¥)"), required=False, min_value=0, decimal_places=2)
    ordering = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("sales", _("Sales")),
            ("rate", _("Rate")),
            ("price", _("Price, low first")),
            ("-price", _("Price, high first")),
            ("newest", _("Newest")),
        ],
    )


class LinkForm(forms.Form):
    scene = forms.ChoiceField(label=_("Scene"), choices=Scene.choices)
    product_id = forms.TypedChoiceField(
        label=_("What it sells"), coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product_id"].choices = [("", _("The whole showcase"))] + [
            (p.pk, p.title) for p in products
        ]


class ChildLinkForm(forms.Form):
    """A 推客's link: from a creator's link code, or (when a merchant's exclusive plan names this
    推客) for one of those products directly."""

    parent_code = forms.CharField(label=_("Creator's link code"), max_length=16, required=False)
    product_id = forms.TypedChoiceField(
        label=_("Or a product offered to you alone"), coerce=int, empty_value=None, required=False
    )
    scene = forms.ChoiceField(label=_("Scene"), choices=Scene.choices)

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product_id"].choices = [("", "—")] + [(p.pk, p.title) for p in products]
        if not products:
            del self.fields["product_id"]

    def clean(self):
        data = super().clean()
        if not data.get("parent_code") and not data.get("product_id"):
            raise forms.ValidationError(_("Enter a creator's link code."))
        return data


class JoinForm(forms.Form):
    invitation_code = forms.CharField(label=_("Invitation code"), max_length=16)


class ShareForm(forms.Form):
    share_percent = forms.DecimalField(
        label=_("推客 share (%)"), min_value=10, max_value=100, decimal_places=2
    )
