"""The benchmark behind ``python manage.py bench``: generate, measure, report.

``generate`` writes a deterministic synthetic CRM (a million leads at scale 1),
``measure`` times the real HTTP stack and the CSV import on it, ``report`` prints
and saves the figures (docs/benchmarks.md, docs/benchmarks.json).
"""
