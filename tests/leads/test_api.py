import pytest

from leads.models import Lead, Qualification
from tests.factories import ContentOfferFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
BANT = {"budget": True, "authority": True, "need": False, "timeline": False}

LEAD_FIELDS = {
    "id",
    "version",
    "status",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "company_name",
    "channel",
    "source",
    "offer",
    "owner",
    "score",
    "deal",
    "consent",
    "became_lead_at",
    "qualified_at",
    "disqualified_at",
    "converted_at",
    "created_at",
    "updated_at",
}


def _errors(response):
    return {e["attr"]: e["detail"] for e in response.json()["errors"]}


def _ids(response):
    return {row["id"] for row in response.json()["results"]}


def test_lead_fields_are_the_contract(api_as, rep):
    lead = LeadFactory(owner=rep)
    data = api_as(rep).get(f"{LEADS}{lead.pk}/").json()
    assert set(data) == LEAD_FIELDS
    assert data["deal"] is None


def test_deal_is_the_id_of_the_converted_deal(api_as, rep):
    lead = LeadFactory(owner=rep, status="converted")
    deal = DealFactory(owner=rep, lead=lead)
    assert api_as(rep).get(f"{LEADS}{lead.pk}/").json()["deal"] == deal.pk


def test_create_makes_a_lead_owned_by_the_caller(api_as, rep):
    response = api_as(rep).post(
        LEADS,
        {
            "first_name": "Ana",
            "email": "ana@x.example",
            "channel": "outbound",
            "source": "cold_call",
            "status": "lead",
            "score": 99,
        },
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["status"], data["owner"], data["score"]) == ("lead", rep.pk, None)
    assert data["became_lead_at"] is not None


def test_the_create_answer_is_the_record_as_a_read_shows_it(api_as, rep):
    # The answer is drawn by the serializer that validated the input (where
    # status and consent are writable), not by a second one: it must still
    # be the record exactly as a GET shows it, with the same ETag.
    api = api_as(rep)
    created = api.post(
        LEADS,
        {
            "first_name": "Ana",
            "email": "ana@x.example",
            "channel": "inbound",
            "source": "website_form",
            "consent": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    read = api.get(created["Location"])
    assert created.json() == read.json()
    assert created["ETag"] == read["ETag"]


def test_create_with_status_prospect_makes_a_prospect(api_as, rep):
    response = api_as(rep).post(
        LEADS,
        {
            "email": "p@x.example",
            "channel": "outbound",
            "source": "prospect_list",
            "status": "prospect",
        },
    )
    assert response.json()["status"] == "prospect"
    assert response.json()["became_lead_at"] is None


def test_create_with_status_qualified_is_refused(api_as, rep):
    response = api_as(rep).post(
        LEADS,
        {
            "email": "q@x.example",
            "channel": "outbound",
            "source": "event",
            "status": "qualified",
        },
    )
    assert response.status_code == 400
    assert "status" in _errors(response)


def test_rep_cannot_create_a_lead_for_another_rep(api_as, rep, other_rep):
    response = api_as(rep).post(
        LEADS,
        {
            "email": "a@x.example",
            "channel": "outbound",
            "source": "event",
            "owner": other_rep.pk,
        },
    )
    assert response.status_code == 400
    assert "owner" in _errors(response)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"channel": "sideways"}, "channel"),
        ({"source": "rumour"}, "source"),
        ({"offer": 999999}, "offer"),
        ({"owner": "x"}, "owner"),
        ({"phone": "1" * 41}, "phone"),
    ],
)
def test_bad_lead_input_is_a_400_per_field(api_as, rep, payload, field):
    body = {"email": "ok@x.example", "channel": "inbound", "source": "event"}
    response = api_as(rep).post(LEADS, {**body, **payload})
    assert response.status_code == 400
    assert field in _errors(response)


def test_duplicate_email_in_another_case_is_a_400(api_as, rep, foreign_rep):
    LeadFactory(owner=foreign_rep, email="dup@x.example")
    response = api_as(rep).post(
        LEADS, {"email": "DUP@x.example", "channel": "inbound", "source": "event"}
    )
    assert response.status_code == 400
    assert "email" in _errors(response)


def test_status_and_score_cannot_be_changed_by_patch(api_as, rep):
    lead = LeadFactory(owner=rep)
    response = api_as(rep).patch(
        f"{LEADS}{lead.pk}/", {"status": "qualified", "score": 90, "phone": "123"}
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.status, lead.score, lead.phone) == ("lead", None, "123")


