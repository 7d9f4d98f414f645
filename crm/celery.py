"""The Celery application: ``celery -A crm worker`` and ``celery -A crm beat``.

Settings are Django's ``CELERY_*`` ones (crm/settings.py); jobs are found in
each installed app's ``tasks.py``. Logging is Django's (``setup_logging``); the
Procfile runs both with ``--quiet``, so no banner is printed outside it.
"""

import logging.config
import os

from celery import Celery, signals

from crm import request_id

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

signals.before_task_publish.connect(request_id.add_to_task_headers, weak=False)
signals.task_prerun.connect(request_id.set_from_task, weak=False)
signals.task_postrun.connect(request_id.reset_after_task, weak=False)


@signals.setup_logging.connect(weak=False)
def _log_like_django(**kwargs) -> None:
    # Connected, the signal stops Celery from configuring logging itself: the
    # worker's and beat's own lines (start-up, "ready", each job's outcome)
    # go through Django's LOGGING, in JSON in production (crm/log_config.py).
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
