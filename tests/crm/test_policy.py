"""The access policy as a table: who (role) may do what (action) to whose record.

Each row names an action, the owner of the record it applies to, and the actors
allowed; every other actor is refused. The rows are checked against
``crm.policy`` here, and against every API operation and admin URL in
``tests/test_policy_endpoints.py``.

The actors, seen from the rep of team North who owns the records marked "rep":
their teammate, a rep of team South ("foreign_rep", who owns the records marked
"foreign_rep"), North's manager, South's manager, an integration user, an admin
and an anonymous visitor.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import override_settings

from crm import policy
from crm.models import (
    ActionJob,
    ExportJob,
    MrrMovement,
    Role,
    User,
    WebhookEndpoint,
)
from leads.models import LeadImport
from metrics.models import KpiTarget
from pipeline import services as pipeline_services
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    ContentOfferFactory,
    LeadFactory,
    SubscriptionFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ACTORS = (
    "rep",
    "teammate",
    "foreign_rep",
    "manager",
    "foreign_manager",
    "integration",
    "admin",
    "anonymous",
)
OWNERS = ("rep", "foreign_rep")
MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"

NOBODY = ""
SALES = "rep teammate foreign_rep manager foreign_manager integration admin"
# Whose scope a record of each owner is in: the owner, their manager, and the
# users who see everything.
SCOPE = {
    "rep": "rep manager integration admin",
    "foreign_rep": "foreign_rep foreign_manager integration admin",
}
# The same without integrations: the people who delete address-book entries.
PEOPLE_IN_SCOPE = {
    "rep": "rep manager admin",
    "foreign_rep": "foreign_rep foreign_manager admin",
}
MANAGERS_OF = {"rep": "manager admin", "foreign_rep": "foreign_manager admin"}
TEAM_READERS = {
    "rep": "manager integration admin",
    "foreign_rep": "foreign_manager integration admin",
}

# (action, owner of the record) -> the actors allowed, space-separated.
TABLE: dict[tuple[str, str], str] = {}
for owner in OWNERS:
    TABLE |= {
        # Leads and prospects: the owner's scope reads, changes, converts them.
        ("see_lead", owner): SCOPE[owner],
        ("change_lead", owner): SCOPE[owner],
        ("reassign_lead", owner): SCOPE[owner],
        ("convert_lead", owner): SCOPE[owner],
        # History: only an admin deletes a lead (while nothing refers to it).
        ("delete_lead", owner): "admin",
        ("see_deal", owner): SCOPE[owner],
        ("change_deal", owner): SCOPE[owner],
        ("delete_deal", owner): NOBODY,
        ("see_activity", owner): SCOPE[owner],
        # Only the notes of an activity can be completed afterwards.
        ("change_activity", owner): SCOPE[owner],
        ("delete_activity", owner): NOBODY,
        ("see_stage_change", owner): SCOPE[owner],
        ("change_stage_change", owner): NOBODY,
        ("see_touch", owner): SCOPE[owner],
        ("change_touch", owner): NOBODY,
        ("delete_touch", owner): NOBODY,
        # The address book: everyone reads; the scope changes; people delete.
        ("see_company", owner): SALES,
        ("change_company", owner): SCOPE[owner],
        ("delete_company", owner): PEOPLE_IN_SCOPE[owner],
        ("see_contact", owner): SALES,
        ("change_contact", owner): SCOPE[owner],
        ("delete_contact", owner): PEOPLE_IN_SCOPE[owner],
        # Subscriptions follow their company's owner; they are never deleted.
        ("see_subscription", owner): SCOPE[owner],
        ("change_subscription", owner): SCOPE[owner],
        ("end_subscription", owner): SCOPE[owner],
        ("delete_subscription", owner): NOBODY,
        # The MRR ledger and the lead status history: append-only history,
        # read in the scope of the customer's or the lead's owner.
        ("see_mrr_movement", owner): SCOPE[owner],
        ("change_mrr_movement", owner): NOBODY,
        ("delete_mrr_movement", owner): NOBODY,
        # CSV imports: the uploader's scope reads them; only their job writes.
        ("see_import", owner): SCOPE[owner],
        ("change_import", owner): NOBODY,
        ("delete_import", owner): NOBODY,
        # CSV exports: the requester's alone (and admins'); only the job writes.
        ("see_export", owner): f"{owner} admin",
        ("change_export", owner): NOBODY,
        ("delete_export", owner): NOBODY,
        # Bulk admin actions run as jobs: the same.
        ("see_action_job", owner): f"{owner} admin",
        ("change_action_job", owner): NOBODY,
        ("delete_action_job", owner): NOBODY,
        ("see_lead_status_change", owner): SCOPE[owner],
        ("change_lead_status_change", owner): NOBODY,
        ("delete_lead_status_change", owner): NOBODY,
        # Assigning a record to this owner.
        ("assign_to_owner", owner): SCOPE[owner],
        # KPIs and targets.
        ("read_owner_kpis", owner): SCOPE[owner],
        ("read_owner_team_kpis", owner): TEAM_READERS[owner],
        ("see_owner_target", owner): SCOPE[owner],
        ("set_owner_target", owner): MANAGERS_OF[owner],
        ("set_owner_team_target", owner): MANAGERS_OF[owner],
    }
# Actions on no one's record.
for action, allowed in {
    "create_records": SALES,
    "read_organisation_kpis": SALES,
    "see_offers": SALES,
    "see_organisation_target": "manager foreign_manager integration admin",
    "set_targets": "manager foreign_manager admin",
    "set_organisation_target": "admin",
    "edit_offers": "manager foreign_manager integration admin",
    "delete_offer": "admin",
    "manage_webhooks": "integration admin",
    "edit_stage_settings": "admin",
}.items():
    TABLE[(action, "")] = allowed
# A webhook endpoint belongs to the integration user who created it.
TABLE[("change_webhook_endpoint", "integration")] = "integration admin"
TABLE[("change_webhook_endpoint", "other_integration")] = "admin"


def allowed(action: str, owner: str) -> set[str]:
    """Return the actors the table allows to do ``action`` to ``owner``'s record."""
    return set(TABLE[(action, owner)].split())


