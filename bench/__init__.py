"""The benchmark behind ``make bench`` (``python -m bench``): generate, measure, report.

A developer's tool, not a Django app (not in ``INSTALLED_APPS``): it reads the
apps' models and drives the real HTTP stack, and nothing in the apps imports it.

``generate`` writes a deterministic synthetic CRM (a million leads at scale 1),
``measure`` times the real HTTP stack and the CSV import on it, ``report`` prints
and saves the figures (docs/benchmarks.md, docs/benchmarks.json).
"""
