"""gunicorn's settings for the CRM: ``gunicorn -c deploy/gunicorn.conf.py crm.wsgi``.

Everything an operator tunes comes from the environment (docs/deploy.md):
``PORT``/``BIND``, ``WEB_CONCURRENCY``, ``GUNICORN_THREADS``, ``GUNICORN_TIMEOUT``.
"""

import os
import shutil
import tempfile
from pathlib import Path

from crm.log_config import log_format, logging_config

bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# Synchronous workers: requests are short, database-bound, and one process per
# request in flight keeps a slow request from stalling others.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Under the idempotency lease (2 minutes, crm/idempotency.py), so that a request
# the server killed is presumed dead before a retry could take its key over.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# A worker is replaced after this many requests (with jitter, so not all at
# once): memory a long-lived process accumulates is given back.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Loads Django once in the master: workers fork with the code already imported
# (faster start, shared memory pages).
preload_app = True
# Django logs each request with its id (crm/request_id.py) in JSON: gunicorn's
# own access log would repeat it without the id (GUNICORN_ACCESS_LOG=- turns it
# on, in JSON too).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines (start-up, workers booting and exiting, timeouts) in the
# application's format: JSON in production (crm/log_config.py).
logconfig_dict = logging_config(
    log_format(), loglevel.upper(), loggers=["gunicorn.error", "gunicorn.access"]
)
proc_name = "crm"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# django-prometheus reads every worker's metrics from files in this folder, so
# /metrics reports the whole server, not the one worker that answered.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
    Path(tempfile.gettempdir()) / f"crm-metrics-{bind.replace(':', '-')}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
# Emptied now, before the preloaded application creates its metrics: files of
# a previous run's workers would be summed with this one's.
shutil.rmtree(_metrics_dir, ignore_errors=True)
Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