@dataclass
class World:
    """The cast and, for each owner, one record of every kind."""

    users: dict[str, object]
    records: dict[str, dict[str, object]]

    def actor(self, name: str):
        return self.users[name]


def build_world() -> World:
    """Create the cast and one record of each kind per owner (through services
    where the record carries history)."""
    manager = UserFactory(username="manager", role=Role.MANAGER)
    north = TeamFactory(name="North", manager=manager)
    foreign_manager = UserFactory(username="foreign_manager", role=Role.MANAGER)
    south = TeamFactory(name="South", manager=foreign_manager)
    users = {
        "rep": UserFactory(username="rep", team=north),
        "teammate": UserFactory(username="teammate", team=north),
        "foreign_rep": UserFactory(username="foreign_rep", team=south),
        "manager": manager,
        "foreign_manager": foreign_manager,
        "integration": UserFactory(
            username="integration", role=Role.INTEGRATION, is_staff=False
        ),
        "admin": UserFactory(username="admin", is_superuser=True, role=Role.MANAGER),
        "anonymous": AnonymousUser(),
    }
    records: dict[str, dict[str, object]] = {}
    for owner in OWNERS:
        user = users[owner]
        company = CompanyFactory(owner=user, name=f"{owner} Co", domain="")
        contact = ContactFactory(owner=user, company=company)
        lead = LeadFactory(owner=user, email=f"{owner}@lead.example")
        prospect = LeadFactory(
            owner=user, status="prospect", email=f"{owner}@prospect.example"
        )
        deal = pipeline_services.deal_create(
            by=user, title=f"{owner} deal", channel="outbound", amount=Decimal(1000)
        )
        records[owner] = {
            "user": user,
            "company": company,
            "contact": contact,
            "subscription": SubscriptionFactory(company=company),
            "mrr_movement": MrrMovement.objects.create(
                company=company,
                currency="EUR",
                effective_on=datetime.date(2026, 1, 1),
                kind="new",
                amount=Decimal(100),
            ),
            "lead_status_change": lead.status_changes.create(
                from_status="", to_status="lead", changed_at=deal.created_at
            ),
            "lead": lead,
            "import": LeadImport.objects.create(
                created_by=user, filename="list.csv", file="imports/list.csv"
            ),
            "export": ExportJob.objects.create(requested_by=user, kind="leads"),
            "action_job": ActionJob.objects.create(
                requested_by=user, model="leads.lead", action="promote"
            ),
            "prospect": prospect,
            "deal": deal,
            "stage_change": deal.stage_changes.get(),
            "activity": ActivityFactory(lead=lead, owner=user),
            "touch": lead.touches.create(
                channel="inbound",
                source="content_download",
                occurred_at=deal.created_at,
            ),
            "target": KpiTarget.objects.create(
                kpi="win_rate",
                period_kind="month",
                period_start=datetime.date(2026, 1, 1),
                owner=user,
                value="0.3",
            ),
        }
    records[""] = {
        "target": KpiTarget.objects.create(
            kpi="win_rate",
            period_kind="month",
            period_start=datetime.date(2026, 1, 1),
            value="0.3",
        ),
        "offer": ContentOfferFactory(),
    }
    other_integration = UserFactory(
        username="other_integration", role=Role.INTEGRATION, is_staff=False
    )
    records["integration"] = {"endpoint": _endpoint(users["integration"])}
    records["other_integration"] = {"endpoint": _endpoint(other_integration)}
    return World(users=users, records=records)


