from django import forms
from django.utils.translation import gettext_lazy as _


class WithdrawalForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount (¥)"), min_value=0, max_digits=12, decimal_places=2)

    def amount_fen(self) -> int:
        return int(self.cleaned_data["amount"] * 100)
