"""Fill the columns promotions keep, in bulk, where no service logged the activities.

The services keep ``Lead.first_response_at`` and ``Activity.led_to_lead``
exact one event at a time (``history.engagement_update``, ``lead_promote``).
The migrations that add them and the benchmark's generator, which writes
activities with ``COPY``, set them for every lead at once here:

- ``fill_first_responses``: one ``UPDATE ... FROM`` a grouped subquery
  (PostgreSQL, SQLite >= 3.33), the rule of ``ActivityQuerySet.responses``;
- ``fill_cold_calls_led_to_lead``: one ``UPDATE``, the rule of
  ``history.led_to_lead``.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, ExpressionWrapper, F, Model, Value

from pipeline.models import COLD_CALL_TO_LEAD_WINDOW, TOUCH_KINDS, Direction


def fill_first_responses(
    connection: BaseDatabaseWrapper,
    *,
    lead_model: type[Model],
    activity_model: type[Model],
) -> int:
    """Set each answered lead's first response; return the rows updated.

    A lead with no response keeps its value (NULL on a column just added or a
    row just written): meant for those, not as a repair of live rows.
    ``lead_model``/``activity_model`` may be a migration's historical models.
    """
    quote = connection.ops.quote_name
    lead = quote(lead_model._meta.db_table)
    activity = quote(activity_model._meta.db_table)
    kinds = sorted(kind.value for kind in TOUCH_KINDS)
    placeholders = ", ".join(["%s"] * len(kinds))
    sql = (
        # Names come from the models; every value is a parameter.
        f"UPDATE {lead} SET first_response_at = r.first_at FROM ("  # noqa: S608  # nosec B608
        "SELECT a.lead_id, MIN(a.occurred_at) AS first_at "
        f"FROM {activity} a INNER JOIN {lead} l ON l.id = a.lead_id "
        f"WHERE a.direction = %s AND a.kind IN ({placeholders}) "
        "AND a.occurred_at >= l.became_lead_at "
        "GROUP BY a.lead_id"
        f") r WHERE {lead}.id = r.lead_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Direction.OUTBOUND.value, *kinds])
        return cursor.rowcount


def fill_cold_calls_led_to_lead(activity_model: type[Model]) -> int:
    """Flag each cold call whose prospect became a lead within the window after it.

    Return the calls flagged. ``activity_model`` may be a migration's
    historical model (no custom queryset there, so the rule is spelled out).
    """
    window_end = ExpressionWrapper(
        F("occurred_at") + Value(COLD_CALL_TO_LEAD_WINDOW),
        output_field=DateTimeField(),
    )
    return activity_model._default_manager.filter(
        is_cold_call=True,
        lead__became_lead_at__gte=F("occurred_at"),
        lead__became_lead_at__lte=window_end,
    ).update(led_to_lead=True)