def _endpoint(creator) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url="https://hooks.example/in",
        secret="s" * 32,
        events=["deal.won"],
        created_by=creator,
    )


def _owner_team(record):
    return record["user"].team


# How each action asks the policy: (actor, the owner's records) -> allowed.
CHECKS = {
    "see_lead": lambda u, r: policy.may_see(u, r["lead"]),
    "change_lead": lambda u, r: policy.may_change(u, r["lead"]),
    "reassign_lead": lambda u, r: policy.may_reassign(u, r["lead"], r["user"]),
    "convert_lead": lambda u, r: policy.may_convert(u, r["lead"]),
    "delete_lead": lambda u, r: policy.may_delete(u, r["lead"]),
    "see_deal": lambda u, r: policy.may_see(u, r["deal"]),
    "change_deal": lambda u, r: policy.may_change(u, r["deal"]),
    "delete_deal": lambda u, r: policy.may_delete(u, r["deal"]),
    "see_activity": lambda u, r: policy.may_see(u, r["activity"]),
    "change_activity": lambda u, r: policy.may_change(u, r["activity"]),
    "delete_activity": lambda u, r: policy.may_delete(u, r["activity"]),
    "see_stage_change": lambda u, r: policy.may_see(u, r["stage_change"]),
    "change_stage_change": lambda u, r: policy.may_change(u, r["stage_change"]),
    "see_touch": lambda u, r: policy.may_see(u, r["touch"]),
    "change_touch": lambda u, r: policy.may_change(u, r["touch"]),
    "delete_touch": lambda u, r: policy.may_delete(u, r["touch"]),
    "see_company": lambda u, r: policy.may_see(u, r["company"]),
    "change_company": lambda u, r: policy.may_change(u, r["company"]),
    "delete_company": lambda u, r: policy.may_delete(u, r["company"]),
    "see_contact": lambda u, r: policy.may_see(u, r["contact"]),
    "change_contact": lambda u, r: policy.may_change(u, r["contact"]),
    "delete_contact": lambda u, r: policy.may_delete(u, r["contact"]),
    "see_subscription": lambda u, r: policy.may_see(u, r["subscription"]),
    "end_subscription": lambda u, r: policy.may_end_subscription(u, r["subscription"]),
    "change_subscription": lambda u, r: policy.may_change(u, r["subscription"]),
    "delete_subscription": lambda u, r: policy.may_delete(u, r["subscription"]),
    "see_mrr_movement": lambda u, r: policy.may_see(u, r["mrr_movement"]),
    "change_mrr_movement": lambda u, r: policy.may_change(u, r["mrr_movement"]),
    "delete_mrr_movement": lambda u, r: policy.may_delete(u, r["mrr_movement"]),
    "see_lead_status_change": lambda u, r: policy.may_see(u, r["lead_status_change"]),
    "change_lead_status_change": lambda u, r: policy.may_change(
        u, r["lead_status_change"]
    ),
    "delete_lead_status_change": lambda u, r: policy.may_delete(
        u, r["lead_status_change"]
    ),
    "see_import": lambda u, r: policy.may_see(u, r["import"]),
    "change_import": lambda u, r: policy.may_change(u, r["import"]),
    "delete_import": lambda u, r: policy.may_delete(u, r["import"]),
    "see_export": lambda u, r: policy.may_see(u, r["export"]),
    "change_export": lambda u, r: policy.may_change(u, r["export"]),
    "delete_export": lambda u, r: policy.may_delete(u, r["export"]),
    "see_action_job": lambda u, r: policy.may_see(u, r["action_job"]),
    "change_action_job": lambda u, r: policy.may_change(u, r["action_job"]),
    "delete_action_job": lambda u, r: policy.may_delete(u, r["action_job"]),
    "assign_to_owner": lambda u, r: policy.may_assign(u, r["user"]),
    "read_owner_kpis": lambda u, r: policy.may_read_kpis(u, owner=r["user"]),
    "read_owner_team_kpis": lambda u, r: policy.may_read_kpis(u, team=_owner_team(r)),
    "see_owner_target": lambda u, r: policy.may_see(u, r["target"]),
    "set_owner_target": lambda u, r: policy.may_set_target(
        u, team=None, owner=r["user"]
    ),
    "set_owner_team_target": lambda u, r: policy.may_set_target(
        u, team=_owner_team(r), owner=None
    ),
    "create_records": lambda u, r: policy.is_sales_user(u),
    "read_organisation_kpis": lambda u, r: policy.may_read_kpis(u),
    "set_targets": lambda u, r: policy.may_set_targets(u),
    "see_organisation_target": lambda u, r: policy.may_see(u, r["target"]),
    "set_organisation_target": lambda u, r: policy.may_set_target(
        u, team=None, owner=None
    ),
    "see_offers": lambda u, r: policy.is_sales_user(u),
    "edit_offers": lambda u, r: policy.may_edit_offers(u),
    "delete_offer": lambda u, r: policy.may_delete(u, r["offer"]),
    "manage_webhooks": lambda u, r: policy.may_manage_webhooks(u),
    "edit_stage_settings": lambda u, r: policy.may_edit_stage_settings(u),
    "change_webhook_endpoint": lambda u, r: policy.may_change(u, r["endpoint"]),
}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    """The cast and records, built once for the module (the checks only read)."""
    # The suite's fast password hasher is a function fixture: not yet active.
    fast = override_settings(PASSWORD_HASHERS=[MD5])
    with django_db_blocker.unblock(), transaction.atomic(), fast:
        yield build_world()
        transaction.set_rollback(True)


