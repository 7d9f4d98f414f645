"""The double opt-in e-mail is a job: a mail server that is down never fails
the capture, the job retries, a consent request is mailed once at most, in the
offer's language, and a job that gives up shows in the admin's task results."""

import datetime
import re
from smtplib import SMTPServerDisconnected

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django_celery_results.models import TaskResult
from rest_framework.test import APIClient

from leads import tasks
from leads.models import ConsentEmail, ConsentRecord, Lead
from tests.factories import ContentOfferFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)
CAPTURE = {
    "offer": "playbook",
    "first_name": "Ana",
    "last_name": "Lima",
    "email": "ana@corp.example",
    "company": "Corp",
    "job_title": "CFO",
    "phone": "",
    "consent": True,
}


class FlakyServer(BaseEmailBackend):
    """A mail server down for the first ``down_for`` sendings, then up."""

    down_for = 0
    calls = 0

    def send_messages(self, messages):
        FlakyServer.calls += 1
        if FlakyServer.calls <= FlakyServer.down_for:
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def server(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyServer"
    FlakyServer.calls, FlakyServer.down_for = 0, 0
    return FlakyServer


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def offer(team, rep):
    team.handles_inbound = True
    team.save()
    return ContentOfferFactory(slug="playbook", title="Sales playbook")


@pytest.mark.django_db(transaction=True)
def test_a_capture_answers_201_while_the_mail_server_is_down(server, offer):
    # A transactional test: the e-mail's job is queued on commit inside the
    # request, as in production, not after the test's transaction.
    server.down_for = 100

    response = APIClient().post("/api/v1/capture/", CAPTURE, format="json")

    assert response.status_code == 201
    lead = Lead.objects.get(email="ana@corp.example")
    assert lead.consent_records.get().action == "requested"
    # The first run and every retry met the server down (eager in tests).
    assert server.calls == tasks.CONSENT_EMAIL_RETRIES + 1
    assert not ConsentEmail.objects.exists()
    failed = TaskResult.objects.get(task_name="leads.tasks.send_consent_email")
    assert failed.status == "FAILURE"
    assert "SMTPServerDisconnected" in failed.result


@pytest.mark.django_db(transaction=True)
def test_the_offer_page_thanks_the_visitor_while_the_mail_server_is_down(server, offer):
    server.down_for = 100
    form = {**CAPTURE, "consent": "on"}
    del form["offer"], form["phone"]

    response = Client().post("/offers/playbook/", form)

    assert response.status_code == 302
    assert response["Location"] == "/offers/playbook/thanks/"
    assert Lead.objects.filter(email="ana@corp.example").exists()


def test_a_job_that_gives_up_is_listed_in_the_admins_task_results(
    server, offer, admin_user, anon_api, django_capture_on_commit_callbacks
):
    server.down_for = 100
    with django_capture_on_commit_callbacks(execute=True):
        anon_api.post("/api/v1/capture/", CAPTURE, format="json")
    failed = TaskResult.objects.get(task_name="leads.tasks.send_consent_email")

    admin = Client()
    admin.force_login(admin_user)
    page = admin.get("/admin/django_celery_results/taskresult/?status__exact=FAILURE")

    assert failed.task_id in page.content.decode()


def test_the_job_retries_until_the_server_answers_and_mails_once(
    server, offer, anon_api, django_capture_on_commit_callbacks
):
    server.down_for = 2

    with django_capture_on_commit_callbacks(execute=True):
        response = anon_api.post("/api/v1/capture/", CAPTURE, format="json")

    assert response.status_code == 201
    assert server.calls == 3  # two refusals, then the sending
    (message,) = mail.outbox
    assert message.to == ["ana@corp.example"]
    sent = ConsentEmail.objects.get()
    assert (sent.request.action, sent.sent_at) == ("requested", NOW)


def test_a_second_run_of_the_job_sends_nothing(
    server, offer, anon_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        anon_api.post("/api/v1/capture/", CAPTURE, format="json")
    request = ConsentRecord.objects.get()

    again = tasks.send_consent_email.apply(args=[request.pk])

    assert again.result is False
    assert len(mail.outbox) == 1
    assert ConsentEmail.objects.count() == 1


@pytest.mark.parametrize(
    ("offer_language", "reader", "subject", "opening"),
    [
        (
            "fr",
            "en",
            "Merci de confirmer que nous pouvons vous contacter",
            "Vous avez demandé «\xa0Sales playbook\xa0»",
        ),
        (
            "en",
            "fr",
            "Please confirm that we may contact you",
            "You asked for “Sales playbook”",
        ),
    ],
)
def test_the_email_speaks_the_offers_language_not_the_visitors(
    server,
    offer,
    anon_api,
    django_capture_on_commit_callbacks,
    offer_language,
    reader,
    subject,
    opening,
):
    offer.language = offer_language
    offer.save()

    with django_capture_on_commit_callbacks(execute=True):
        anon_api.post(
            "/api/v1/capture/", CAPTURE, format="json", HTTP_ACCEPT_LANGUAGE=reader
        )

    (message,) = mail.outbox
    assert message.subject == subject
    assert message.body.startswith(opening)
    assert re.search(r"/offers/consent/\S+/", message.body)
    assert ConsentEmail.objects.get().language == offer_language


def test_the_sweep_queues_the_requests_left_unsent(
    server, offer, anon_api, django_capture_on_commit_callbacks
):
    server.down_for = 100
    with django_capture_on_commit_callbacks(execute=True):
        anon_api.post("/api/v1/capture/", CAPTURE, format="json")
    server.down_for = 0

    # Too early: the job of the capture may still be retrying.
    assert tasks.send_pending_consent_emails.apply().result == 0
    with time_machine.travel(NOW + datetime.timedelta(minutes=20), tick=False):
        queued = tasks.send_pending_consent_emails.apply().result
        again = tasks.send_pending_consent_emails.apply().result

    assert (queued, again) == (1, 0)  # sent by the first sweep
    (message,) = mail.outbox
    assert message.to == ["ana@corp.example"]


def test_the_confirmation_page_speaks_the_emails_language(
    server, offer, anon_api, django_capture_on_commit_callbacks
):
    offer.language = "fr"
    offer.save()
    with django_capture_on_commit_callbacks(execute=True):
        anon_api.post("/api/v1/capture/", CAPTURE, format="json")
    link = re.search(r"http://\S+(/offers/consent/\S+/)", mail.outbox[0].body)

    page = Client(HTTP_ACCEPT_LANGUAGE="en").get(link.group(1))

    assert page["Content-Language"] == "fr"
    assert "Confirmer" in page.content.decode()


@pytest.mark.parametrize(
    ("offer_language", "reader", "wording"),
    [
        (
            "fr",
            "en",
            "Vous pouvez me contacter au sujet de ce contenu et d\u2019offres liées.",
        ),
        ("en", "fr", "You may contact me about this content and related offers."),
    ],
)
def test_the_consent_stored_from_the_api_is_worded_in_the_offers_language(
    server,
    offer,
    anon_api,
    django_capture_on_commit_callbacks,
    offer_language,
    reader,
    wording,
):
    # The person agreed to the offer's wording (its page, its e-mail), not to
    # the wording of the language the integration posting the capture reads.
    offer.language = offer_language
    offer.save()
    with django_capture_on_commit_callbacks(execute=True):
        anon_api.post(
            "/api/v1/capture/", CAPTURE, format="json", HTTP_ACCEPT_LANGUAGE=reader
        )
    link = re.search(r"http://\S+(/offers/consent/\S+/)", mail.outbox[0].body)

    page = Client(HTTP_ACCEPT_LANGUAGE=reader).get(link.group(1))
    Client(HTTP_ACCEPT_LANGUAGE=reader).post(link.group(1))

    request, given = ConsentRecord.objects.order_by("pk")
    assert request.text == given.text == wording  # the evidence, as confirmed
    assert wording in mail.outbox[0].body
    assert wording in page.content.decode()  # shown before confirming
