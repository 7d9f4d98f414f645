import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError

from crm.errors import Conflict
from crm.models import Company, Contact
from leads.models import Lead
from pipeline import services
from pipeline.models import Deal, StageChange
from tests.factories import CompanyFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def qualified(rep):
    return LeadFactory(
        status="qualified",
        owner=rep,
        email="Jane.Doe@Initech.example",
        first_name="Jane",
        last_name="Doe",
        company_name="Initech",
        channel="inbound",
    )


def test_qualified_lead_converts_into_contact_company_and_deal(rep, qualified):
    deal = services.lead_convert(lead=qualified, by=rep, amount=1200)
    qualified.refresh_from_db()
    assert (qualified.status, qualified.converted_at is not None) == ("converted", True)
    assert (deal.owner, deal.lead, deal.channel, deal.stage) == (
        rep,
        qualified,
        "inbound",
        "presentation",
    )
    assert deal.company.domain == "initech.example"
    assert deal.company.name == "Initech"
    assert deal.contact.email == "jane.doe@initech.example"
    assert deal.contact.company == deal.company
    assert list(
        StageChange.objects.filter(deal=deal).values_list("to_stage", flat=True)
    ) == ["presentation"]


def test_conversion_reuses_contact_by_email_and_company_by_domain(rep, qualified):
    company = CompanyFactory(domain="INITECH.example", name="Initech Corp")
    contact = ContactFactory(email="jane.doe@initech.example", company=company)
    deal = services.lead_convert(lead=qualified, by=rep)
    assert (deal.company, deal.contact) == (company, contact)
    assert (Company.objects.count(), Contact.objects.count()) == (1, 1)


def test_free_mail_lead_finds_its_company_by_name(rep):
    company = CompanyFactory(name="Umbrella", domain="umbrella.example")
    lead = LeadFactory(
        status="qualified", owner=rep, email="joe@gmail.com", company_name="umbrella"
    )
    deal = services.lead_convert(lead=lead, by=rep)
    assert deal.company == company
    assert not Company.objects.filter(domain="gmail.com").exists()


def test_converting_twice_is_refused(rep, qualified):
    services.lead_convert(lead=qualified, by=rep)
    with pytest.raises(ValidationError):  # for good: not a 409
        services.lead_convert(lead=qualified, by=rep)
    assert Deal.objects.count() == 1


@pytest.mark.parametrize("status", ["prospect", "lead", "disqualified"])
def test_only_a_qualified_lead_converts(rep, status):
    lead = LeadFactory(status=status, owner=rep)
    with pytest.raises(Conflict):
        services.lead_convert(lead=lead, by=rep)
    assert (Deal.objects.count(), Contact.objects.count()) == (0, 0)


def test_failure_in_the_middle_leaves_nothing_behind(rep, qualified, monkeypatch):
    def broken_deal_create(**kwargs):
        raise IntegrityError("simulated failure while creating the deal")

    monkeypatch.setattr(services, "deal_create", broken_deal_create)
    with pytest.raises(IntegrityError):
        services.lead_convert(lead=qualified, by=rep)
    assert (Company.objects.count(), Contact.objects.count(), Deal.objects.count()) == (
        0,
        0,
        0,
    )
    assert Lead.objects.get(pk=qualified.pk).status == "qualified"


def test_convert_endpoint_returns_the_deal(api_as, rep, qualified):
    response = api_as(rep).post(
        f"/api/v1/leads/{qualified.pk}/convert/",
        {"title": "Initech rollout", "amount": "9000.00", "stage": "consideration"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["title"], body["amount"], body["stage"], body["lead"]) == (
        "Initech rollout",
        "9000.00",
        "consideration",
        qualified.pk,
    )
    assert response["ETag"] == '"1"'
    assert response["Location"] == f"http://testserver/api/v1/deals/{body['id']}/"


def test_convert_endpoint_answers_400_twice_and_404_outside_scope(
    api_as, rep, other_rep, qualified
):
    path = f"/api/v1/leads/{qualified.pk}/convert/"
    assert api_as(other_rep).post(path).status_code == 404
    assert api_as(rep).post(path).status_code == 201
    again = api_as(rep).post(path)
    assert again.status_code == 400  # converted for good: no retry can succeed
    error = again.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("status", "invalid")


def test_convert_endpoint_refuses_a_negative_amount(api_as, rep, qualified):
    response = api_as(rep).post(
        f"/api/v1/leads/{qualified.pk}/convert/", {"amount": "-1"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "amount"


def test_conversion_links_another_reps_contact_without_editing_it(
    rep, foreign_rep, qualified
):
    # given a contact of another team's rep, with the lead's e-mail and no company
    theirs = ContactFactory(
        owner=foreign_rep, company=None, email="jane.doe@initech.example"
    )
    before = Contact.objects.values().get(pk=theirs.pk)

    deal = services.lead_convert(lead=qualified, by=rep)

    # then the deal links to it, and the contact is exactly as its owner left it
    assert deal.contact_id == theirs.pk
    assert deal.company.name == "Initech"
    assert Contact.objects.values().get(pk=theirs.pk) == before


def test_conversion_links_another_reps_company_without_editing_it(
    rep, foreign_rep, qualified
):
    company = CompanyFactory(owner=foreign_rep, domain="initech.example", name="I")
    before = Company.objects.values().get(pk=company.pk)

    deal = services.lead_convert(lead=qualified, by=rep)

    assert deal.company_id == company.pk
    assert deal.contact.owner == rep
    assert Company.objects.values().get(pk=company.pk) == before


def test_conversion_refuses_a_lead_outside_the_converters_scope(other_rep, qualified):
    with pytest.raises(PermissionDenied):
        services.lead_convert(lead=qualified, by=other_rep)
    assert not Deal.objects.filter(lead=qualified).exists()
