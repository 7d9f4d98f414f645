"""A duration's bucket, for exact medians without sorting every row.

``DurationBucket(end, start)`` numbers the duration ``end - start``: its
minute under an hour (0-59), then its hour under a week (60-226), then its
day (227 on). The number never decreases as the duration grows, so rows
ordered by bucket are ordered by duration too, bucket by bucket. Fine where
durations crowd (a response within the hour), coarse in the long tail: a
period's leads fall into a few hundred buckets at most.

Stored as a generated column (``Lead.qualify_bucket``, ``response_bucket``),
it is computed by the database on every write, whatever path writes: the
median (``metrics.kpis.numbers.durations``) counts a period's rows per bucket,
then ranks only the bucket holding the middle.

Exact on both databases, so no float rounding can misplace a row at a
bucket's edge: PostgreSQL's ``EXTRACT(EPOCH FROM interval)`` is a numeric;
on SQLite, where Django stores a moment as UTC text
(``YYYY-MM-DD HH:MM:SS[.ffffff]``), the whole seconds and the microseconds
are read off the text. Integer division truncates toward zero on both
(a negative duration, a decision dated before the lead, still sorts).
"""

import datetime

from django.db.models import BigIntegerField, Case, Func, IntegerField, When
from django.db.models.functions import Cast

MINUTE, HOUR, DAY, WEEK = 60, 3600, 86400, 604800


def _bucket(amount: str, div, unit: int) -> str:
    """The bucket of a duration of ``amount`` units of ``1 / unit`` second."""
    return (
        f"CASE WHEN {amount} < {HOUR * unit} THEN {div(amount, MINUTE * unit)} "
        f"WHEN {amount} < {WEEK * unit} THEN 59 + {div(amount, HOUR * unit)} "
        f"ELSE 220 + {div(amount, DAY * unit)} END"
    )


def _sqlite_micros(column: str) -> str:
    """The exact microseconds since the epoch of a moment stored as text."""
    return (
        f"(strftime('%%s', substr({column}, 1, 19)) * 1000000 "
        f"+ CAST(substr(substr({column}, 21) || '000000', 1, 6) AS INTEGER))"
    )


class DurationBucket(Func):
    """The bucket of ``end - start`` (an integer; NULL when either is NULL)."""

    arity = 2
    output_field = IntegerField()

    def _compiled(self, compiler):
        (end, end_params), (start, start_params) = (
            compiler.compile(expression) for expression in self.source_expressions
        )
        if end_params or start_params:  # two columns, never a parameter
            raise ValueError("DurationBucket takes two columns")
        return end, start

    def as_postgresql(self, compiler, connection, **extra):
        end, start = self._compiled(compiler)
        seconds = f"EXTRACT(EPOCH FROM ({end} - {start}))"
        return f"({_bucket(seconds, lambda a, b: f'div({a}, {b})', 1)})::integer", ()

    def as_sqlite(self, compiler, connection, **extra):
        end, start = self._compiled(compiler)
        micros = f"({_sqlite_micros(end)} - {_sqlite_micros(start)})"
        # SQLite's integer "/" truncates toward zero, as PostgreSQL's div().
        return _bucket(micros, lambda a, b: f"{a} / {b}", 1_000_000), ()


class DurationMicroseconds(DurationBucket):
    """The exact length of ``end - start`` in microseconds (a big integer)."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        end, start = self._compiled(compiler)
        # EXTRACT(EPOCH ...) of an interval is an exact numeric since 14.
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000000)::bigint", ()

    def as_sqlite(self, compiler, connection, **extra):
        end, start = self._compiled(compiler)
        return f"({_sqlite_micros(end)} - {_sqlite_micros(start)})", ()


def _toward_zero(amount: int, unit: int) -> int:
    """``amount / unit`` truncated toward zero, as SQL's integer division."""
    quotient = abs(amount) // unit
    return quotient if amount >= 0 else -quotient


def bucket_of(duration: datetime.timedelta) -> int:
    """The bucket ``DurationBucket`` gives a duration, computed in Python
    (for a rollup row written with its change, the columns not yet read back)."""
    micros = duration // datetime.timedelta(microseconds=1)
    second = 1_000_000
    if micros < HOUR * second:
        return _toward_zero(micros, MINUTE * second)
    if micros < WEEK * second:
        return 59 + _toward_zero(micros, HOUR * second)
    return 220 + _toward_zero(micros, DAY * second)


def bucket_start(bucket: int) -> datetime.timedelta:
    """The shortest duration in ``bucket`` (for a negative bucket, its
    value nearest zero): a service level of whole minutes under an hour,
    whole hours under a week or whole days is one."""
    if bucket < 60:
        return datetime.timedelta(minutes=bucket)
    if bucket < WEEK // HOUR + 59:
        return datetime.timedelta(hours=bucket - 59)
    return datetime.timedelta(days=bucket - 220)


def bucket_start_microseconds(bucket: str) -> Case:
    """``bucket_start`` of a bucket column, in microseconds, in SQL."""
    second = 1_000_000
    # A big integer before multiplying: a day bucket's start overflows an int.
    number = Cast(bucket, BigIntegerField())
    return Case(
        When(**{f"{bucket}__lt": 60}, then=number * MINUTE * second),
        When(
            **{f"{bucket}__lt": WEEK // HOUR + 59},
            then=(number - 59) * HOUR * second,
        ),
        default=(number - 220) * DAY * second,
        output_field=BigIntegerField(),
    )
