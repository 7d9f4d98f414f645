"""API permissions of the leads app."""

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from crm import policy
from crm.permissions import IsSalesUser


class OfferEditorOrReadOnly(IsSalesUser):
    """Every sales user reads offers; managers, integrations and admins edit them."""

    message = _("Only managers, integrations and admins can change content offers.")

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return policy.may_edit_offers(request.user)