def test_rep_cannot_read_or_change_another_reps_lead(api_as, rep, other_rep):
    lead = LeadFactory(owner=other_rep)
    client = api_as(rep)
    assert client.get(f"{LEADS}{lead.pk}/").status_code == 404
    assert client.patch(f"{LEADS}{lead.pk}/", {"phone": "1"}).status_code == 404
    assert client.post(f"{LEADS}{lead.pk}/qualify/", BANT).status_code == 404
    assert lead.pk not in _ids(client.get(LEADS))


def test_manager_sees_the_team_and_not_other_teams(api_as, manager, rep, foreign_rep):
    mine, foreign = LeadFactory(owner=rep), LeadFactory(owner=foreign_rep)
    ids = _ids(api_as(manager).get(LEADS))
    assert mine.pk in ids
    assert foreign.pk not in ids


def test_integration_sees_all(api_as, integration, rep, foreign_rep):
    leads = {LeadFactory(owner=rep).pk, LeadFactory(owner=foreign_rep).pk}
    assert _ids(api_as(integration).get(LEADS)) == leads


def test_manager_reassigns_within_the_team(api_as, manager, rep, other_rep):
    lead = LeadFactory(owner=rep)
    response = api_as(manager).patch(f"{LEADS}{lead.pk}/", {"owner": other_rep.pk})
    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).owner == other_rep


def test_manager_cannot_assign_to_another_team(api_as, manager, rep, foreign_rep):
    lead = LeadFactory(owner=rep)
    response = api_as(manager).patch(f"{LEADS}{lead.pk}/", {"owner": foreign_rep.pk})
    assert response.status_code == 400
    assert "owner" in _errors(response)


def test_anonymous_cannot_list_leads(anon_api):
    assert anon_api.get(LEADS).status_code in (401, 403)


def test_no_delete_through_the_api(api_as, rep):
    lead = LeadFactory(owner=rep)
    assert api_as(rep).delete(f"{LEADS}{lead.pk}/").status_code == 405


# --- actions -------------------------------------------------------------------


def test_qualify_action(api_as, rep):
    lead = LeadFactory(owner=rep)
    response = api_as(rep).post(f"{LEADS}{lead.pk}/qualify/", {**BANT, "notes": "ok"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["score"]) == ("qualified", 40)


def test_qualify_a_prospect_is_a_409(api_as, rep):
    prospect = LeadFactory(owner=rep, status="prospect")
    response = api_as(rep).post(f"{LEADS}{prospect.pk}/qualify/", BANT)
    assert response.status_code == 409
    assert not Qualification.objects.exists()


def test_qualify_a_converted_lead_is_a_400_on_status(api_as, rep):
    # A prospect can be promoted and then qualified (409 above); a converted
    # lead stays converted, so no retry can succeed.
    lead = LeadFactory(owner=rep, status="converted")
    response = api_as(rep).post(f"{LEADS}{lead.pk}/qualify/", BANT)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("status", "invalid")
    assert not Qualification.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**BANT, "budget": "perhaps"}, "budget"),
        ({"authority": True, "need": True, "timeline": True}, "budget"),
    ],
)
def test_bad_qualify_input_is_a_400(api_as, rep, payload, field):
    lead = LeadFactory(owner=rep)
    response = api_as(rep).post(f"{LEADS}{lead.pk}/qualify/", payload)
    assert response.status_code == 400
    assert field in _errors(response)


def test_disqualify_action_and_history(api_as, rep):
    lead = LeadFactory(owner=rep)
    client = api_as(rep)
    client.post(f"{LEADS}{lead.pk}/qualify/", BANT)
    response = client.post(
        f"{LEADS}{lead.pk}/disqualify/", {"reason": "no_budget", "notes": "Cut"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "disqualified"
    history = client.get(f"{LEADS}{lead.pk}/qualifications/").json()["results"]
    assert [(h["decision"], h["reason"]) for h in history] == [
        ("disqualified", "no_budget"),
        ("qualified", ""),
    ]
    assert history[0]["decided_by"] == rep.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"reason": "bored"}, "reason"),
        ({}, "reason"),
        ({"reason": "other", "notes": ""}, "notes"),
    ],
)
def test_bad_disqualify_input_is_a_400(api_as, rep, payload, field):
    lead = LeadFactory(owner=rep)
    response = api_as(rep).post(f"{LEADS}{lead.pk}/disqualify/", payload)
    assert response.status_code == 400
    assert field in _errors(response)


def test_history_of_another_reps_lead_is_a_404(api_as, rep, other_rep):
    lead = LeadFactory(owner=other_rep)
    assert api_as(rep).get(f"{LEADS}{lead.pk}/qualifications/").status_code == 404


