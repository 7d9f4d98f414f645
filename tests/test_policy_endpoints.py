"""Every API operation and every admin URL agrees with the policy table.

The operations come from the OpenAPI schema and the admin URLs from the admin
site's registry, so a new endpoint fails here until it is classified: which
record of the table it touches and which action of the table it is. Each one
is then called as every actor of the table against a record of the North rep:

- allowed actors are never refused (no 401, 403 or 404);
- refused actors who may see the record get 403; the others get exactly the
  answer of an id that does not exist;
- lists (and CSV exports) contain the record exactly for the actors who see it.

The records are built once for the module; each call runs in a savepoint that is
rolled back, so every actor meets the same data.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.db import transaction
from django.forms.models import model_to_dict
from django.test import Client, override_settings
from drf_spectacular.generators import SchemaGenerator
from knox.models import AuthToken
from rest_framework.test import APIClient

from crm import policy
from crm.admin import AddressBookAdmin
from tests.crm.test_policy import ACTORS, MD5, OWNERS, allowed, build_world

pytestmark = pytest.mark.django_db

MISSING = 999_999
NOT_REFUSED = "not refused"


@dataclass(frozen=True)
class Op:
    """How an API operation meets the table.

    ``kind`` is "list" (a collection, CSV exports too), "detail" (an operation
    on ``{id}``), "create", "kpi" (a KPI read narrowed to the record's owner),
    "sales" (any sales user) or "public".
    """

    kind: str
    action: str = ""
    record: str = ""
    owner: str = "rep"
    see: str = ""


def _detail(record, see, *actions_by_method, owner="rep"):
    return {
        method: Op("detail", action, record, owner, see)
        for method, action in actions_by_method
    }


def _crud(record, see, change, delete=None, owner="rep"):
    ops = _detail(
        record,
        see,
        ("get", see),
        ("put", change),
        ("patch", change),
        owner=owner,
    )
    if delete:
        ops["delete"] = Op("detail", delete, record, owner, see)
    return ops


OPERATIONS: dict[tuple[str, str], Op] = {}


def _add(path: str, ops: dict[str, Op]) -> None:
    for method, op in ops.items():
        OPERATIONS[(f"/api/v1/{path}", method)] = op


for noun, record, see, change, delete, owner in [
    ("leads", "lead", "see_lead", "change_lead", None, "rep"),
    ("deals", "deal", "see_deal", "change_deal", None, "rep"),
    ("companies", "company", "see_company", "change_company", "delete_company", "rep"),
    ("contacts", "contact", "see_contact", "change_contact", "delete_contact", "rep"),
    (
        "subscriptions",
        "subscription",
        "see_subscription",
        "change_subscription",
        None,
        "rep",
    ),
    (
        "metrics/targets",
        "target",
        "see_owner_target",
        "set_owner_target",
        "set_owner_target",
        "rep",
    ),
    ("offers", "offer", "see_offers", "edit_offers", None, ""),
    (
        "webhooks",
        "endpoint",
        "change_webhook_endpoint",
        "change_webhook_endpoint",
        "change_webhook_endpoint",
        "integration",
    ),
]:
    _add(f"{noun}/{{id}}/", _crud(record, see, change, delete, owner))
    _add(f"{noun}/", {"get": Op("list", see, record, owner)})
for noun, record, see in [
    ("leads", "lead", "see_lead"),
    ("deals", "deal", "see_deal"),
    ("activities", "activity", "see_activity"),
    ("companies", "company", "see_company"),
    ("contacts", "contact", "see_contact"),
    ("subscriptions", "subscription", "see_subscription"),
]:
    _add(f"{noun}/export/", {"get": Op("list", see, record)})
    _add(f"{noun}/", {"post": Op("create", "create_records", owner="")})
_add("activities/", {"get": Op("list", "see_activity", "activity")})
_add(
    "activities/{id}/",
    _detail(
        "activity",
        "see_activity",
        ("get", "see_activity"),
        ("put", "change_activity"),
        ("patch", "change_activity"),
    ),
)
_add(
    "activities/{id}/complete/",
    _detail("activity", "see_activity", ("post", "change_activity")),
)
_add("offers/", {"post": Op("create", "edit_offers", owner="")})
_add(
    "imports/",
    {
        "get": Op("list", "see_import", "import"),
        "post": Op("create", "create_records", owner=""),
    },
)
_add("imports/{id}/", _detail("import", "see_import", ("get", "see_import")))
_add(
    "exports/",
    {
        "get": Op("list", "see_export", "export"),
        "post": Op("create", "create_records", owner=""),
    },
)
_add("exports/{id}/", _detail("export", "see_export", ("get", "see_export")))
# The world's export is queued: its download is a 409 for those who see it.
_add("exports/{id}/download/", _detail("export", "see_export", ("get", "see_export")))
_add("metrics/targets/", {"post": Op("create", "set_targets", owner="")})
_add("webhooks/", {"post": Op("create", "manage_webhooks", owner="")})
_add(
    "webhooks/{id}/attempts/",
    _detail(
        "endpoint",
        "change_webhook_endpoint",
        ("get", "change_webhook_endpoint"),
        owner="integration",
    ),
)
_add(
    "webhooks/{id}/rotate-secret/",
    _detail(
        "endpoint",
        "change_webhook_endpoint",
        ("post", "change_webhook_endpoint"),
        owner="integration",
    ),
)
for action in ("promote", "qualify", "disqualify", "convert"):
    verb = "convert_lead" if action == "convert" else "change_lead"
    _add(f"leads/{{id}}/{action}/", _detail("lead", "see_lead", ("post", verb)))
_add("leads/{id}/qualifications/", _detail("lead", "see_lead", ("get", "see_lead")))
_add("leads/{id}/consent-records/", _detail("lead", "see_lead", ("get", "see_lead")))
_add("leads/{id}/consent/", _detail("lead", "see_lead", ("post", "change_lead")))
for action in ("move", "win", "lose", "reopen"):
    _add(
        f"deals/{{id}}/{action}/", _detail("deal", "see_deal", ("post", "change_deal"))
    )
_add("deals/{id}/history/", _detail("deal", "see_deal", ("get", "see_deal")))
_add(
    "subscriptions/{id}/end/",
    _detail("subscription", "see_subscription", ("post", "end_subscription")),
)
_add(
    "subscriptions/{id}/change/",
    _detail("subscription", "see_subscription", ("post", "change_subscription")),
)
for kpi in ("kpis", "funnel", "churn"):
    _add(f"metrics/{kpi}/", {"get": Op("kpi", "read_owner_kpis", "user")})
_add("teams/", {"get": Op("sales")})
_add("teams/{id}/", {"get": Op("sales")})
_add("users/me/", {"get": Op("sales")})
_add("auth/logout/", {"post": Op("sales")})
_add("auth/token/", {"post": Op("public")})
_add("capture/", {"post": Op("public")})


def _schema_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


SCHEMA_OPERATIONS = _schema_operations()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The table's cast and records, built once; rolled back after the module."""
    # The suite's fast password hasher is a function fixture: not yet active.
    fast = override_settings(PASSWORD_HASHERS=[MD5])
    with django_db_blocker.unblock(), transaction.atomic(), fast:
        yield build_world()
        transaction.set_rollback(True)


def _rolled_back(call):
    """Run ``call`` in a savepoint that is rolled back; return its result."""
    with transaction.atomic():
        result = call()
        transaction.set_rollback(True)
    return result


def _body(response):
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return response.content.decode()


def _without_id(body, pk) -> str:
    return json.dumps(body, sort_keys=True).replace(str(pk), "ID")


def test_every_api_operation_is_classified():
    assert sorted(OPERATIONS) == SCHEMA_OPERATIONS


def _api_call(user, method, url):
    client = APIClient()

    def call():
        if user.is_authenticated and url.endswith("/logout/"):
            # Logging out revokes the token the request came with: a real one.
            token = AuthToken.objects.create(user=user)[1]
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        elif user.is_authenticated:
            client.force_authenticate(user)
        response = getattr(client, method)(url, {}, format="json")
        return response.status_code, _body(response)

    return _rolled_back(call)


def _listed_ids(body) -> set[int]:
    if isinstance(body, str):  # CSV: the first column is the id
        rows = list(csv.reader(io.StringIO(body)))[1:]
        return {int(row[0]) for row in rows if row}
    return {row["id"] for row in body["results"]}


@pytest.mark.parametrize(("path", "method"), SCHEMA_OPERATIONS)
def test_api_operation_agrees_with_the_table(world, path, method):
    op = OPERATIONS[(path, method)]
    for actor in ACTORS:
        user = world.actor(actor)
        if op.kind == "public":
            status, _ = _api_call(user, method, path)
            assert status < 500, (actor, status)
            continue
        if op.kind == "sales":
            status, _ = _api_call(user, method, path.replace("{id}", str(MISSING)))
            refused = status in (401, 403)
            assert refused is (not policy.is_sales_user(user)), (actor, status)
            continue
        may = actor in allowed(op.action, op.owner)
        if op.kind == "create":
            status, body = _api_call(user, method, path)
            assert (status in (401, 403)) is (not may), (actor, status, body)
            continue
        record = world.records[op.owner][op.record]
        if op.kind == "kpi":
            status, body = _api_call(user, method, f"{path}?owner={record.pk}")
            if may:
                assert status == 200, (actor, status, body)
            else:
                missing = _api_call(user, method, f"{path}?owner={MISSING}")
                assert (status, _without_id(body, record.pk)) == (
                    missing[0],
                    _without_id(missing[1], MISSING),
                ), actor
            continue
        if op.kind == "list":
            status, body = _api_call(user, method, path)
            if may:
                assert status == 200, (actor, status)
                assert record.pk in _listed_ids(body), actor
            else:
                assert status in (200, 401, 403), (actor, status)
                assert status != 200 or record.pk not in _listed_ids(body), actor
            continue
        status, body = _api_call(user, method, path.replace("{id}", str(record.pk)))
        if may:
            assert status not in (401, 403, 404), (actor, status, body)
            assert status < 500, (actor, status, body)
        elif actor in allowed(op.see, op.owner):
            assert status == 403, (actor, status, body)
        else:
            missing = _api_call(user, method, path.replace("{id}", str(MISSING)))
            assert (status, _without_id(body, record.pk)) == (
                missing[0],
                _without_id(missing[1], MISSING),
            ), actor


# --- the admin ---------------------------------------------------------------------


@dataclass(frozen=True)
class AdminRule:
    record: str
    see: str
    change: str
    delete: str
    owner: str = "rep"


ADMIN_RULES = {
    "crm.company": AdminRule(
        "company", "see_company", "change_company", "delete_company"
    ),
    "crm.contact": AdminRule(
        "contact", "see_contact", "change_contact", "delete_contact"
    ),
    "crm.subscription": AdminRule(
        "subscription", "see_subscription", "change_subscription", "delete_subscription"
    ),
    "crm.mrrmovement": AdminRule(
        "mrr_movement",
        "see_mrr_movement",
        "change_mrr_movement",
        "delete_mrr_movement",
    ),
    "leads.lead": AdminRule("lead", "see_lead", "change_lead", "delete_lead"),
    "leads.prospect": AdminRule("prospect", "see_lead", "change_lead", "delete_lead"),
    "leads.touch": AdminRule("touch", "see_touch", "change_touch", "delete_touch"),
    "leads.leadimport": AdminRule(
        "import", "see_import", "change_import", "delete_import"
    ),
    "crm.exportjob": AdminRule(
        "export", "see_export", "change_export", "delete_export"
    ),
    "crm.actionjob": AdminRule(
        "action_job", "see_action_job", "change_action_job", "delete_action_job"
    ),
    "leads.contentoffer": AdminRule(
        "offer", "see_offers", "edit_offers", "delete_offer", owner=""
    ),
    "pipeline.deal": AdminRule("deal", "see_deal", "change_deal", "delete_deal"),
    "pipeline.activity": AdminRule(
        "activity", "see_activity", "change_activity", "delete_activity"
    ),
    "metrics.kpitarget": AdminRule(
        "target", "see_owner_target", "set_owner_target", "set_owner_target"
    ),
}
# Pages of the admin outside the sales records: only superusers use them, or
# every sales staff member reads them (teams, stage settings, the KPI dashboard).
SUPERUSER_ONLY = {
    "auth.group",
    # django-axes' lockout audit: failed attempts and the unlock action.
    "axes.accessattempt",
    "axes.accessfailurelog",
    "axes.accesslog",
    "knox.authtoken",
    "crm.user",
    "crm.webhookendpoint",
    "crm.webhookdelivery",
    "crm.outboxevent",
    # django-celery-results: background jobs' results and failures.
    "django_celery_results.taskresult",
    "django_celery_results.groupresult",
}
STAFF_READS = {"crm.team", "pipeline.stagesetting", "metrics.dashboard"}
STAFF = ("rep", "teammate", "foreign_rep", "manager", "foreign_manager", "admin")
# Model-level permissions (the "delete selected" action) follow the role: a
# teammate is a rep like the records' owner.
PEER = {"teammate": "rep"}

REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


def test_every_admin_is_classified():
    assert sorted([*ADMIN_RULES, *SUPERUSER_ONLY, *STAFF_READS]) == REGISTERED


def _referenced(model_admin, record) -> bool:
    """Return whether the admin refuses to delete ``record`` for its references."""
    return isinstance(model_admin, AddressBookAdmin) and bool(
        policy.deletion_blockers(record)
    )


def _admin_client(user) -> Client:
    client = Client()
    if user.is_authenticated:
        client.force_login(user)
    return client


def _get(client, url):
    def call():
        response = client.get(url)
        return response.status_code, response.get("Location", ""), response

    return _rolled_back(call)


@pytest.mark.parametrize("label", sorted(SUPERUSER_ONLY | STAFF_READS))
def test_admin_pages_outside_the_sales_records(world, label):
    app, model = label.split(".")
    # The dashboard computes every KPI: one actor per kind of answer.
    actors = ("rep", "admin", "anonymous") if label == "metrics.dashboard" else ACTORS
    for actor in actors:
        user = world.actor(actor)
        status, location, _ = _get(_admin_client(user), f"/admin/{app}/{model}/")
        if not policy.is_sales_staff(user):
            assert (status, "/login/" in location) == (302, True), actor
        elif label in SUPERUSER_ONLY:
            assert status == (200 if policy.is_admin(user) else 403), actor
        else:
            assert status == 200, actor


@pytest.mark.parametrize("label", sorted(ADMIN_RULES))
def test_admin_agrees_with_the_table(world, label):
    rule = ADMIN_RULES[label]
    record = world.records[rule.owner][rule.record]
    app, model = label.split(".")
    base = f"/admin/{app}/{model}/"
    model_admin = admin.site._registry[type(record)]
    for actor in ACTORS:
        user = world.actor(actor)
        client = _admin_client(user)
        urls = {
            "changelist": base,
            "change": f"{base}{record.pk}/change/",
            "delete": f"{base}{record.pk}/delete/",
        }
        if not policy.is_sales_staff(user):
            for url in urls.values():
                status, location, _ = _get(client, url)
                assert (status, "/login/" in location) == (302, True), (actor, url)
            continue
        sees = actor in allowed(rule.see, rule.owner)

        # the changelist lists the record exactly for those who see it
        status, _, response = _get(client, urls["changelist"])
        assert status == 200, actor
        listed = {obj.pk for obj in response.context["cl"].result_list}
        assert (record.pk in listed) is sees, actor
        offered = set(model_admin.get_actions(response.wsgi_request))
        may_delete_some = any(
            PEER.get(actor, actor) in allowed(rule.delete, owner)
            or (actor in allowed(rule.delete, owner))
            for owner in ({rule.owner} | set(OWNERS) if rule.owner else {""})
        )
        assert ("delete_selected" in offered) is may_delete_some, actor

        # the change and delete pages
        for page, action in (("change", rule.change), ("delete", rule.delete)):
            status, location, response = _get(client, urls[page])
            may = actor in allowed(action, rule.owner)
            if not sees:
                missing = _get(client, urls[page].replace(str(record.pk), str(MISSING)))
                assert (status, location) == missing[:2], (actor, page)
            elif page == "change":
                # Seen but not changeable: the page is shown read-only.
                assert status == 200, (actor, page)
                assert (b'name="_save"' in response.content) is may, (actor, page)
            elif may and _referenced(model_admin, record):
                # The address book's delete page says what refers to the record.
                assert (status, location) == (302, urls["change"]), (actor, page)
            else:
                assert status == (200 if may else 403), (actor, page)

        # actions never reach a record the actor does not see (sampled with the
        # most privileged such actor: a manager of another team)
        if not sees and actor == "foreign_manager":
            before = model_to_dict(type(record)._base_manager.get(pk=record.pk))
            for name in sorted(offered):
                response = _rolled_back(
                    lambda name=name, client=client: client.post(
                        base,
                        {
                            "action": name,
                            "_selected_action": [record.pk],
                            "apply": "1",
                            "post": "yes",
                        },
                    )
                )
                assert response.status_code < 500, (actor, name)
                if response.get("Content-Type", "").startswith("text/csv"):
                    assert record.pk not in _listed_ids(_body(response)), (actor, name)
            after = model_to_dict(type(record)._base_manager.get(pk=record.pk))
            assert after == before, actor
