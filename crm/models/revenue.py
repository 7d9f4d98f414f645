"""The MRR movement ledger: how each customer's recurring revenue changed, and
when; the customer ledger: when each company became or stopped being a customer.

Subscriptions say what runs; the ledgers say what moved. The subscription
services (``crm.services``) post both in the same transaction as each start, end
or plan change (``crm.mrr_ledger``), and the revenue and customer KPIs read
only the ledgers (and their rollups).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import formatting, policy
from crm.models.core import AppendOnly, Company, User


class MovementKind(models.TextChoices):
    NEW = "new", _("New")
    EXPANSION = "expansion", _("Expansion")
    CONTRACTION = "contraction", _("Contraction")
    CHURN = "churn", _("Churn")
    REACTIVATION = "reactivation", _("Reactivation")


class MrrMovementQuerySet(models.QuerySet["MrrMovement"]):
    def visible_to(self, user: User) -> MrrMovementQuerySet:
        """Return the movements of the customers in a user's scope."""
        return policy.visible(user, self)


class PostedRow(AppendOnly):
    """A row the subscription services post to one of a customer's ledgers:
    the day it is effective, and when and by whom it was recorded."""

    effective_on = models.DateField(verbose_name=_("effective on"))
    recorded_at = models.DateTimeField(
        default=timezone.now, verbose_name=_("recorded at")
    )
    recorded_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        abstract = True


class MrrMovement(PostedRow):
    """One change of a customer's MRR in one currency on one day. Append-only.

    ``amount`` is the signed change of the customer's MRR (new, expansion and
    reactivation add; contraction and churn subtract), so a customer's MRR at
    the end of a day is the sum of its movements up to that day. A correction
    (a backdated sync, a same-day end and start) is posted as further rows
    that net the day out, never as an edit: the sum of a customer's rows of
    one day and kind is that day's movement.
    """

    history = "The MRR ledger"

    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="mrr_movements",
        verbose_name=_("company"),
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    kind = models.CharField(
        max_length=12, choices=MovementKind.choices, verbose_name=_("kind")
    )
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, verbose_name=_("amount")
    )

    objects = MrrMovementQuerySet.as_manager()

    CSV_COLUMNS = (
        ("id", "pk"),
        ("company_id", "company_id"),
        ("currency", "currency"),
        ("kind", "kind"),
        ("effective_on", "effective_on"),
        ("amount", "amount"),
        ("recorded_at", "recorded_at"),
    )

    class Meta:
        verbose_name = _("MRR movement")
        verbose_name_plural = _("MRR movements")
        ordering = ["effective_on", "pk"]
        indexes = [
            # Revenue KPIs (metrics.kpis): every movement up to a period's end,
            # grouped by currency, carrying what the sums read.
            models.Index(
                fields=["effective_on"],
                include=["currency", "kind", "amount", "company"],
                name="mrrmovement_effective",
            ),
            # Posting (crm.mrr_ledger): one customer's ledger in one currency.
            models.Index(
                fields=["company", "currency", "effective_on"],
                name="mrrmovement_company_day",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MovementKind.values),
                name="mrrmovement_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return _("%(company)s, %(day)s: %(kind)s %(amount)s") % {
            "company": self.company,
            "day": formatting.day(self.effective_on),
            "kind": self.get_kind_display(),
            "amount": formatting.money(self.amount, self.currency),
        }


class MrrSums(models.Model):
    """What the MRR rollups key after their day (or month) and owner, and what
    they sum: the movements' signed amount and their number."""

    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=12, choices=MovementKind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    movements = models.IntegerField(default=0)

    class Meta:
        abstract = True


class MrrDaily(MrrSums):
    """The MRR ledger summed per day, owner, currency and kind: an exact rollup.

    Maintained by ``crm.rollups`` in the transaction of each ledger row (and
    moved with a customer when it changes owner), so the revenue KPIs sum a
    few rows per day and owner instead of every movement ever posted. The
    owner is the customer's current owner, as the KPIs' segments filter.
    ``verify_rollups`` recomputes it from the ledger.
    """

    day = models.DateField()
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("daily MRR rollup")
        verbose_name_plural = _("daily MRR rollups")
        ordering = ["day", "owner", "currency", "kind"]
        constraints = [
            # The upserts' conflict target; also serves the KPIs' day range.
            models.UniqueConstraint(
                fields=["day", "owner", "currency", "kind"], name="mrrdaily_key"
            ),
        ]

    def __str__(self) -> str:
        return _("%(day)s, owner #%(owner)s: %(kind)s %(amount)s") % {
            "day": formatting.day(self.day),
            "owner": self.owner_id,
            "kind": self.get_kind_display(),
            "amount": formatting.money(self.amount, self.currency),
        }


# The owner of a monthly rollup's rows for the whole organisation (every owner
# summed): such rows keep ``owner_id`` a user's id or 0, not a foreign key.
EVERYONE = 0


