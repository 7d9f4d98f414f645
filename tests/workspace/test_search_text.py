"""The search documents (``search_text``) follow every way a record is written,
so the global search finds a record by what it says now."""

import io

import pytest

from crm import services as crm_services
from leads import services as lead_services
from leads.importing import ImportMode, leads_import
from leads.models import Lead
from pipeline import services
from tests.factories import CompanyFactory, LeadFactory
from workspace.search import search

pytestmark = pytest.mark.django_db


def test_a_created_lead_is_found_by_each_searched_field(rep):
    lead = lead_services.lead_create(
        by=rep,
        first_name="Grace",
        last_name="Hopper",
        email="grace@navy.example",
        company_name="Navy Labs",
    )

    assert Lead.objects.get(pk=lead.pk).search_text == (
        "Grace Hopper grace@navy.example Navy Labs"
    )
    for words in ("grace", "hopper", "navy.example", "navy labs"):
        assert search(user=rep, query=words).leads == [lead], words


def test_an_updated_lead_is_found_by_its_new_name_only(rep):
    lead = LeadFactory(owner=rep, first_name="Grace", last_name="Hopper")

    lead_services.lead_update(lead=lead, by=rep, last_name="Brewster")

    assert search(user=rep, query="brewster").leads == [lead]
    assert search(user=rep, query="hopper").leads == []


def test_a_captured_lead_is_found(rep, captured_lead):
    lead = captured_lead(email="ada@analytical.example", last_name="Lovelace")

    assert search(user=rep, query="lovelace").leads == [lead]
    assert search(user=rep, query="analytical").leads == [lead]


def test_imported_and_merged_leads_are_found_by_what_the_import_wrote(rep):
    known = LeadFactory(owner=rep, email="ada@x.example", last_name="", company_name="")
    text = (
        "first_name,last_name,email,company_name,owner\n"
        f"Grace,Hopper,grace@x.example,Navy Labs,{rep.username}\n"
        f"Ada,Lovelace,ada@x.example,Engines Ltd,{rep.username}\n"
    )

    report = leads_import(file=io.StringIO(text), by=rep, mode=ImportMode.KEEP_VALID)

    assert (report.created, report.merged) == (1, 1)
    created = Lead.objects.get(email="grace@x.example")
    assert search(user=rep, query="hopper navy").leads == [created]
    # The merge filled the known lead's blank last name and company.
    assert search(user=rep, query="lovelace engines").leads == [known]


def test_a_converted_leads_company_contact_and_deal_are_found(rep):
    lead = LeadFactory(
        status="qualified",
        owner=rep,
        email="jane.doe@initech.example",
        first_name="Jane",
        last_name="Doe",
        company_name="Initech",
    )

    deal = services.lead_convert(lead=lead, by=rep, title="Initech rollout")

    found = search(user=rep, query="initech")
    assert found.companies == [deal.company]
    assert found.contacts == [deal.contact]
    assert found.deals == [deal]
    # A deal is also found by its contact's name, a contact by its company's.
    assert search(user=rep, query="jane doe").deals == [deal]


def test_a_renamed_company_is_found_by_its_new_name_with_its_deals(rep, make_deal):
    company = CompanyFactory(name="Initech", domain="initech.example", owner=rep)
    deal = make_deal(rep, title="Rollout", company=company)

    crm_services.company_update(company=company, changes={"name": "Initrode"})

    found = search(user=rep, query="initrode")
    assert found.companies == [company]
    assert found.deals == [deal]
    assert search(user=rep, query="initech rollout").deals == [deal]  # the domain
    assert search(user=rep, query="initech").companies == [company]
