"""The one logging configuration of every process: Django, gunicorn, Celery.

JSON lines (one object per record, with the request id) by default in
production, readable text in development. Django's settings (``LOGGING``),
gunicorn's ``logconfig_dict`` (deploy/gunicorn.conf.py, read before Django is
loaded: this module imports nothing of Django) and Celery's ``setup_logging``
signal (crm/celery.py) all build theirs here, so the server's start-up lines
and access log read like the application's.
"""

from __future__ import annotations

import os

TRUE = frozenset({"1", "true", "yes", "on", "y", "ok"})


def log_format() -> str:
    """Return ``LOG_FORMAT`` from the environment: json unless DEBUG is on."""
    debug = os.environ.get("DEBUG", "").strip().lower() in TRUE
    return os.environ.get("LOG_FORMAT") or ("text" if debug else "json")


def logging_config(fmt: str, level: str = "INFO", loggers: dict | None = None) -> dict:
    """Return a ``dictConfig`` writing every record to stderr in ``fmt``.

    ``loggers`` names loggers that do not propagate to the root (gunicorn's)
    and get the same handler.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "crm.request_id.RequestIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level"},
            },
            "text": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] "
                "%(message)s"
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": fmt,
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            name: {"handlers": ["console"], "level": level, "propagate": False}
            for name in loggers or ()
        },
    }