# --- filters, search, ordering, pagination --------------------------------------


def test_status_filter_lists_prospects(api_as, rep):
    prospect = LeadFactory(owner=rep, status="prospect")
    LeadFactory(owner=rep)
    assert _ids(api_as(rep).get(LEADS, {"status": "prospect"})) == {prospect.pk}


def test_filters_combine(api_as, integration, rep, foreign_rep, team):
    offer = ContentOfferFactory()
    hit = LeadFactory(owner=rep, offer=offer, score=70, channel="inbound")
    LeadFactory(owner=rep, offer=offer, score=20)
    LeadFactory(owner=foreign_rep, offer=offer, score=80)
    response = api_as(integration).get(
        LEADS,
        {
            "team": team.pk,
            "offer": offer.pk,
            "score_min": 50,
            "score_max": 100,
            "channel": "inbound",
            "source": "content_download",
            "owner": rep.pk,
            "created_after": "2000-01-01",
        },
    )
    assert _ids(response) == {hit.pk}


def test_search_by_name_email_and_company(api_as, rep):
    ana = LeadFactory(owner=rep, first_name="Anastasia", company_name="Globex")
    LeadFactory(owner=rep, first_name="Bob", company_name="Acme")
    client = api_as(rep)
    assert _ids(client.get(LEADS, {"search": "anastasia"})) == {ana.pk}
    assert _ids(client.get(LEADS, {"search": "globex"})) == {ana.pk}
    assert _ids(client.get(LEADS, {"search": ana.email})) == {ana.pk}


def test_ordering_by_score(api_as, rep):
    low, high = LeadFactory(owner=rep, score=10), LeadFactory(owner=rep, score=90)
    rows = api_as(rep).get(LEADS, {"ordering": "-score"}).json()["results"]
    assert [r["id"] for r in rows] == [high.pk, low.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "won"}, "status"),
        ({"channel": "x"}, "channel"),
        ({"source": "x"}, "source"),
        ({"owner": "abc"}, "owner"),
        ({"owner": 999999}, "owner"),
        ({"team": 999999}, "team"),
        ({"offer": "x"}, "offer"),
        ({"score_min": "high"}, "score_min"),
        ({"created_after": "yesterday"}, "created"),
    ],
)
def test_bad_filter_values_are_a_400(api_as, rep, params, field):
    response = api_as(rep).get(LEADS, params)
    assert response.status_code == 400
    assert any(attr.startswith(field) for attr in _errors(response))


@pytest.mark.parametrize("page_size", [10, 100])
def test_list_costs_three_queries_whatever_the_page_size(
    api_as, integration, rep, page_size, django_assert_max_num_queries
):
    offer = ContentOfferFactory()
    LeadFactory.create_batch(120, owner=rep, offer=offer)
    for lead in Lead.objects.all()[:5]:
        DealFactory(owner=rep, lead=lead)
    client = api_as(integration)
    # 1. COUNT for the paginator; 2. the page of leads; 3. their deals.
    with django_assert_max_num_queries(3):
        response = client.get(LEADS, {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


# --- offers -----------------------------------------------------------------------

OFFERS = "/api/v1/offers/"
OFFER = {"title": "Playbook", "kind": "ebook", "slug": "playbook", "active": True}


def test_offer_fields_are_the_contract(api_as, rep):
    ContentOfferFactory()
    row = api_as(rep).get(OFFERS).json()["results"][0]
    assert set(row) == {
        "id",
        "title",
        "kind",
        "slug",
        "description",
        "active",
        "version",
    }


def test_rep_reads_but_cannot_write_offers(api_as, rep):
    assert api_as(rep).get(OFFERS).status_code == 200
    assert api_as(rep).post(OFFERS, OFFER).status_code == 403


@pytest.mark.parametrize("who", ["manager", "integration", "admin_user"])
def test_managers_integrations_and_admins_write_offers(api_as, request, who):
    user = request.getfixturevalue(who)
    assert api_as(user).post(OFFERS, OFFER).status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**OFFER, "kind": "podcast"}, "kind"),
        ({**OFFER, "slug": "not a slug"}, "slug"),
        ({**OFFER, "title": ""}, "title"),
    ],
)
def test_bad_offer_input_is_a_400(api_as, manager, payload, field):
    response = api_as(manager).post(OFFERS, payload)
    assert response.status_code == 400
    assert field in _errors(response)


def test_duplicate_offer_slug_is_a_400(api_as, manager):
    ContentOfferFactory(slug="playbook")
    response = api_as(manager).post(OFFERS, OFFER)
    assert response.status_code == 400
    assert "slug" in _errors(response)
