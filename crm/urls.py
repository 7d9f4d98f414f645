"""The project's URLs: each app mounts its own routes.

Apps are included by dotted path, so this module imports none of them and the
one-way dependency between apps holds.
"""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from crm import health
from crm.language import language_choose
from crm.views import SchemaView

handler400 = "crm.api_errors.api_aware_400"
handler404 = "crm.api_errors.api_aware_404"
handler500 = "crm.api_errors.api_aware_500"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    # Browsers ask for /favicon.ico whatever the page says.
    # Lazy: the hashed name is read from collectstatic's manifest, which does
    # not exist yet when collectstatic itself loads the URLs.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("crm/favicon.svg"))),
    path("admin/", admin.site.urls),
    # Django's set_language, plus the choice saved on the signed-in user.
    path("i18n/setlang/", language_choose, name="set_language"),
    path("api/v1/", include("crm.api_urls")),
    path("api/v1/", include("leads.urls")),
    path("api/v1/", include("pipeline.api_urls")),
    path("api/v1/", include("metrics.urls")),
    path("pipeline/", include("pipeline.urls")),
    path("offers/", include("leads.page_urls")),
    # Today at "/", the record pages and search: the rep's workspace.
    path("", include("workspace.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script
    # under the Content-Security-Policy.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="crm/swagger_ui.html"
        ),
        name="api-docs",
    ),
]
