"""After the load: is every acknowledged write in the database, exactly once?

Reads the writes locust recorded (the ids and keys of 2xx answers, and the
writes left unanswered) and checks them against the database, then checks the
invariants that concurrent writers could break: a deal's version equals its
history rows, a lead's counters equal its rows. Each check returns the
violations it found (empty: held), with a few examples.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Q
from django.db.models.functions import Lower

from leads.models import Lead, Touch
from pipeline.models import Activity, Deal, StageChange

EXAMPLES = 5


def _emails_count(emails: Iterable[str]) -> Counter:
    wanted = {e.lower() for e in emails}
    found: Counter = Counter()
    chunk = list(wanted)
    for i in range(0, len(chunk), 5000):
        found.update(
            Lead.objects.annotate(e=Lower("email"))
            .filter(e__in=chunk[i : i + 5000])
            .values_list("e", flat=True)
        )
    return found


def _check(name: str, checked: int, bad: list) -> dict:
    return {
        "check": name,
        "checked": checked,
        "violations": len(bad),
        "examples": bad[:EXAMPLES],
    }


def acknowledged_leads(writes: list[dict]) -> dict:
    """Every lead a 201 acknowledged exists, once, with its id and e-mail."""
    acked = [w for w in writes if w["kind"] == "lead"]
    counts = _emails_count(w["email"] for w in acked)
    by_id = dict(
        Lead.objects.filter(pk__in=[w["id"] for w in acked]).values_list("pk", "email")
    )
    bad = [
        w
        for w in acked
        if counts[w["email"].lower()] != 1
        or by_id.get(w["id"], "").lower() != w["email"].lower()
    ]
    return _check(
        "every acknowledged lead create is stored exactly once", len(acked), bad
    )


def replays(writes: list[dict]) -> dict:
    """A request sent again with its key got the first answer back (when it got
    an answer at all: a timed-out replay says nothing either way)."""
    sent = [w for w in writes if w["kind"] == "replay" and w.get("status", 1)]
    bad = [w for w in sent if not w["same"]]
    return _check("a retried key returns the first answer", len(sent), bad)


def unanswered(writes: list[dict]) -> dict:
    """A write never answered (its server killed) was done at most once."""
    lost = [w for w in writes if w["kind"] == "unacknowledged" and "email" in w]
    counts = _emails_count(w["email"] for w in lost)
    bad = [w for w in lost if counts[w["email"].lower()] > 1]
    return _check(
        "an unanswered create, retried with its key, made no duplicate", len(lost), bad
    )


def captures(writes: list[dict]) -> dict:
    """Every acknowledged capture left one lead with its e-mail and a touch."""
    acked = [w for w in writes if w["kind"] == "capture"]
    counts = _emails_count(w["email"] for w in acked)
    touched = Counter(
        Touch.objects.annotate(e=Lower("lead__email"))
        .filter(e__in=[w["email"].lower() for w in acked])
        .values_list("e", flat=True)
    )
    bad = [
        w
        for w in acked
        if counts[w["email"].lower()] != 1 or touched[w["email"].lower()] < 1
    ]
    return _check("every acknowledged capture is stored exactly once", len(acked), bad)


def activities(writes: list[dict]) -> dict:
    """Every acknowledged activity exists, on its lead."""
    acked = [w for w in writes if w["kind"] == "activity"]
    stored = dict(
        Activity.objects.filter(pk__in=[w["id"] for w in acked]).values_list(
            "pk", "lead_id"
        )
    )
    bad = [w for w in acked if stored.get(w["id"]) != w["lead"]]
    return _check("every acknowledged activity is stored", len(acked), bad)


def moves(writes: list[dict]) -> dict:
    """Every acknowledged move is in its deal's history at its version."""
    acked = [w for w in writes if w["kind"] == "move"]
    deals = {w["deal"] for w in acked}
    history: dict[int, set] = defaultdict(set)
    for deal, stage, n in _history_positions(deals):
        history[deal].add((stage, n))
    bad = [w for w in acked if (w["stage"], w["version"]) not in history[w["deal"]]]
    return _check("every acknowledged move is a history row", len(acked), bad)


def _history_positions(deals: set[int]):
    """Yield (deal, to_stage, n): the n-th history row of each deal (from 1)."""
    from django.db.models import Window
    from django.db.models.functions import RowNumber

    rows = (
        StageChange.objects.filter(deal_id__in=deals)
        .annotate(
            n=Window(RowNumber(), partition_by=[F("deal_id")], order_by=[F("pk")])
        )
        .values_list("deal_id", "to_stage", "n")
    )
    yield from rows


def lead_updates(writes: list[dict]) -> dict:
    """A lead's job title is its last acknowledged update, or a later attempt's."""
    by_lead: dict[int, list[dict]] = defaultdict(list)
    for w in writes:
        if w["kind"] == "lead_update":
            by_lead[w["id"]].append(w)
    stored = dict(
        Lead.objects.filter(pk__in=list(by_lead)).values_list("pk", "job_title")
    )
    bad = []
    for pk, attempts in by_lead.items():
        attempts.sort(key=lambda w: w["t"])
        acked = [i for i, w in enumerate(attempts) if 200 <= w["status"] < 300]
        if not acked:
            continue
        allowed = {w["job_title"] for w in attempts[acked[-1] :]}
        if stored.get(pk) not in allowed:
            bad.append(
                {"lead": pk, "stored": stored.get(pk), "allowed": sorted(allowed)}
            )
    return _check("every lead keeps its last acknowledged update", len(by_lead), bad)


def deal_versions() -> dict:
    """Every deal's version equals its history rows (one per transition)."""
    bad_qs = (
        Deal.objects.annotate(rows=Count("stage_changes"))
        .exclude(version=F("rows"))
        .values("pk", "version", "rows")
    )
    result = _check(
        "every deal's version equals its history rows",
        Deal.objects.count(),
        list(bad_qs[:EXAMPLES]),
    )
    result["violations"] = bad_qs.count()
    return result


def lead_counters(writes: list[dict]) -> dict:
    """The counters of the leads written to equal their rows."""
    leads = {
        w["lead"]
        for w in writes
        if w["kind"] in ("activity", "unacknowledged") and "lead" in w
    }
    leads |= {w["id"] for w in writes if w["kind"] == "lead"}
    emails = [w["email"].lower() for w in writes if w["kind"] == "capture"]
    rows = (
        Lead.objects.annotate(e=Lower("email"))
        .filter(Q(pk__in=leads) | Q(e__in=emails))
        .annotate(
            n_activities=Count(
                "activities",
                filter=Q(activities__occurred_at__isnull=False),
                distinct=True,
            ),
            n_touches=Count("touches", distinct=True),
        )
        .exclude(activity_count=F("n_activities"), touch_count=F("n_touches"))
        .values("pk", "activity_count", "n_activities", "touch_count", "n_touches")
    )
    bad = list(rows)
    return _check(
        "every written lead's activity and touch counters equal their rows",
        len(leads) + len(emails),
        bad,
    )


def check_all(writes: list[dict]) -> list[dict]:
    return [
        acknowledged_leads(writes),
        replays(writes),
        unanswered(writes),
        captures(writes),
        activities(writes),
        moves(writes),
        lead_updates(writes),
        lead_counters(writes),
        deal_versions(),
    ]
