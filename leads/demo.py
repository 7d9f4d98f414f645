"""Demo data of the leads app: content offers, prospects and leads in every status
(except converted, which the pipeline demo does), touches and qualifications.

Runs after ``crm.demo`` (INSTALLED_APPS order), so the cast exists.
"""

from __future__ import annotations

import datetime

from crm import rollups
from crm.demo_context import DemoContext
from crm.models import Role, Team, User
from leads.models import (
    Channel,
    ContentOffer,
    Decision,
    DisqualificationReason,
    Lead,
    LeadStatus,
    LeadStatusChange,
    OfferKind,
    Qualification,
    Source,
    Touch,
)
from leads.rollups import DURATION_ROLLUPS, NEW_LEADS, STATUS_ROLLUPS
from leads.scoring import lead_score

OFFERS = [
    ("The B2B sales playbook", OfferKind.EBOOK, "sales-playbook"),
    ("Churn in one picture", OfferKind.INFOGRAPHIC, "churn-infographic"),
    ("Building a pipeline that closes", OfferKind.WEBINAR, "pipeline-webinar"),
    ("Cold-call checklist", OfferKind.CHECKLIST, "cold-call-checklist"),
    ("Quarterly forecast template", OfferKind.TEMPLATE, "forecast-template"),
]
INBOUND_SOURCES = [Source.CONTENT_DOWNLOAD] * 4 + [
    Source.WEBSITE_FORM,
    Source.REFERRAL,
    Source.EVENT,
]
OUTBOUND_SOURCES = [
    Source.COLD_CALL,
    Source.COLD_EMAIL,
    Source.PROSPECT_LIST,
    Source.EVENT,
    Source.OTHER,
]
# Share of each status among the records, in order of the funnel.
STATUS_WEIGHTS = {
    LeadStatus.PROSPECT: 30,
    LeadStatus.LEAD: 35,
    LeadStatus.QUALIFIED: 20,
    LeadStatus.DISQUALIFIED: 15,
}
JOB_TITLES = ["CEO", "CTO", "Head of Sales", "Buyer", "COO", "Marketing lead"]


def seed(ctx: DemoContext) -> str:
    """Create offers, ~300 x size prospects and leads over 12 months, once."""
    if Lead.objects.exists():
        return "already seeded"
    offers = _offers()
    inbound_team = Team.objects.filter(handles_inbound=True).first()
    reps = list(User.objects.filter(role=Role.REP, is_active=True).order_by("pk"))
    if not reps:
        return "no reps: run crm's demo first"
    inbound_reps = [r for r in reps if inbound_team and r.team_id == inbound_team.pk]
    inbound_reps = inbound_reps or reps
    leads = [_lead(ctx, n, offers, reps, inbound_reps) for n in range(300 * ctx.size)]
    # auto_now(_add) would stamp every row "now": keep the spread timestamps.
    stamps = [(lead.created_at, lead.updated_at) for lead in leads]
    Lead.objects.bulk_create(leads, batch_size=1000)
    for lead, (created_at, updated_at) in zip(leads, stamps, strict=True):
        lead.created_at, lead.updated_at = created_at, updated_at
    touches = _touches(ctx, leads, offers)
    decisions = _qualifications(ctx, leads)
    # bulk_update does not run auto_now, so the historical times stay.
    Lead.objects.bulk_update(
        leads, ["created_at", "updated_at", "score"], batch_size=500
    )
    _status_history(leads)
    return (
        f"{len(offers)} offers, {len(leads)} prospects and leads, "
        f"{touches} touches, {decisions} qualification decisions"
    )


def _status_history(leads: list[Lead]) -> None:
    """Write the rows the lead services would have written for these records.

    A record created as a lead has ``became_lead_at`` equal to its creation
    (``_lead``); any other was created a prospect.
    """
    rows = []
    for lead in leads:
        as_lead = lead.became_lead_at == lead.created_at
        steps = [(LeadStatus.LEAD if as_lead else LeadStatus.PROSPECT, lead.created_at)]
        if not as_lead and lead.became_lead_at is not None:
            steps.append((LeadStatus.LEAD, lead.became_lead_at))
        if lead.qualified_at is not None:
            steps.append((LeadStatus.QUALIFIED, lead.qualified_at))
        if lead.disqualified_at is not None:
            steps.append((LeadStatus.DISQUALIFIED, lead.disqualified_at))
        before = ""
        for status, moment in steps:
            rows.append(
                LeadStatusChange(
                    lead=lead, from_status=before, to_status=status, changed_at=moment
                )
            )
            before = status
    LeadStatusChange.objects.bulk_create(rows, batch_size=1000)
    for rollup in (*STATUS_ROLLUPS, NEW_LEADS, *DURATION_ROLLUPS):
        rollups.rebuild(rollup)


