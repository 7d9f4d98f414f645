from django import forms
from django.utils.translation import gettext_lazy as _

from pipeline.models import Stage


class DealMoveForm(forms.Form):
    """The board's per-card form; ``version`` makes a stale board page a 412."""

    stage = forms.ChoiceField(choices=Stage.choices, label=_("Move to"))
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
