import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.errors import Conflict
from leads import services
from leads.models import Decision, Lead, LeadStatus, Qualification
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

BANT = {"budget": True, "authority": True, "need": True, "timeline": False}


def test_create_makes_a_lead_with_became_lead_at(rep):
    lead = services.lead_create(by=rep, first_name="Ana", email="ana@x.example")
    assert lead.status == LeadStatus.LEAD
    assert lead.became_lead_at is not None
    assert lead.owner == rep


def test_create_a_prospect_has_no_became_lead_at(rep):
    lead = services.lead_create(by=rep, email="p@x.example", status="prospect")
    assert lead.status == LeadStatus.PROSPECT
    assert lead.became_lead_at is None


def test_create_refuses_a_duplicate_email_in_another_case(rep):
    LeadFactory(email="Same@X.example")
    with pytest.raises(ValidationError) as exc:
        services.lead_create(by=rep, email="same@x.EXAMPLE")
    assert "email" in exc.value.message_dict


def test_rep_cannot_create_a_lead_for_another_rep(rep, other_rep):
    with pytest.raises(ValidationError) as exc:
        services.lead_create(by=rep, email="a@x.example", owner=other_rep)
    assert "owner" in exc.value.message_dict


def test_qualify_records_criteria_score_and_decider(rep):
    lead = LeadFactory(owner=rep, touch_count=1)
    lead = services.lead_qualify(lead=lead, by=rep, notes="Good fit", **BANT)
    # 3 criteria x 20 + 1 touch x 5 = 65
    assert (lead.status, lead.score) == (LeadStatus.QUALIFIED, 65)
    assert lead.qualified_at is not None
    row = Qualification.objects.get(lead=lead)
    assert (row.decision, row.score, row.decided_by) == (Decision.QUALIFIED, 65, rep)
    assert (row.budget, row.timeline, row.notes) == (True, False, "Good fit")


def test_qualify_a_prospect_is_a_conflict(rep):
    prospect = LeadFactory(owner=rep, status="prospect")
    with pytest.raises(Conflict):
        services.lead_qualify(lead=prospect, by=rep, **BANT)
    prospect.refresh_from_db()
    assert prospect.status == LeadStatus.PROSPECT
    assert not Qualification.objects.exists()


def test_qualify_a_converted_lead_is_refused_for_good(rep):
    # Not a Conflict (409): a converted lead stays converted, no retry helps.
    lead = LeadFactory(owner=rep, status="converted")
    with pytest.raises(ValidationError):
        services.lead_qualify(lead=lead, by=rep, **BANT)
    with pytest.raises(ValidationError):
        services.lead_disqualify(lead=lead, by=rep, reason="no_budget")


def test_requalify_keeps_the_history_of_decisions(rep, manager):
    lead = LeadFactory(owner=rep)
    services.lead_qualify(lead=lead, by=rep, **BANT)
    services.lead_disqualify(lead=lead, by=manager, reason="no_budget", notes="Cut")
    lead = services.lead_qualify(lead=lead, by=manager, **dict.fromkeys(BANT, True))
    assert lead.status == LeadStatus.QUALIFIED
    assert lead.score == 80
    assert lead.disqualified_at is None
    decisions = list(lead.qualifications.order_by("decided_at", "pk"))
    assert [d.decision for d in decisions] == ["qualified", "disqualified", "qualified"]
    assert decisions[1].reason == "no_budget"


def test_disqualify_sets_reason_and_timestamp(rep):
    lead = LeadFactory(owner=rep, touch_count=3, activity_count=1)
    lead = services.lead_disqualify(lead=lead, by=rep, reason="content_only")
    # no criterion; touches capped at 10 + 1 activity x 5 = 15
    assert (lead.status, lead.score) == (LeadStatus.DISQUALIFIED, 15)
    assert lead.disqualified_at is not None
    assert lead.qualified_at is None


def test_disqualify_for_other_needs_notes(rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ValidationError) as exc:
        services.lead_disqualify(lead=lead, by=rep, reason="other", notes=" ")
    assert "notes" in exc.value.message_dict


def test_reassign_within_scope(manager, rep, other_rep):
    lead = LeadFactory(owner=rep)
    lead = services.lead_reassign(lead=lead, to=other_rep, by=manager)
    assert Lead.objects.get(pk=lead.pk).owner == other_rep


def test_rep_cannot_reassign_to_another_rep(rep, other_rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ValidationError):
        services.lead_reassign(lead=lead, to=other_rep, by=rep)


def test_manager_cannot_reassign_a_lead_of_another_team(manager, rep, foreign_rep):
    lead = LeadFactory(owner=foreign_rep)
    with pytest.raises(PermissionDenied):
        services.lead_reassign(lead=lead, to=rep, by=manager)