def test_every_action_of_the_table_is_checked():
    assert {action for action, _ in TABLE} == set(CHECKS)


@pytest.mark.parametrize(("action", "owner"), sorted(TABLE))
def test_policy_agrees_with_the_table(world, action, owner):
    # given the table's row: who may do ``action`` to a record of ``owner``
    expected = allowed(action, owner)
    records = world.records[owner]

    # when the policy is asked for every actor
    answers = {
        actor: bool(CHECKS[action](world.actor(actor), records)) for actor in ACTORS
    }

    # then exactly the row's actors are allowed
    assert answers == {actor: actor in expected for actor in ACTORS}


def test_an_inactive_user_may_do_nothing(world):
    rep = User.objects.get(pk=world.actor("rep").pk)
    rep.is_active = False
    records = world.records["rep"]

    assert not policy.may_see(rep, records["lead"])
    assert not policy.may_change(rep, records["company"])
    assert not policy.is_sales_user(rep)


def test_no_role_is_spelled_as_a_string_outside_the_policy():
    # Roles are compared through crm.policy only: no ``role == "manager"`` and
    # no ``role="rep"`` filter anywhere else in the code.
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    values = "|".join(Role.values)
    # "role" followed closely by a role's value: ``.role == "rep"``,
    # ``role__in=["rep", ...]``, ``Q(role="manager")``.
    comparison = re.compile(rf"""\brole\b.{{0,20}}?["']({values})["']""", re.I)
    offenders = []
    for path in sorted(root.glob("*/**/*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".venv/", "tests/")) or "/migrations/" in relative:
            continue
        if relative == "crm/policy.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if comparison.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
