"""A deterministic synthetic CRM at any scale (scale 1: a million leads).

Two years of history up to ``anchor`` (today, 00:00 UTC): teams of reps with
their managers, companies, contacts and subscriptions with churn, prospects and
leads in every status with their touches, qualifications and activities (cold
calls included), deals with their full stage history, and KPI targets.

The generator draws what happened (when people were created, became leads,
were called; how deals moved); what the services would have recorded comes
from ``pipeline.history``, the rules the services themselves use: a deal's
``StageChange`` rows and its stage, status, ``closed_at``, ``stage_entered_at``
and ``version``, which calls are cold, a lead's activity counters. A converted
lead's deal is created at its ``converted_at``. One ``random.Random(seed)``
drives everything, table after table, so the same seed and scale give the same
rows.

Children are first kept in compact arrays (a few bytes per row) while their
parents are written, because one connection streams one ``COPY`` at a time.
"""

from __future__ import annotations

import datetime
import random
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, models, transaction
from django.db.models import Max

from bench.loading import (
    TableWriter,
    analyze,
    bulk_load,
    is_postgresql,
    reset_sequences,
)
from crm import rollups
from crm.models import (
    Company,
    Contact,
    CustomerChange,
    MrrMovement,
    Role,
    Subscription,
    Team,
    User,
)
from crm.mrr_ledger import customer_ledger_rebuild, mrr_ledger_rebuild
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
from metrics.models import KpiKey, KpiTarget, PeriodKind
from pipeline.history import (
    Engagement,
    Step,
    deal_history,
    is_cold_call,
    status_at,
)
from pipeline.models import (
    STAGE_ORDER,
    Activity,
    ActivityKind,
    Deal,
    DealStatus,
    Direction,
    LostReason,
    Outcome,
    StageChange,
)
from pipeline.responses import fill_cold_calls_led_to_lead, fill_first_responses
from pipeline.rollups import ACTIVITY_ROLLUPS
from pipeline.rollups import ROLLUPS as PIPELINE_ROLLUPS

SEED = 20240601
DAY = 86400.0
HISTORY_DAYS = 730

# Sizes at scale 1.
FULL = {
    "reps": 100,
    "teams": 10,
    "companies": 20_000,
    "subscriptions": 20_000,
    "leads": 1_000_000,
    "deals": 200_000,
    "activities": 2_000_000,
    "import_rows": 100_000,
}
OFFERS = 20

FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Karin",
    "Leo",
    "Maria",
    "Noah",
    "Olga",
    "Paul",
    "Quentin",
    "Rosa",
    "Sami",
    "Tara",
    "Ugo",
    "Vera",
    "Will",
    "Yara",
    "Zoe",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "Muller",
    "Schmidt",
    "Rossi",
    "Silva",
    "Novak",
    "Smith",
    "Jones",
    "Brown",
]
JOB_TITLES = (
    "CEO",
    "CTO",
    "Head of Sales",
    "Marketing Manager",
    "Operations Lead",
    "Buyer",
    "Engineer",
    "Founder",
    "",
)
WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Wonka",
    "Cyberdyne",
    "Tyrell",
    "Aperture",
    "Massive",
    "Pied",
    "Piper",
    "Nakatomi",
    "Oscorp",
    "Gringotts",
]
PLANS = (("Starter", 49), ("Team", 199), ("Business", 499), ("Enterprise", 1999))
INBOUND_SOURCES = (
    (Source.CONTENT_DOWNLOAD, 60),
    (Source.WEBSITE_FORM, 20),
    (Source.REFERRAL, 10),
    (Source.EVENT, 10),
)
OUTBOUND_SOURCES = (
    (Source.COLD_CALL, 40),
    (Source.PROSPECT_LIST, 40),
    (Source.COLD_EMAIL, 20),
)
# Activities per lead and per deal (weights of 0, 1, 2, ...), about 1.2 and 3.
LEAD_ACTIVITY_WEIGHTS = (40, 25, 18, 10, 7)
DEAL_ACTIVITY_WEIGHTS = (10, 15, 20, 20, 15, 10, 10)
STAGE_DAYS = 7.0  # mean time spent in a stage
OUTCOMES = tuple(Outcome)
CALL_OUTCOMES = (
    Outcome.CONNECTED,
    Outcome.NO_ANSWER,
    Outcome.NO_ANSWER,
    Outcome.VOICEMAIL,
    Outcome.MEETING_BOOKED,
    Outcome.NOT_INTERESTED,
    Outcome.WRONG_NUMBER,
)
NON_CALL_KINDS = (ActivityKind.EMAIL, ActivityKind.MEETING, ActivityKind.NOTE)
STATUS_CODES = {"": 0, DealStatus.OPEN: 1, DealStatus.WON: 2, DealStatus.LOST: 3}
STAGE_CODES = {"": -1, **{stage.value: i for i, stage in enumerate(STAGE_ORDER)}}
# What kind of activity happened (the cold-call flag then follows from the rule):
# any kind; the outbound call that opens an outbound prospect; the outbound
# e-mail that opens a cold-e-mail prospect; a follow-up with a prospect (an
# e-mail, a meeting or a note: the calls to a prospect are its opening call).
PLAN_ANY, PLAN_CALL, PLAN_EMAIL, PLAN_NOT_CALL = range(4)
# Whom an activity is logged on when it is: nobody's lead record, a lead, a
# prospect never inbound, a prospect with an inbound touch.
ON_NO_LEAD, ON_LEAD, ON_PROSPECT, ON_INBOUND_PROSPECT = range(4)
ON_STATUS = {
    ON_NO_LEAD: None,
    ON_LEAD: LeadStatus.LEAD,
    ON_PROSPECT: LeadStatus.PROSPECT,
    ON_INBOUND_PROSPECT: LeadStatus.PROSPECT,
}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}


