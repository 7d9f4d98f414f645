"""The Celery application: ``celery -A crm worker`` and ``celery -A crm beat``.

Settings are Django's ``CELERY_*`` ones (crm/settings.py); jobs are found in
each installed app's ``tasks.py``.
"""

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
