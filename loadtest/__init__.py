"""The load test: ``make loadtest`` (two app servers behind nginx, locust) and
``make loadtest-short`` (CI's 30-second version); see docs/loadtest.md."""
