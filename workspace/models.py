"""A rep's saved views of the lead and deal lists: a name for a set of filters."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm import policy
from crm.models import User


class ListKind(models.TextChoices):
    LEADS = "leads", _("Leads")
    DEALS = "deals", _("Deals")


class SavedViewQuerySet(models.QuerySet["SavedView"]):
    def visible_to(self, user: User) -> SavedViewQuerySet:
        """Return the user's own saved views (``policy``: they are personal)."""
        return policy.visible(user, self)


class SavedView(models.Model):
    """The filters and sorting of a list, kept under a name by its owner.

    ``query`` is the list page's query string as the filter form wrote it; the
    form parses it again on every use, so a view saved before a filter changed
    shows the errors of that filter instead of failing.
    """

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=ListKind.choices)
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind", "name"],
                name="saved_view_name_unique",
                violation_error_message=_("You already have a view with this name."),
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ListKind.values), name="saved_view_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name
