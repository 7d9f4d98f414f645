from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import CONSENT_TEXT


class OfferCaptureForm(forms.Form):
    """The form of a content offer's landing page (what the capture API takes)."""

    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Work e-mail"), max_length=254)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    job_title = forms.CharField(label=_("Job title"), max_length=120, required=False)
    consent = forms.BooleanField(
        label=CONSENT_TEXT,
        help_text=_("We will e-mail you a link to confirm."),
        required=False,
    )
    # Honeypot: hidden from people (and assistive technology), filled by bots.
    website = forms.CharField(required=False, label=_("Leave this field empty"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        autocomplete = {
            "first_name": "given-name",
            "last_name": "family-name",
            "email": "email",
            "company": "organization",
            "job_title": "organization-title",
        }
        for name, token in autocomplete.items():
            self.fields[name].widget.attrs["autocomplete"] = token
        self.fields["website"].widget.attrs.update(
            {"tabindex": "-1", "autocomplete": "off"}
        )
