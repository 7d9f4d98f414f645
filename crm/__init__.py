# The Celery app is loaded with Django, so that ``shared_task`` jobs bind to it
# and ``transaction.on_commit(job.delay)`` works in every process.
from crm.celery import app as celery_app

__all__ = ["celery_app"]
