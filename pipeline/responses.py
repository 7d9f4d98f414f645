"""Fill ``Lead.first_response_at`` in bulk, where no service logged the activities.

The services keep the column exact one activity at a time
(``history.engagement_update``, ``lead_promote``). The migration that adds it
and the benchmark's generator, which writes activities with ``COPY``, set it
for every lead at once here: one ``UPDATE ... FROM`` a grouped subquery
(PostgreSQL, SQLite >= 3.33), the rule of ``ActivityQuerySet.responses`` in SQL.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from pipeline.models import TOUCH_KINDS, Direction


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
