"""Domain errors reach forms through one helper, whether they name one field or several."""

from django import forms

from accounts.errors import InvalidInput
from config.exceptions import DomainError, form_error_from


class _Form(forms.Form):
    phone = forms.CharField(required=False)
    password = forms.CharField(required=False)


def _bound_form() -> _Form:
    form = _Form(data={})
    form.is_valid()
    return form


def test_an_error_naming_one_field_lands_on_it_and_an_unknown_field_on_the_form():
    form = _bound_form()
    form_error_from(form, DomainError("taken", field="phone"))
    form_error_from(form, DomainError("refused", field="not_on_this_form"))
    assert form.errors["phone"] == ["taken"]
    assert form.non_field_errors() == ["refused"]


def test_an_error_about_several_fields_shows_every_message():
    form = _bound_form()
    form_error_from(
        form,
        InvalidInput(
            {"phone": ["bad phone"], "password": ["too short", "too common"], "__all__": ["try again"]}
        ),
    )
    assert form.errors["phone"] == ["bad phone"]
    assert form.errors["password"] == ["too short", "too common"]
    assert form.non_field_errors() == ["try again"]