def _offers() -> list[ContentOffer]:
    for title, kind, slug in OFFERS:
        ContentOffer.objects.get_or_create(
            slug=slug,
            defaults={
                "title": title,
                "kind": kind,
                "description": f"{title}: free download.",
                "external_url": f"https://www.demo.example/content/{slug}",
            },
        )
    return list(ContentOffer.objects.order_by("pk"))


def _lead(ctx, n, offers, reps, inbound_reps) -> Lead:
    rng = ctx.rng
    status = rng.choices(list(STATUS_WEIGHTS), weights=STATUS_WEIGHTS.values())[0]
    inbound = status != LeadStatus.PROSPECT and rng.random() < 0.55
    created = ctx.now - datetime.timedelta(days=rng.uniform(1, 365))
    first, last = ctx.fake.first_name(), ctx.fake.last_name()
    company = ctx.fake.company()
    lead = Lead(
        status=status,
        first_name=first,
        last_name=last,
        email=f"{first}.{last}.{n}@{ctx.fake.domain_name()}".lower().replace(" ", ""),
        phone=ctx.fake.phone_number()[:40],
        job_title=rng.choice(JOB_TITLES),
        company_name=company[:200],
        channel=Channel.INBOUND if inbound else Channel.OUTBOUND,
        source=rng.choice(INBOUND_SOURCES if inbound else OUTBOUND_SOURCES),
        owner=rng.choice(inbound_reps if inbound else reps),
        consent=inbound,
    )
    if lead.source == Source.CONTENT_DOWNLOAD:
        lead.offer = rng.choice(offers)
        lead.touch_count = rng.choice([1, 1, 1, 2, 3])
    # Consistent timestamps: created <= became lead <= decided <= now.
    lead.created_at = created
    if status != LeadStatus.PROSPECT:
        lead.became_lead_at = (
            created
            if inbound
            else ctx.moment_between(
                created, min(created + datetime.timedelta(days=20), ctx.now)
            )
        )
    if status in (LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED):
        decided = ctx.moment_between(
            lead.became_lead_at,
            min(lead.became_lead_at + datetime.timedelta(days=30), ctx.now),
        )
        if status == LeadStatus.QUALIFIED:
            lead.qualified_at = decided
        else:
            lead.disqualified_at = decided
    lead.updated_at = lead.qualified_at or lead.disqualified_at or created
    return lead


def _touches(ctx: DemoContext, leads: list[Lead], offers) -> int:
    rows = []
    for lead in leads:
        for i in range(lead.touch_count):
            start = lead.became_lead_at or lead.created_at
            rows.append(
                Touch(
                    lead=lead,
                    offer=lead.offer if i == 0 else ctx.rng.choice(offers),
                    channel=Channel.INBOUND,
                    source=Source.CONTENT_DOWNLOAD,
                    occurred_at=start if i == 0 else ctx.moment_between(start, ctx.now),
                    ip_address=ctx.fake.ipv4_public(),
                    page_url=f"https://www.demo.example/content/{lead.offer.slug}",
                    user_agent="Mozilla/5.0 (demo)",
                )
            )
    Touch.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _qualifications(ctx: DemoContext, leads: list[Lead]) -> int:
    """One decision per decided lead, its score from the real rule."""
    rows = []
    for lead in leads:
        if lead.status not in (LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED):
            continue
        qualified = lead.status == LeadStatus.QUALIFIED
        criteria = {
            name: ctx.rng.random() < (0.8 if qualified else 0.2)
            for name in ("budget", "authority", "need", "timeline")
        }
        if not qualified:
            criteria = dict.fromkeys(criteria, False)
        score = lead_score(
            **criteria,
            touch_count=lead.touch_count,
            activity_count=lead.activity_count,
        )
        rows.append(
            Qualification(
                lead=lead,
                decision=Decision.QUALIFIED if qualified else Decision.DISQUALIFIED,
                score=score,
                reason=""
                if qualified
                else ctx.rng.choice(DisqualificationReason.values[:-1]),
                notes="",
                decided_by=lead.owner,
                decided_at=lead.qualified_at or lead.disqualified_at,
                **criteria,
            )
        )
        lead.score = score
    Qualification.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
