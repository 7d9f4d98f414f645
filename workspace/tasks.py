"""Tasks: planned activities with a due time and an owner, until done.

A task is an ``Activity`` with ``done=False`` (``pipeline.activities``): planning
one is ``activity_log(done=False, due_at=...)``, completing it is
``activity_complete``, which logs it as if it had just happened.
"""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from crm import policy
from crm.models import User
from pipeline.models import Activity

PER_LIST = 20


def _end_of_today(now: datetime.datetime) -> datetime.datetime:
    tomorrow = timezone.localdate(now) + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(tomorrow, datetime.time()))


def open_tasks(user: User) -> QuerySet[Activity]:
    """Return the planned activities in the user's scope, soonest due first."""
    return (
        Activity.objects.visible_to(user)
        .filter(done=False)
        .select_related("owner", "lead", "deal", "contact", "company")
        .order_by("due_at", "pk")
    )


def tasks_of(user: User, subject: Q) -> list[Activity]:
    """Return the open tasks on one record (``subject``: ``Q(lead=...)``...)."""
    return list(open_tasks(user).filter(subject)[:PER_LIST])


def due_for(user: User, now: datetime.datetime) -> QuerySet[Activity]:
    """Return the user's own tasks that are overdue or due today.

    Served by the partial index ``activity_planned_owner_due``.
    """
    return Activity.objects.filter(
        owner=user, done=False, due_at__lt=_end_of_today(now)
    )


def remember_due_count(request: HttpRequest, count: int) -> None:
    """Let the navigation's badge reuse a count a page has already read."""
    request._tasks_due_count = count


def badge(request: HttpRequest) -> dict:
    """Context processor: the navigation's count of the user's tasks due today.

    One ``COUNT`` per request, and none for anonymous visitors or users who
    do not sell (the offer pages, the API's browsable pages).
    """
    user = getattr(request, "user", None)
    if not policy.is_sales_user(user):
        return {}

    def count() -> int:
        if not hasattr(request, "_tasks_due_count"):
            request._tasks_due_count = due_for(user, timezone.now()).count()
        return request._tasks_due_count

    return {"tasks_due_count": count}
