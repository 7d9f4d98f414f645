from django import forms

from pipeline.models import Stage


class DealMoveForm(forms.Form):
    """The board's per-card form; ``version`` makes a stale board page a 412."""

    stage = forms.ChoiceField(choices=Stage.choices, label="Move to")
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