def sizes(scale: float) -> dict[str, int]:
    """Return the row counts of a scale (never fewer than a usable minimum)."""
    result = {key: max(1, round(value * scale)) for key, value in FULL.items()}
    result["reps"] = max(2, result["reps"])
    result["teams"] = min(result["teams"], result["reps"])
    result["companies"] = max(5, result["companies"])
    result["deals"] = max(20, result["deals"])
    result["leads"] = max(50, result["leads"])
    return result


@dataclass
class Dataset:
    """What the measurements need to know about the generated data."""

    scale: float
    anchor: datetime.datetime
    seed: int
    team_ids: list[int]
    manager_ids: list[int]
    rep_ids: list[int]
    integration_id: int
    offer_slugs: list[str]
    email_prefix: str
    sizes: dict[str, int]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0


def _ts(t: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t, datetime.UTC)


def _weighted(rng: random.Random, pairs) -> list:
    values = [v for v, _ in pairs]
    weights = [w for _, w in pairs]
    return rng.choices(values, weights, k=1)[0]


def _next_ids(model_list) -> dict[type[models.Model], int]:
    """Return the first free id of each table: the bench may run next to rows."""
    return {
        model: (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
        for model in model_list
    }


class Generator:
    """Write the dataset table by table; ``run()`` returns its ``Dataset``."""

    def __init__(self, *, scale: float, seed: int = SEED, progress: bool = True):
        self.scale = scale
        self.seed = seed
        # Deterministic synthetic data, not cryptography.
        self.rng = random.Random(seed)  # noqa: S311
        self.progress = progress
        self.n = sizes(scale)
        today = datetime.datetime.now(datetime.UTC).date()
        self.anchor = datetime.datetime.combine(today, datetime.time.min, datetime.UTC)
        self.end_t = self.anchor.timestamp()
        self.start_t = self.end_t - HISTORY_DAYS * DAY
        self.rows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.ids = _next_ids(
            [
                User,
                Team,
                ContentOffer,
                Company,
                Contact,
                Subscription,
                Lead,
                Touch,
                Qualification,
                Deal,
                StageChange,
                Activity,
                KpiTarget,
            ]
        )
        # The e-mail domain carries the first lead id: unique even in place.
        self.email_prefix = f"b{self.ids[Lead]}"

    # -- plumbing ---------------------------------------------------------------

    def _write(self, model, columns: list[str], total: int, rows: Iterator[tuple]):
        started = time.perf_counter()
        writer = TableWriter(
            connection, model, columns, total=total, progress=self.progress
        )
        count = writer.write_all(rows)
        table = model._meta.db_table
        self.rows[table] = self.rows.get(table, 0) + count
        self.seconds[table] = self.seconds.get(table, 0.0) + (
            time.perf_counter() - started
        )
        return count

    def run(self) -> Dataset:
        started = time.perf_counter()
        with bulk_load(connection, skip_triggers=True), transaction.atomic():
            self._people()
            self._offers()
            self._companies()
            self._subscriptions()
            self._customer_ledgers()
            self._leads()
            self._lead_status_changes()
            self._touches()
            self._qualifications()
            self._deals()
            self._stage_changes()
            self._activities()
            self._first_responses()
            self._targets()
            self._rollups()
        if is_postgresql(connection):
            reset_sequences(
                connection,
                [
                    User,
                    Team,
                    ContentOffer,
                    Company,
                    Contact,
                    Subscription,
                    MrrMovement,
                    CustomerChange,
                    Lead,
                    LeadStatusChange,
                    Touch,
                    Qualification,
                    Deal,
                    StageChange,
                    Activity,
                    KpiTarget,
                ],
            )
        analyze_started = time.perf_counter()
        analyze(connection)
        self.seconds["analyze"] = time.perf_counter() - analyze_started
        return Dataset(
            scale=self.scale,
            anchor=self.anchor,
            seed=self.seed,
            team_ids=self.team_ids,
            manager_ids=self.manager_ids,
            rep_ids=self.rep_ids,
            integration_id=self.integration_id,
            offer_slugs=self.offer_slugs,
            email_prefix=self.email_prefix,
            sizes=self.n,
            rows=self.rows,
            seconds=self.seconds,
            total_seconds=time.perf_counter() - started,
        )

    # -- people -----------------------------------------------------------------

    def _people(self) -> None:
        n_teams, n_reps = self.n["teams"], self.n["reps"]
        user_id, team_id = self.ids[User], self.ids[Team]
        self.team_ids = [team_id + t for t in range(n_teams)]
        self.manager_ids = [user_id + t for t in range(n_teams)]
        self.rep_ids = [user_id + n_teams + r for r in range(n_reps)]
        self.rep_team = {
            rep: self.team_ids[r % n_teams] for r, rep in enumerate(self.rep_ids)
        }
        self.integration_id = user_id + n_teams + n_reps
        joined = _ts(self.start_t - 30 * DAY)
        tag = self.email_prefix

        def users():
            for t, pk in enumerate(self.manager_ids):
                yield (pk, f"bench-{tag}-manager-{t}", Role.MANAGER, None, False)
            for r, pk in enumerate(self.rep_ids):
                yield (pk, f"bench-{tag}-rep-{r}", Role.REP, self.rep_team[pk], False)
            yield (self.integration_id, f"bench-{tag}-api", Role.INTEGRATION, None, 0)

        def rows():
            for pk, username, role, team, superuser in users():
                first = FIRST_NAMES[pk % len(FIRST_NAMES)]
                last = LAST_NAMES[pk % len(LAST_NAMES)]
                yield (
                    pk,
                    "!",  # an unusable password: the bench logs in with force_login
                    None,
                    bool(superuser),
                    username,
                    first,
                    last,
                    f"{username}@bench.example",
                    False,
                    True,
                    joined,
                    role,
                    team,
                    joined,
                    joined,
                )

        columns = [
            "id",
            "password",
            "last_login",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "role",
            "team_id",
            "created_at",
            "updated_at",
        ]
        self._write(User, columns, n_teams + n_reps + 1, rows())
        inbound_taken = Team.objects.filter(handles_inbound=True).exists()

        def teams():
            for t, pk in enumerate(self.team_ids):
                yield (
                    pk,
                    joined,
                    joined,
                    f"Bench {tag} team {t}",
                    self.manager_ids[t],
                    t == 0 and not inbound_taken,
                    0,
                )

        self._write(
            Team,
            [
                "id",
                "created_at",
                "updated_at",
                "name",
                "manager_id",
                "handles_inbound",
                "inbound_cursor",
            ],
            n_teams,
            teams(),
        )

    def _offers(self) -> None:
        first = self.ids[ContentOffer]
        kinds = list(OfferKind)
        self.offer_ids = [first + i for i in range(OFFERS)]
        self.offer_slugs = [
            f"bench-{self.email_prefix}-offer-{i}" for i in range(OFFERS)
        ]
        at = _ts(self.start_t)

        def rows():
            for i, pk in enumerate(self.offer_ids):
                yield (
                    pk,
                    at,
                    at,
                    f"Guide {i}: {WORDS[i % len(WORDS)]} playbook",
                    kinds[i % len(kinds)],
                    self.offer_slugs[i],
                    "",
                    True,
                    "",
                    f"https://content.example/{self.offer_slugs[i]}",
                )

        self._write(
            ContentOffer,
            [
                "id",
                "created_at",
                "updated_at",
                "title",
                "kind",
                "slug",
                "description",
                "active",
                "file",
                "external_url",
            ],
            OFFERS,
            rows(),
        )

    def _companies(self) -> None:
        rng, n = self.rng, self.n["companies"]
        first_company, first_contact = self.ids[Company], self.ids[Contact]
        self.company_ids = (first_company, n)
        reps = self.rep_ids
        created = [
            self.start_t - 365 * DAY + rng.random() * 1095 * DAY for _ in range(n)
        ]
        owners = [rng.choice(reps) for _ in range(n)]
        self.company_created = created
        self.company_owner = owners

        def companies():
            for i in range(n):
                at = _ts(created[i])
                name = f"{WORDS[i % len(WORDS)]} {i}"
                yield (
                    first_company + i,
                    at,
                    at,
                    name,
                    f"c{i}.{self.email_prefix}.example",
                    ("Software", "Retail", "Industry", "Health", "Finance")[i % 5],
                    rng.randint(2, 5000),
                    ("FR", "DE", "ES", "IT", "GB", "US")[i % 6],
                    owners[i],
                )

        self._write(
            Company,
            [
                "id",
                "created_at",
                "updated_at",
                "name",
                "domain",
                "industry",
                "employees",
                "country",
                "owner_id",
            ],
            n,
            companies(),
        )

        def contacts():
            for i in range(n):
                at = _ts(created[i] + rng.random() * 30 * DAY)
                first = FIRST_NAMES[i % len(FIRST_NAMES)]
                last = LAST_NAMES[(i // 7) % len(LAST_NAMES)]
                yield (
                    first_contact + i,
                    at,
                    at,
                    first,
                    last,
                    f"{first.lower()}.{i}@c{i}.{self.email_prefix}.example",
                    f"+33 1 {i % 100:02d} {i % 97:02d} {i % 89:02d}",
                    JOB_TITLES[i % len(JOB_TITLES)],
                    first_company + i,
                    owners[i],
                )

        self._write(
            Contact,
            [
                "id",
                "created_at",
                "updated_at",
                "first_name",
                "last_name",
                "email",
                "phone",
                "job_title",
                "company_id",
                "owner_id",
            ],
            n,
            contacts(),
        )

    def _subscriptions(self) -> None:
        """One subscription per company, a second for some; about 2% churn a month."""
        rng, n = self.rng, self.n["subscriptions"]
        first_company, n_companies = self.company_ids
        anchor_date = self.anchor.date()

        def rows():
            for i in range(n):
                company = i if i < 0.85 * n_companies else rng.randrange(n_companies)
                company %= n_companies
                start_t = max(
                    self.company_created[company],
                    self.end_t - 3 * 365 * DAY + rng.random() * 3 * 365 * DAY,
                )
                start_t = min(start_t, self.end_t - DAY)
                started = _ts(start_t).date()
                months = rng.expovariate(1 / 45)
                ended = started + datetime.timedelta(days=int(months * 30.4) + 1)
                plan, price = PLANS[min(int(rng.expovariate(1.1)), 3)]
                seats = rng.randint(1, 5)
                is_ended = ended < anchor_date
                ended_at = (
                    datetime.datetime.combine(ended, datetime.time(9), datetime.UTC)
                    if is_ended
                    else None
                )
                at = _ts(start_t)
                yield (
                    self.ids[Subscription] + i,
                    at,
                    ended_at or at,
                    first_company + company,
                    plan,
                    Decimal(price * seats),
                    "USD" if company % 7 == 0 else "EUR",
                    started,
                    ended if is_ended else None,
                    rng.choice(("price", "competitor", "closed", ""))
                    if is_ended
                    else "",
                    None,
                    ended_at,
                )

        self._write(
            Subscription,
            [
                "id",
                "created_at",
                "updated_at",
                "company_id",
                "plan",
                "mrr",
                "currency",
                "started_on",
                "ended_on",
                "churn_reason",
                "ended_by_id",
                "ended_recorded_at",
            ],
            n,
            rows(),
        )

    def _customer_ledgers(self) -> None:
        """The subscriptions' MRR and customer ledgers, derived as the services
        post them, with their rollups (built by the same rebuilds)."""
        ledgers = (
            (mrr_ledger_rebuild, MrrMovement, (rollups.MRR, rollups.MRR_MONTHS)),
            (
                customer_ledger_rebuild,
                CustomerChange,
                (rollups.CUSTOMERS, rollups.CUSTOMER_MONTHS),
            ),
        )
        for rebuild, ledger, built in ledgers:
            started = time.perf_counter()
            self.rows[ledger._meta.db_table] = rebuild()
            self.seconds[ledger._meta.db_table] = time.perf_counter() - started
            for rollup in built:
                table = rollup.model._meta.db_table
                self.rows[table] = rollup.model._default_manager.count()
                self.seconds[table] = 0.0  # built in the ledger's time

    def _rollups(self) -> None:
        """The daily rollups of the lead and stage histories, of the leads'
        durations and of the cold calls (all of them, and those that won a
        prospect over), recomputed in SQL by the builder the migrations use
        (the MRR and customer ones are built with their ledgers).
        ``bench/rollup_check.py`` then reports their drift (none)."""
        lead_rollups = (*STATUS_ROLLUPS, NEW_LEADS, *DURATION_ROLLUPS)
        for rollup in (*lead_rollups, *PIPELINE_ROLLUPS, *ACTIVITY_ROLLUPS):
            started = time.perf_counter()
            rollups.rebuild(rollup)
            table = rollup.model._meta.db_table
            self.rows[table] = rollup.model._default_manager.count()
            self.seconds[table] = time.perf_counter() - started

    # -- leads ------------------------------------------------------------------

    def _lead_status_changes(self) -> None:
        """Each lead's status history from its timestamps, in one pass per step.

        The generator stamps a record created as a lead with ``became_lead_at``
        equal to its ``created_at``; any other record was created a prospect.
        """
        started = time.perf_counter()
        quote = connection.ops.quote_name
        lead = quote(Lead._meta.db_table)
        history = quote(LeadStatusChange._meta.db_table)
        steps = [
            # (from, to, moment, condition)
            ("''", "CASE WHEN became_lead_at = created_at THEN 'lead' "
             "ELSE 'prospect' END", "created_at", "TRUE"),
            ("'prospect'", "'lead'", "became_lead_at",
             "became_lead_at <> created_at"),
            ("'lead'", "'qualified'", "qualified_at",
             "status IN ('qualified', 'converted') AND qualified_at IS NOT NULL"),
            ("'lead'", "'disqualified'", "disqualified_at",
             "status = 'disqualified' AND disqualified_at IS NOT NULL"),
            ("'qualified'", "'converted'", "converted_at",
             "status = 'converted' AND converted_at IS NOT NULL"),
        ]  # fmt: skip
        count = 0
        with connection.cursor() as cursor:
            for before, after, moment, condition in steps:
                cursor.execute(
                    # Names and literals come from this module: no user input.
                    f"INSERT INTO {history} "  # noqa: S608  # nosec B608
                    "(lead_id, from_status, to_status, changed_at) "
                    f"SELECT id, {before}, {after}, {moment} FROM {lead} "
                    f"WHERE id >= %s AND {condition}",
                    [self.ids[Lead]],
                )
                count += cursor.rowcount
        table = LeadStatusChange._meta.db_table
        self.rows[table] = count
        self.seconds[table] = time.perf_counter() - started

    def _leads(self) -> None:
        rng, n = self.rng, self.n["leads"]
        first_id = self.ids[Lead]
        reps, offers = self.rep_ids, self.offer_ids
        start_t, end_t, span = self.start_t, self.end_t, HISTORY_DAYS * DAY
        max_converted = self.n["deals"] // 2
        # Children kept until their parents are written.
        self.act_lead, self.act_t = array("q"), array("d")
        self.act_plan, self.act_on = array("b"), array("b")
        self.act_owner = array("q")
        self.touch_lead, self.touch_t, self.touch_offer = (
            array("q"),
            array("d"),
            array("q"),
        )
        self.touch_source = array("b")
        self.q_lead, self.q_t, self.q_owner = array("q"), array("d"), array("q")
        self.q_qualified, self.q_score = array("b"), array("b")
        self.converted: list[tuple[int, int, str, float]] = []
        inbound_sources = [s for s, _ in INBOUND_SOURCES]
        inbound_weights = [w for _, w in INBOUND_SOURCES]
        outbound_sources = [s for s, _ in OUTBOUND_SOURCES]
        outbound_weights = [w for _, w in OUTBOUND_SOURCES]
        source_codes = {s: i for i, s in enumerate(Source.values)}
        self.source_values = Source.values
        counts = range(len(LEAD_ACTIVITY_WEIGHTS))
        prefix = self.email_prefix
        rnd, choice, choices = rng.random, rng.choice, rng.choices

        # Rows are appended as time goes by: ids and the table's physical order
        # follow created_at, as in production (period scans read few pages).
        created_times = sorted(start_t + rnd() * span for _ in range(n))

        def rows():
            for i in range(n):
                pk = first_id + i
                created = created_times[i]
                owner = choice(reps)
                inbound = rnd() < 0.45
                first_name = FIRST_NAMES[i % len(FIRST_NAMES)]
                last_name = LAST_NAMES[(i // 25) % len(LAST_NAMES)]
                offer = None
                if inbound:
                    channel = Channel.INBOUND
                    source = choices(inbound_sources, inbound_weights)[0]
                    if source == Source.CONTENT_DOWNLOAD:
                        offer = choice(offers)
                    became = created
                else:
                    channel = Channel.OUTBOUND
                    source = choices(outbound_sources, outbound_weights)[0]
                    became = (
                        None
                        if rnd() < 0.6
                        else min(created + rnd() * 30 * DAY, end_t - 60)
                    )
                status = LeadStatus.PROSPECT if became is None else LeadStatus.LEAD
                qualified = disqualified = converted = None
                decided = None
                if became is not None:
                    roll = rnd()
                    if roll < 0.45:
                        decided = became + rng.expovariate(1 / (4 * DAY))
                        if decided < end_t:
                            if roll < 0.17:
                                status = LeadStatus.DISQUALIFIED
                                disqualified = decided
                            else:
                                status = LeadStatus.QUALIFIED
                                qualified = decided
                                if roll < 0.37 and len(self.converted) < max_converted:
                                    converted = decided + rnd() * 10 * DAY
                                    if converted < end_t:
                                        status = LeadStatus.CONVERTED
                                        self.converted.append(
                                            (pk, owner, channel, converted)
                                        )
                                    else:
                                        converted = None
                        else:
                            decided = None
                # Activities: outbound people are first called (or e-mailed,
                # for a cold e-mail) while still prospects.
                k = choices(counts, LEAD_ACTIVITY_WEIGHTS)[0]
                engagement = Engagement()
                if k:
                    horizon = min(created + 60 * DAY, end_t - 1)
                    for j in range(k):
                        if j == 0 and inbound:
                            t = created + rng.expovariate(1 / (6 * 3600))
                            plan = PLAN_ANY
                        elif j == 0:
                            limit = became if became is not None else horizon
                            t = created + rnd() * max(limit - created, 60)
                            cold_email = source == Source.COLD_EMAIL
                            plan = PLAN_EMAIL if cold_email else PLAN_CALL
                        else:
                            t = created + rnd() * max(horizon - created, 60)
                            plan = PLAN_ANY
                        t = min(t, end_t - 1)
                        if status_at(t, became_lead_at=became) != LeadStatus.PROSPECT:
                            on = ON_LEAD
                        else:
                            # Inbound people are touched on creation.
                            on = ON_INBOUND_PROSPECT if inbound else ON_PROSPECT
                            if j and plan == PLAN_ANY:
                                plan = PLAN_NOT_CALL
                        self.act_lead.append(pk)
                        self.act_t.append(t)
                        self.act_plan.append(plan)
                        self.act_on.append(on)
                        self.act_owner.append(owner)
                        engagement.log(t)
                first_act = engagement.first_activity_at
                last_act = engagement.last_activity_at
                touches = 0
                if inbound:
                    touches = 1 if rnd() < 0.8 else choice((2, 3))
                    for j in range(touches):
                        self.touch_lead.append(pk)
                        self.touch_t.append(
                            created if j == 0 else created + rnd() * (end_t - created)
                        )
                        self.touch_offer.append(offer or 0)
                        self.touch_source.append(source_codes[source])
                score = None
                if decided is not None:
                    score = int(rnd() * 101)
                    self.q_lead.append(pk)
                    self.q_t.append(decided)
                    self.q_owner.append(owner)
                    self.q_qualified.append(disqualified is None)
                    self.q_score.append(score)
                updated = max(
                    t
                    for t in (created, became, decided, converted, last_act)
                    if t is not None
                )
                yield (
                    pk,
                    _ts(created),
                    _ts(updated),
                    status,
                    first_name,
                    last_name,
                    f"{first_name.lower()}.{last_name.lower()}.{i}@{prefix}.example",
                    f"+33 6 {i % 100:02d} {i // 100 % 100:02d} {i // 10000 % 100:02d}",
                    JOB_TITLES[i % len(JOB_TITLES)],
                    f"{WORDS[i % len(WORDS)]} {i % 5000}",
                    channel,
                    source,
                    offer,
                    owner,
                    score,
                    inbound and rnd() < 0.8,
                    _ts(became) if became is not None else None,
                    _ts(qualified) if qualified is not None else None,
                    _ts(disqualified) if disqualified is not None else None,
                    _ts(converted) if converted is not None else None,
                    touches,
                    engagement.activity_count,
                    _ts(first_act) if first_act is not None else None,
                    _ts(last_act) if last_act is not None else None,
                )

        self._write(
            Lead,
            [
                "id",
                "created_at",
                "updated_at",
                "status",
                "first_name",
                "last_name",
                "email",
                "phone",
                "job_title",
                "company_name",
                "channel",
                "source",
                "offer_id",
                "owner_id",
                "score",
                "consent",
                "became_lead_at",
                "qualified_at",
                "disqualified_at",
                "converted_at",
                "touch_count",
                "activity_count",
                "first_activity_at",
                "last_activity_at",
            ],
            n,
            rows(),
        )

    def _touches(self) -> None:
        first = self.ids[Touch]
        sources = self.source_values
        leads, times, offers, codes = (
            self.touch_lead,
            self.touch_t,
            self.touch_offer,
            self.touch_source,
        )

        def rows():
            for n, i in enumerate(_time_order(times)):
                yield (
                    first + n,
                    leads[i],
                    offers[i] or None,
                    Channel.INBOUND,
                    sources[codes[i]],
                    _ts(times[i]),
                    f"10.{i % 250}.{i // 250 % 250}.{i % 7 + 1}",
                    "https://www.example.com/resources",
                    "Mozilla/5.0 (bench)",
                )

        self._write(
            Touch,
            [
                "id",
                "lead_id",
                "offer_id",
                "channel",
                "source",
                "occurred_at",
                "ip_address",
                "page_url",
                "user_agent",
            ],
            len(leads),
            rows(),
        )
        del self.touch_lead, self.touch_t, self.touch_offer, self.touch_source

    def _qualifications(self) -> None:
        rng, first = self.rng, self.ids[Qualification]
        reasons = DisqualificationReason.values

        def rows():
            for n, i in enumerate(_time_order(self.q_t)):
                qualified = bool(self.q_qualified[i])
                bant = [rng.random() < (0.8 if qualified else 0.3) for _ in range(4)]
                yield (
                    first + n,
                    self.q_lead[i],
                    Decision.QUALIFIED if qualified else Decision.DISQUALIFIED,
                    *bant,
                    self.q_score[i],
                    "" if qualified else rng.choice(reasons),
                    "",
                    self.q_owner[i],
                    _ts(self.q_t[i]),
                )

        self._write(
            Qualification,
            [
                "id",
                "lead_id",
                "decision",
                "budget",
                "authority",
                "need",
                "timeline",
                "score",
                "reason",
                "notes",
                "decided_by_id",
                "decided_at",
            ],
            len(self.q_lead),
            rows(),
        )
        del self.q_lead, self.q_t, self.q_owner, self.q_qualified, self.q_score

    # -- deals ------------------------------------------------------------------

    def _deal_steps(self, created: float, owner: int) -> list[Step]:
        """Return a deal's steps: its creation, moves, and perhaps its close."""
        rng, end_t = self.rng, self.end_t
        stages = [stage.value for stage in STAGE_ORDER]
        index, t = 0, created
        steps = [Step(stages[0], DealStatus.OPEN, created, owner)]
        for _ in range(12):
            t += rng.expovariate(1 / (STAGE_DAYS * DAY))
            if t >= end_t:
                break
            roll = rng.random()
            if roll < 0.2 or (index == 4 and roll < 0.55):
                steps.append(Step(stages[index], DealStatus.LOST, t, owner))
                break
            if index == 4:
                steps.append(Step(stages[index], DealStatus.WON, t, owner))
                break
            if roll < 0.26 and index > 0:
                target = index - 1
            elif roll < 0.34 and index < 3:
                target = index + 2
            else:
                target = index + 1
            steps.append(Step(stages[target], DealStatus.OPEN, t, owner))
            index = target
        return steps

    def _deals(self) -> None:
        rng, n = self.rng, self.n["deals"]
        first_id = self.ids[Deal]
        first_company, n_companies = self.company_ids
        first_contact = self.ids[Contact]
        start_t, end_t, span = self.start_t, self.end_t, HISTORY_DAYS * DAY
        self.sc_deal, self.sc_from, self.sc_to = array("q"), array("b"), array("b")
        self.sc_from_status, self.sc_to_status = array("b"), array("b")
        self.sc_t, self.sc_by = array("d"), array("q")
        self.deal_act_from = len(self.act_lead)
        self.act_deal = array("q")
        counts = range(len(DEAL_ACTIVITY_WEIGHTS))
        lost_reasons = [r for r in LostReason.values if r != LostReason.OTHER]
        converted = self.converted

        # Converted leads' deals first (created on conversion), then the others;
        # written in creation order like the leads.
        origins = [
            (created, lead, owner, channel)
            for lead, owner, channel, created in converted
        ]
        origins.extend(
            (
                start_t + rng.random() * span,
                None,
                rng.choice(self.rep_ids),
                rng.choice((Channel.INBOUND, Channel.OUTBOUND)),
            )
            for _ in range(n - len(origins))
        )
        origins.sort(key=lambda origin: origin[0])

        def rows():
            for i in range(n):
                pk = first_id + i
                created, lead, owner, channel = origins[i]
                built = deal_history(self._deal_steps(created, owner))
                for change in built.changes:
                    self.sc_deal.append(pk)
                    self.sc_from.append(STAGE_CODES[change.from_stage])
                    self.sc_to.append(STAGE_CODES[change.to_stage])
                    self.sc_from_status.append(STATUS_CODES[change.from_status])
                    self.sc_to_status.append(STATUS_CODES[change.to_status])
                    self.sc_t.append(change.changed_at)
                    self.sc_by.append(change.changed_by)
                closed, entered = built.closed_at, built.stage_entered_at
                k = rng.choices(counts, DEAL_ACTIVITY_WEIGHTS)[0]
                engagement = Engagement()
                horizon = closed if closed is not None else end_t - 1
                for _ in range(k):
                    t = created + rng.random() * (horizon - created)
                    self.act_lead.append(0)
                    self.act_deal.append(pk)
                    self.act_t.append(t)
                    self.act_plan.append(PLAN_ANY)
                    self.act_on.append(ON_NO_LEAD)
                    self.act_owner.append(owner)
                    engagement.log(t)
                last_act = engagement.last_activity_at
                company = rng.randrange(n_companies)
                amount = Decimal(round(rng.lognormvariate(8.5, 0.9), -1) + 100)
                updated = max(closed or entered, last_act or created)
                yield (
                    pk,
                    _ts(created),
                    _ts(updated),
                    f"{WORDS[company % len(WORDS)]} {company} - deal {i}",
                    owner,
                    first_company + company,
                    first_contact + company,
                    lead,
                    channel,
                    amount,
                    "USD" if company % 7 == 0 else "EUR",
                    int(rng.random() * 90) + 5 if rng.random() < 0.1 else None,
                    _ts(created + 45 * DAY).date(),
                    built.stage,
                    built.status,
                    rng.choice(lost_reasons) if built.status == DealStatus.LOST else "",
                    "",
                    _ts(closed) if closed is not None else None,
                    _ts(entered),
                    built.deepest_stage,
                    _ts(last_act) if last_act is not None else None,
                    built.version,
                )

        self._write(
            Deal,
            [
                "id",
                "created_at",
                "updated_at",
                "title",
                "owner_id",
                "company_id",
                "contact_id",
                "lead_id",
                "channel",
                "amount",
                "currency",
                "probability",
                "expected_close_on",
                "stage",
                "status",
                "lost_reason",
                "lost_notes",
                "closed_at",
                "stage_entered_at",
                "deepest_stage",
                "last_activity_at",
                "version",
            ],
            n,
            rows(),
        )
        del self.converted

    def _stage_changes(self) -> None:
        first = self.ids[StageChange]
        stages = [s.value for s in STAGE_ORDER]

        def rows():
            for n, i in enumerate(_time_order(self.sc_t)):
                from_i = self.sc_from[i]
                yield (
                    first + n,
                    self.sc_deal[i],
                    stages[from_i] if from_i >= 0 else "",
                    stages[self.sc_to[i]],
                    STATUS_NAMES[self.sc_from_status[i]],
                    STATUS_NAMES[self.sc_to_status[i]],
                    self.sc_by[i],
                    _ts(self.sc_t[i]),
                )

        self._write(
            StageChange,
            [
                "id",
                "deal_id",
                "from_stage",
                "to_stage",
                "from_status",
                "to_status",
                "changed_by_id",
                "changed_at",
            ],
            len(self.sc_deal),
            rows(),
        )
        del self.sc_deal, self.sc_from, self.sc_to, self.sc_t, self.sc_by

    # -- activities -------------------------------------------------------------

    def _activities(self) -> None:
        """Write the leads' and deals' activities, then contacts' up to the total."""
        rng, first = self.rng, self.ids[Activity]
        first_contact = self.ids[Contact]
        n_companies = self.company_ids[1]
        kept = len(self.act_lead)
        extra = max(0, self.n["activities"] - kept)
        deal_from = self.deal_act_from
        start_t, span = self.start_t, HISTORY_DAYS * DAY
        rnd, choice = rng.random, rng.choice

        def activity(pk, t, plan, on, lead, contact, deal, owner):
            if plan == PLAN_CALL or (plan == PLAN_ANY and rnd() < 0.45):
                kind, direction = ActivityKind.CALL, Direction.OUTBOUND
                outcome = choice(CALL_OUTCOMES)
                duration = int(rng.expovariate(1 / 180)) + 5
            elif plan == PLAN_EMAIL:
                kind, direction = ActivityKind.EMAIL, Direction.OUTBOUND
                outcome, duration = "", None
            else:
                kind = choice(NON_CALL_KINDS)
                direction = Direction.INBOUND if rnd() < 0.3 else Direction.OUTBOUND
                outcome, duration = "", None
            at = _ts(t)
            return (
                pk,
                kind,
                direction,
                outcome,
                is_cold_call(
                    kind=kind,
                    direction=direction,
                    lead_status=ON_STATUS[on],
                    came_inbound=on == ON_INBOUND_PROSPECT,
                ),
                at,
                duration,
                lead,
                contact,
                deal,
                owner,
                "",
                at,
            )

        # Contacts' activities join the others, then all are written in time order.
        deal_of = array("q", bytes(8 * deal_from)) + self.act_deal
        contact_of = array("q", bytes(8 * kept))
        for _ in range(extra):
            company = rng.randrange(n_companies)
            self.act_t.append(
                max(start_t + rnd() * span, self.company_created[company])
            )
            self.act_lead.append(0)
            self.act_plan.append(PLAN_ANY)
            self.act_on.append(ON_NO_LEAD)
            self.act_owner.append(self.company_owner[company])
            deal_of.append(0)
            contact_of.append(first_contact + company)

        def rows():
            for n, i in enumerate(_time_order(self.act_t)):
                yield activity(
                    first + n,
                    self.act_t[i],
                    self.act_plan[i],
                    self.act_on[i],
                    self.act_lead[i] or None,
                    contact_of[i] or None,
                    deal_of[i] or None,
                    self.act_owner[i],
                )

        self._write(
            Activity,
            [
                "id",
                "kind",
                "direction",
                "outcome",
                "is_cold_call",
                "occurred_at",
                "duration_seconds",
                "lead_id",
                "contact_id",
                "deal_id",
                "owner_id",
                "notes",
                "created_at",
            ],
            kept + extra,
            rows(),
        )
        del self.act_lead, self.act_t, self.act_plan, self.act_on, self.act_owner
        del self.act_deal

    def _first_responses(self) -> None:
        """Each lead's first response, and the cold calls that won a prospect
        over, from the activities just written.

        An activity's kind and direction are drawn when it is written (in time
        order, after the leads), so the columns are set afterwards, by the
        statements the migrations run, rather than folded with the counters.
        """
        started = time.perf_counter()
        fill_first_responses(connection, lead_model=Lead, activity_model=Activity)
        self.seconds["first_response_at"] = time.perf_counter() - started
        started = time.perf_counter()
        fill_cold_calls_led_to_lead(Activity)
        self.seconds["led_to_lead"] = time.perf_counter() - started

    def _targets(self) -> None:
        """Targets of the last full quarter: organisation, each team, each rep."""
        start = _last_full_quarter(self.anchor.date())[0]
        first = self.ids[KpiTarget]
        at = self.anchor
        scopes = [(None, None)] + [(t, None) for t in self.team_ids]
        scopes += [(None, r) for r in self.rep_ids]
        kpis = (
            (KpiKey.WIN_RATE, Decimal("0.3"), ""),
            (KpiKey.NEW_LEADS, Decimal(1000), ""),
            (KpiKey.REVENUE_WON, Decimal(100000), "EUR"),
        )

        def rows():
            pk = first
            for team, owner in scopes:
                for kpi, value, currency in kpis:
                    yield (
                        pk,
                        kpi,
                        PeriodKind.QUARTER,
                        start,
                        team,
                        owner,
                        value,
                        currency,
                        at,
                        at,
                    )
                    pk += 1

        self._write(
            KpiTarget,
            [
                "id",
                "kpi",
                "period_kind",
                "period_start",
                "team_id",
                "owner_id",
                "value",
                "currency",
                "created_at",
                "updated_at",
            ],
            len(scopes) * len(kpis),
            rows(),
        )


def _time_order(times) -> list[int]:
    """Return the indexes of ``times`` in time order (rows are written so)."""
    return sorted(range(len(times)), key=times.__getitem__)


def _last_full_quarter(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """Return the first and last day of the last quarter ended before ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    this_quarter = datetime.date(day.year, first_month, 1)
    end = this_quarter - datetime.timedelta(days=1)
    start = datetime.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    return start, end


last_full_quarter = _last_full_quarter


def generate(*, scale: float, seed: int = SEED, progress: bool = True) -> Dataset:
    """Write the synthetic dataset into the current database; return its facts."""
    return Generator(scale=scale, seed=seed, progress=progress).run()
