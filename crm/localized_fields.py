"""Form fields for numbers shown and typed in the reader's language.

A French admin sees an amount as ``18 000,00`` and may type it so (or
``18000,00``); an English one sees and types ``18,000.00``; both store the same
exact ``Decimal``. Django's ``localize=True`` would need
``USE_THOUSAND_SEPARATOR``, which groups every integer a template prints (ids in
links and ``hx-`` attributes, years) and, when parsing, drops a misplaced
separator silently; Babel's strict parser (``crm.formatting.parse_number``)
refuses ``1,5`` in English instead of reading fifteen.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm import formatting


class LocalizedDecimalInput(forms.TextInput):
    """A text input (a number input refuses ``18 000,00``) with a decimal keypad."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", **(attrs or {})})


class LocalizedDecimalField(forms.DecimalField):
    """A ``DecimalField`` written and read with the reader's grouping and sign.

    ``min_places`` is how many decimals are always shown (two for money); the
    others, up to ``decimal_places``, only when they are not zero, so a KPI
    target stored as ``0.2500`` reads ``0,25`` and a count ``12``.
    """

    widget = LocalizedDecimalInput
    default_error_messages = {
        "invalid": _("Enter a number as you would write it, for example %(example)s."),
    }

    def __init__(self, *, min_places: int | None = None, **kwargs):
        super().__init__(**kwargs)
        places = self.decimal_places or 0
        self.min_places = min(places, 2) if min_places is None else min_places

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal | int):
            return Decimal(value)
        try:
            return formatting.parse_number(str(value))
        except ValueError:
            example = formatting.number(Decimal("18000"), 2)
            raise ValidationError(
                self.error_messages["invalid"],
                code="invalid",
                params={"example": example},
            ) from None

    def prepare_value(self, value):
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            optional = max((self.decimal_places or 0) - self.min_places, 0)
            pattern = "#,##0" + (
                "." + "0" * self.min_places + "#" * optional
                if self.min_places or optional
                else ""
            )
            return formatting.number_pattern(value, pattern)
        return value
