"""The board: a rep's open deals in five columns, moved through ``deal_move``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from crm import policy
from crm.errors import Conflict, StaleVersion
from crm.models import User
from pipeline import services
from pipeline.forms import DealMoveForm
from pipeline.models import (
    STAGE_ORDER,
    WIN_FROM,
    Deal,
    LostReason,
    Stage,
    StageRules,
)


@dataclass
class Column:
    stage: Stage
    count: int = 0
    # currency -> (amount, weighted amount)
    totals: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    deals: list[Deal] = field(default_factory=list)


def _pickable_owners(user: User):
    """Return the reps whose board ``user`` may open (empty for a rep)."""
    return policy.board_owner_choices(user).order_by("first_name", "username")


@login_required
def board(request: HttpRequest) -> HttpResponse:
    """Show open deals by stage with counts, totals and weighted totals."""
    user = request.user
    if not policy.is_sales_user(user):
        raise PermissionDenied
    owners = _pickable_owners(user)
    owner = None
    if request.GET.get("owner"):
        if not request.GET["owner"].isdigit():
            raise Http404(_("No such rep."))
        owner = get_object_or_404(owners, pk=request.GET["owner"])
    deals = Deal.objects.visible_to(user).open()
    if owner is not None:
        deals = deals.filter(owner=owner)
    rules = StageRules.load()

    columns = {stage.value: Column(stage=stage) for stage in STAGE_ORDER}
    # One grouped query for every column's figures.
    totals = (
        deals.order_by()
        .values("stage", "currency")
        .annotate(
            n=Count("pk"),
            total=Sum("amount"),
            weighted_total=Sum(rules.weighted_amount_expression()),
        )
    )
    for row in totals:
        column = columns[row["stage"]]
        column.count += row["n"]
        column.totals[row["currency"]] = (row["total"], row["weighted_total"])
    # One query for the cards.
    cards = (
        deals.with_staleness(rules)
        .annotate(effective_probability=rules.probability_expression())
        .select_related("owner", "company")
        .order_by("stage_entered_at", "pk")
    )
    for deal in cards:
        # The move form offers the next stage first (the usual move).
        index = STAGE_ORDER.index(Stage(deal.stage))
        deal.next_stage = STAGE_ORDER[min(index + 1, len(STAGE_ORDER) - 1)].value
        deal.can_win = deal.stage in WIN_FROM
        columns[deal.stage].deals.append(deal)

    return render(
        request,
        "pipeline/board.html",
        {
            "columns": list(columns.values()),
            "owners": owners,
            "owner": owner,
            "stages": Stage.choices,
            "lost_reasons": LostReason.choices,
            "move_form": DealMoveForm(),
        },
    )


@login_required
@require_POST
def board_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal from its board card, then go back to the board."""
    deal = get_object_or_404(Deal.objects.visible_to(request.user), pk=pk)
    form = DealMoveForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("%(deal)s: choose a stage to move to.") % {"deal": deal}
        )
    else:
        try:
            services.deal_move(
                deal=deal,
                to_stage=form.cleaned_data["stage"],
                by=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except StaleVersion:
            messages.error(
                request,
                _(
                    "%(deal)s: someone changed it after this board was loaded, so "
                    "it was not moved. The board now shows it as it is: try again."
                )
                % {"deal": deal},
            )
        except (Conflict, ValidationError) as exc:
            text = exc.message if isinstance(exc, Conflict) else "; ".join(exc.messages)
            messages.error(
                request, _("%(deal)s: %(error)s") % {"deal": deal, "error": text}
            )
        else:
            label = Stage(form.cleaned_data["stage"]).label
            messages.success(
                request,
                _("%(deal)s moved to %(stage)s.") % {"deal": deal, "stage": label},
            )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("pipeline:board")
    return redirect(target)
