"""API permission classes: thin adapters over ``crm.policy``."""

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from crm import policy


class IsSalesUser(permissions.BasePermission):
    """Any active CRM user: rep, manager, integration or admin."""

    message = _("You need a CRM account to use the API.")

    def has_permission(self, request, view) -> bool:
        return policy.is_sales_user(request.user)


class CanChangeOrReadOnly(IsSalesUser):
    """Everyone in scope reads; writes and deletions ask the policy."""

    message = _("Only the owner, the owner's manager or an admin can change this.")

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        if request.method == "DELETE":
            self.message = _(
                "Only the owner, the owner's manager or an admin can delete this."
            )
            return policy.may_delete(request.user, obj)
        return policy.may_change(request.user, obj)


class IsAdminOrIntegration(permissions.BasePermission):
    """Admins and integration users (webhook management)."""

    message = _("Only admins and integration users manage webhooks.")

    def has_permission(self, request, view) -> bool:
        return policy.may_manage_webhooks(request.user)
