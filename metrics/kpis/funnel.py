"""The funnel: how deep the deals created in a period ever went."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from metrics.kpis.deals import StageRow, open_on
from metrics.kpis.numbers import ratio
from metrics.segments import Period, Segment
from pipeline.models import (
    STAGE_ORDER,
    Deal,
    DealStatus,
    FunnelDaily,
    Stage,
)
from pipeline.rollups import deal_depth


@dataclass(frozen=True)
class FunnelStage:
    stage: str
    label: str
    reached: int
    # Share of the previous stage's deals that reached this one (None first).
    conversion_from_previous: Decimal | None


@dataclass(frozen=True)
class Funnel:
    """Deals created in the period, how deep they ever went, and the open pipeline."""

    created: int
    stages: tuple[FunnelStage, ...]
    won: int
    # Share of the deals that reached closing that are won (None: none did).
    closing_to_won_rate: Decimal | None
    open_on_end: tuple[StageRow, ...]


def _deals_by_depth(period: Period, segment: Segment) -> list[dict]:
    """Count the period's new deals by depth, with the won ones (1 query).

    For the whole organisation, from the daily funnel rollup
    (``FunnelDaily``: a few rows a day instead of every deal); for a team or
    a rep, whose deals the rollup does not split, from their deals in one
    grouped pass. Each row: depth, n, won.
    """
    if segment.owned("owner"):
        start_at, end_at = period.bounds()
        return list(
            Deal.objects.filter(
                segment.owned("owner"),
                segment.on_channel("channel"),
                created_at__gte=start_at,
                created_at__lt=end_at,
            )
            .annotate(depth=deal_depth())
            .values("depth")
            .annotate(n=Count("pk"), won=Count("pk", filter=Q(status=DealStatus.WON)))
            .order_by()
        )
    return list(
        FunnelDaily.objects.filter(
            segment.on_channel("channel"), day__gte=period.start, day__lte=period.end
        )
        .values("depth")
        .annotate(n=Sum("deals"), won=Sum("won"))
        .order_by()
    )


def funnel(*, period: Period, segment: Segment) -> Funnel:
    """Return the funnel of the deals created in the period (3 queries).

    Each deal's depth is the deepest stage it ever reached in its whole
    history, which the services keep on the deal (``Deal.deepest_stage``),
    or its current stage if deeper (a deal written without the services),
    so a deal that skipped a stage passed it, one that went back and forth
    counts once, and counts never grow down the funnel. One GROUP BY depth
    over the period's deals (the organisation's: over its daily rollup),
    then cumulative sums over at most 5 rows.
    """
    rows = _deals_by_depth(period, segment)
    at_depth = {row["depth"]: row["n"] for row in rows}
    stages, previous = [], None
    for i, stage in enumerate(STAGE_ORDER):
        reached = sum(n for depth, n in at_depth.items() if depth >= i)
        stages.append(
            FunnelStage(
                stage=stage.value,
                label=Stage(stage).label,
                reached=reached,
                conversion_from_previous=(
                    None if previous is None else ratio(reached, previous)
                ),
            )
        )
        previous = reached
    won = sum(row["won"] for row in rows)
    return Funnel(
        created=sum(at_depth.values()),
        stages=tuple(stages),
        won=won,
        # Only a deal in closing can be won (WIN_FROM), so won <= reached.
        closing_to_won_rate=ratio(won, stages[-1].reached),
        open_on_end=open_on(period.end, segment),
    )
