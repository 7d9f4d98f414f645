"""The libraries' apps under names a French admin reads in French.

django-axes and django-rest-knox give their apps no translatable name (the
admin shows "Axes" and "Knox"), knox marks none of its strings (its model and
columns read "Auth tokens", "digest", "expiry" in every language), and
django-celery-results leaves its chord counter unnamed. These configs, named
in ``INSTALLED_APPS`` instead of the bare packages, give the apps translated
names and those models and fields translated labels, so the libraries stay
unforked. The English msgids are the names Django derived before, so English
readers and the permissions' stored names ("Can add auth token") are unchanged.

The labels are set on the model's ``_meta`` and fields when the app is ready;
migrations do not see them (the autodetector reads the options a model class
was declared with and a field's constructor arguments), so the libraries' own
migrations stay the truth for their tables.
"""

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_celery_results.apps import CeleryResultConfig


class AxesConfig(AxesAppConfig):
    """django-axes: the audit of sign-ins, and the lockout after failures."""

    verbose_name = _("Sign-in security")

    def ready(self) -> None:
        super().ready()
        # axes names its records with English f-strings and raw timestamps;
        # its admin pages show those names as titles and breadcrumbs.
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        AccessAttempt.__str__ = _attempt_name
        AccessFailureLog.__str__ = _failure_name
        AccessLog.__str__ = _log_name


def _attempt_name(attempt) -> str:
    from crm.formatting import moment

    return _("Attempted sign-in on %(moment)s") % {
        "moment": moment(attempt.attempt_time)
    }


def _failure_name(failure) -> str:
    from crm.formatting import moment

    text = _("Failed sign-in of %(user)s on %(moment)s from %(ip)s")
    if failure.locked_out:
        text = _("Failed sign-in of %(user)s (locked out) on %(moment)s from %(ip)s")
    return text % {
        "user": failure.username,
        "moment": moment(failure.attempt_time),
        "ip": failure.ip_address,
    }


def _log_name(log) -> str:
    from crm.formatting import moment

    return _("Sign-in of %(user)s on %(moment)s") % {
        "user": log.username,
        "moment": moment(log.attempt_time),
    }


class KnoxConfig(AppConfig):
    """django-rest-knox: the API's tokens."""

    name = "knox"
    verbose_name = _("API tokens")

    # knox's field names, as Django would have written them, with their labels.
    FIELD_LABELS = {
        "digest": _("digest"),
        "token_key": _("token key"),
        "user": _("user"),
        # Not leads' "created" (a count of records, plural in French).
        "created": pgettext_lazy("auth token", "created"),
        "expiry": _("expiry"),
    }

    def ready(self) -> None:
        token = self.get_model("AuthToken")
        token._meta.verbose_name = _("auth token")
        token._meta.verbose_name_plural = _("auth tokens")
        for name, label in self.FIELD_LABELS.items():
            token._meta.get_field(name).verbose_name = label


class CeleryResultsConfig(CeleryResultConfig):
    """django-celery-results: its own French is in our catalogue (admin_wording)."""

    def ready(self) -> None:
        super().ready()
        counter = self.get_model("ChordCounter")
        counter._meta.verbose_name = _("chord counter")
        counter._meta.verbose_name_plural = _("chord counters")
