"""Public landing pages of content offers: the inbound capture, without JavaScript."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.shortcuts import render as render_page
from django.utils import translation
from django.views.decorators.csrf import csrf_protect

from leads import consent as double_opt_in
from leads import services
from leads.forms import OfferCaptureForm
from leads.models import ConsentRecord, ContentOffer
from leads.views import CaptureThrottle, client_ip


def render(
    request: HttpRequest, template: str, context: dict | None = None, status=200
) -> HttpResponse:
    """Render a public page under the seller's name."""
    context = {**(context or {}), "seller": settings.CRM_SELLER_NAME}
    return render_page(request, template, context, status=status)


class _CaptureScope:
    """The throttle scope the capture API uses: one budget per address for both."""

    throttle_scope = "capture"


@csrf_protect
def offer_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Show an active offer in its own language (page, errors and e-mail)."""
    offer = get_object_or_404(ContentOffer, slug=slug, active=True)
    with translation.override(offer.language):
        response = _offer_page(request, offer)
    response["Content-Language"] = offer.language
    return response


def _offer_page(request: HttpRequest, offer: ContentOffer) -> HttpResponse:
    """Capture and thank on a valid post, else show the offer and its form."""
    form = OfferCaptureForm(request.POST or None)
    if request.method == "POST":
        throttle = CaptureThrottle()
        if not throttle.allow_request(request, _CaptureScope()):
            response = render(
                request, "leads/offer_throttled.html", {"offer": offer}, status=429
            )
            response["Retry-After"] = str(int(throttle.wait() or 60))
            return response
        if form.is_valid():
            data = form.cleaned_data
            if not data["website"]:  # a bot gets the same page, and nothing saved
                services.lead_capture(
                    offer=offer,
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    company=data["company"],
                    job_title=data["job_title"],
                    phone="",
                    consent=data["consent"],
                    ip_address=client_ip(request),
                    page_url=request.build_absolute_uri(),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            # Post/redirect/get: reloading the thank-you page re-sends nothing.
            return redirect("offers:offer-thanks", slug=offer.slug)
    return render(request, "leads/offer.html", {"offer": offer, "form": form})


def offer_thanks_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Thank the visitor and give them the content (nothing personal shown)."""
    offer = get_object_or_404(ContentOffer, slug=slug, active=True)
    # The redirect after the capture lands here: the offer's language again.
    with translation.override(offer.language):
        response = render(request, "leads/offer_thanks.html", {"offer": offer})
    response["Content-Language"] = offer.language
    return response


@csrf_protect
def consent_confirm_page(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm consent from the e-mailed link (double opt-in).

    Opening the link shows a button; only the POST confirms, so that a mail
    scanner that follows links cannot consent on the person's behalf. The page
    speaks the language of the e-mail that carried the link (its offer's), and
    shows the wording the person is agreeing to, as stored with the request.
    """
    consent_request = double_opt_in.signed_request(token)
    offer = consent_request.offer if consent_request else None
    language = offer.language if offer else translation.get_language()
    with translation.override(language):
        response = _consent_confirm_page(request, token, consent_request)
    response["Content-Language"] = language
    return response


def _consent_confirm_page(
    request: HttpRequest, token: str, consent_request: ConsentRecord | None
) -> HttpResponse:
    error = None
    if request.method == "POST":
        try:
            services.consent_confirm(token=token, ip_address=client_ip(request))
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return render(request, "leads/consent_confirmed.html")
    return render(
        request,
        "leads/consent_confirm.html",
        {"error": error, "wording": consent_request.text if consent_request else ""},
        status=400 if error else 200,
    )
