"""Django's own admin phrases, listed so that our French catalogue rewords them.

Django's French admin glues a model's name into a sentence: "Ajout de %s"
gives "Ajout de abonnement" (no elision, no article), "Supprimer les %s
sélectionnés" gives "les affaires sélectionnés" (no agreement). No wording
with a bare name in it can be right for every gender and first letter, so our
catalogue puts the name after a colon or in brackets ("Ajouter : abonnement",
"Supprimer la sélection (affaires)"). The project's ``LOCALE_PATHS`` catalogue
wins over Django's own; listing the phrases here keeps them in it through
``make messages`` (which drops what no source file marks) and under
``translations_check``. Nothing reads this tuple: ``gettext_noop`` only marks.
The msgids must stay exactly Django's (curly quotes included).

django-celery-results ships no French: its pages are where an admin reads a
background job's failure, so its labels are listed the same way. django-axes'
French misses its newer labels and keeps two English ones ("User Agent",
"HTTP Accept"): ours, listed here, complete and reword it.
"""

from django.utils.translation import gettext_noop

DJANGO_ADMIN_PHRASES = (
    # Page titles and buttons (django.contrib.admin.options, its templates).
    gettext_noop("Add %s"),
    gettext_noop("Change %s"),
    gettext_noop("View %s"),
    gettext_noop("Add %(name)s"),
    gettext_noop("Select %s"),
    gettext_noop("Select %s to change"),
    gettext_noop("Select %s to view"),
    # The bulk delete action and its messages (django.contrib.admin.actions).
    gettext_noop("Delete selected %(verbose_name_plural)s"),
    gettext_noop("Cannot delete %(name)s"),
    gettext_noop("Successfully deleted %(count)d %(items)s."),
    # A missing object (django.contrib.admin.utils, options).
    # Django's msgid, typographic apostrophe included.
    gettext_noop("%(name)s with ID “%(key)s” doesn’t exist. Perhaps it was deleted?"),  # noqa: RUF001
    # The change history's entries (django.contrib.admin.models.LogEntry).
    gettext_noop("Added {name} “{object}”."),
    gettext_noop("Changed {fields} for {name} “{object}”."),
    gettext_noop("Changed {fields}."),
    gettext_noop("Deleted {name} “{object}”."),
)

CELERY_RESULTS_PHRASES = (
    gettext_noop("Celery Results"),
    gettext_noop("task result"),
    gettext_noop("task results"),
    gettext_noop("group result"),
    gettext_noop("group results"),
    gettext_noop("Task ID"),
    gettext_noop("Periodic Task Name"),
    gettext_noop("Task Name"),
    gettext_noop("Task Positional Arguments"),
    gettext_noop("Task Named Arguments"),
    gettext_noop("Task State"),
    gettext_noop("Worker"),
    gettext_noop("Result Content Type"),
    gettext_noop("Result Encoding"),
    gettext_noop("Result Data"),
    gettext_noop("Created DateTime"),
    gettext_noop("Started DateTime"),
    gettext_noop("Completed DateTime"),
    gettext_noop("Traceback"),
    gettext_noop("Task Meta Information"),
    gettext_noop("Group ID"),
    gettext_noop("Parameters"),
    gettext_noop("Result"),
    gettext_noop("Celery ID for the Task that was run"),
    gettext_noop("Celery ID for the Group that was run"),
    gettext_noop("Name of the Periodic Task which was run"),
    gettext_noop("Name of the Task which was run"),
    gettext_noop("Current state of the task being run"),
    gettext_noop("Worker that executes the task"),
    gettext_noop("Content type of the result data"),
    gettext_noop("The encoding used to save the task result data"),
    gettext_noop("Datetime field when the task result was created in UTC"),
    gettext_noop("Datetime field when the task was started in UTC"),
    gettext_noop("Datetime field when the task was completed in UTC"),
    gettext_noop("Datetime field when the group result was created in UTC"),
    gettext_noop("Datetime field when the group was completed in UTC"),
    gettext_noop("Text of the traceback if the task generated one"),
    gettext_noop("JSON representation of the positional arguments used with the task"),
    gettext_noop("JSON representation of the named arguments used with the task"),
    gettext_noop(
        "JSON meta information about the task, such as information on child tasks"
    ),
    gettext_noop(
        "The data returned by the task.  "
        "Use content_encoding and content_type fields to read."
    ),
)

AXES_PHRASES = (
    gettext_noop("User Agent"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Locked Out"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Not set"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Session key hash (sha256)"),
)
