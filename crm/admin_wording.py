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
