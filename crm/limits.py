"""The bounds of what the CRM accepts, in one place (documented in docs/api.md).

Requests: the body size, the number of parameters and the depth of a JSON body.
Values: the days a period or an activity may fall on, and the largest integers
of fields people type. Each bound is far from any real use and near enough that
arithmetic on the value (the day after a period, the previous quarter, a
12-month chart, a 32-bit column) stays valid.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Request bounds (also set as Django's DATA_UPLOAD_* settings).
MAX_BODY_BYTES = 2_621_440  # 2.5 MiB, answered with 413
MAX_PARAMETERS = 1_000  # query or form parameters, answered with 400
MAX_JSON_DEPTH = 32  # nested arrays and objects, answered with 400

# The days a period or an activity may fall on.
EARLIEST_DAY = datetime.date(1970, 1, 1)
LATEST_DAY = datetime.date(2099, 12, 31)

# Integer fields people type.
MAX_EMPLOYEES = 10_000_000
MAX_ACTIVITY_SECONDS = 24 * 60 * 60  # a call or meeting lasts at most a day
MAX_STALE_AFTER_DAYS = 3_650


@deconstructible
class DayRangeValidator:
    """Refuse a date or datetime outside [EARLIEST_DAY, LATEST_DAY]."""

    message = _("Use a date between {earliest} and {latest}.")
    code = "date_out_of_range"

    def __call__(self, value) -> None:
        if value is None:
            return
        day = value.date() if isinstance(value, datetime.datetime) else value
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise ValidationError(
                self.message.format(
                    earliest=EARLIEST_DAY.isoformat(), latest=LATEST_DAY.isoformat()
                ),
                code=self.code,
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, DayRangeValidator)

    def __hash__(self) -> int:
        return hash(DayRangeValidator)


validate_day = DayRangeValidator()