class MrrMonthly(MrrSums):
    """The daily MRR rollup summed per month, per owner and for everyone.

    The same rows as ``MrrDaily`` with the day's month (its first day) in
    place of the day, each also summed under the owner ``EVERYONE`` (0). The
    revenue KPIs read whole months here and only the days of a month that a
    period's bound splits from ``MrrDaily``: the organisation's MRR at any
    moment is then a few rows per month and kind, however many customers and
    reps it has. Kept with the daily rows, in the same transaction, by
    ``crm.rollups``; ``verify_rollups`` recomputes it from the ledger.
    """

    month = models.DateField()
    # A user's id, or EVERYONE (0): every owner summed.
    owner_id = models.IntegerField()

    class Meta:
        verbose_name = _("monthly MRR rollup")
        verbose_name_plural = _("monthly MRR rollups")
        ordering = ["month", "owner_id", "currency", "kind"]
        constraints = [
            # The upserts' conflict target; also serves the KPIs' month range
            # of one owner (or of everyone): owner first, or the organisation
            # would read every owner's months (a sequential scan at 500 reps).
            models.UniqueConstraint(
                fields=["owner_id", "month", "currency", "kind"],
                name="mrrmonthly_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month} {self.owner_id} {self.currency} {self.kind} {self.amount}"


class CustomerChange(PostedRow):
    """A company becoming a customer (+1) or ceasing to be one (-1) on a day.
    Append-only.

    A company is a customer at the end of a day when one of its subscriptions
    (in any currency, at any MRR, free plans included) runs then, so its
    changes sum to 1 or 0 at every day's end. Posted with the MRR ledger from
    the same subscriptions (``crm.mrr_ledger``); a correction is posted as
    further rows netting the day out, never as an edit. The customer KPIs
    (customers on a day, customer churn) read these rows and their rollups.
    """

    history = "The customer ledger"

    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="customer_changes",
        verbose_name=_("company"),
    )
    change = models.SmallIntegerField(verbose_name=_("change"))

    class Meta:
        verbose_name = _("customer change")
        verbose_name_plural = _("customer changes")
        ordering = ["effective_on", "pk"]
        indexes = [
            # Posting, a company's changes moved to a new owner, its state on
            # a day. (Churn reads the spells.)
            models.Index(
                fields=["company", "effective_on"],
                include=["change"],
                name="customerchange_company_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.effective_on} {self.change:+d}"


class CustomerSpell(models.Model):
    """A stretch of days during which a company was a customer: the customer
    ledger read as periods, kept with it.

    The company is a customer at the end of each day from ``started_on`` (its
    +1) up to the day before ``ended_on`` (its -1; none while it still is
    one); ``returned_on`` is the start of its next spell, if any. Not history:
    a projection of the ledger's netted changes, rewritten for a company by
    ``crm.mrr_ledger`` in the transaction that posts its changes, and checked
    against the ledger by ``verify_rollups``. Customer churn reads the spells
    that ended in a span of days (their own index) instead of summing each
    lost company's ledger rows up to every boundary.
    """

    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        related_name="customer_spells",
        verbose_name=_("company"),
    )
    started_on = models.DateField(verbose_name=_("customer from"))
    ended_on = models.DateField(null=True, blank=True, verbose_name=_("customer until"))
    returned_on = models.DateField(
        null=True, blank=True, verbose_name=_("customer again from")
    )

    class Meta:
        verbose_name = _("customer spell")
        verbose_name_plural = _("customer spells")
        ordering = ["company", "started_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "started_on"], name="customerspell_key"
            ),
        ]
        indexes = [
            # Customer churn (metrics.kpis.customers): the spells that ended
            # in a span, read index-only for the organisation.
            models.Index(
                fields=["ended_on"],
                include=["started_on", "returned_on", "company"],
                condition=Q(ended_on__isnull=False),
                name="customerspell_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.started_on}..{self.ended_on or ''}"


class CustomerDaily(models.Model):
    """The customer ledger summed per day and owner: an exact rollup.

    ``customers`` is the day's net change in the number of customers (those
    who became customers less those who stopped). Kept by ``crm.rollups`` in
    the transaction of each ledger row and moved with a customer when it
    changes owner, as the daily MRR rollup is.
    """

    day = models.DateField()
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    customers = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily customer rollup")
        verbose_name_plural = _("daily customer rollups")
        ordering = ["day", "owner"]
        constraints = [
            models.UniqueConstraint(fields=["day", "owner"], name="customerdaily_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.customers:+d}"


class CustomerMonthly(models.Model):
    """The daily customer rollup summed per month, per owner and for everyone
    (``EVERYONE``), as ``MrrMonthly`` sums the daily MRR rollup: the number of
    customers at a month's end is a few rows per month, however many
    customers and reps."""

    month = models.DateField()
    # A user's id, or EVERYONE (0): every owner summed.
    owner_id = models.IntegerField()
    customers = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("monthly customer rollup")
        verbose_name_plural = _("monthly customer rollups")
        ordering = ["month", "owner_id"]
        constraints = [
            # Owner first, as the monthly MRR rollup's key.
            models.UniqueConstraint(
                fields=["owner_id", "month"], name="customermonthly_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month} {self.owner_id} {self.customers:+d}"
