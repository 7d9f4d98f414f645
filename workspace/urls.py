from django.urls import path

from workspace import lists, views

RECORD_PATHS = {
    "lead": "leads",
    "deal": "deals",
    "company": "companies",
    "contact": "contacts",
}

app_name = "workspace"

urlpatterns = [
    path("", views.today, name="today"),
    path("search/", views.search, name="search"),
    path("leads/<int:pk>/", views.lead_detail, name="lead"),
    path("leads/<int:pk>/log/", views.lead_log, name="lead-log"),
    path("leads/<int:pk>/promote/", views.lead_promote, name="lead-promote"),
    path("leads/<int:pk>/qualify/", views.lead_qualify, name="lead-qualify"),
    path("leads/<int:pk>/disqualify/", views.lead_disqualify, name="lead-disqualify"),
    path("leads/<int:pk>/convert/", views.lead_convert, name="lead-convert"),
    path("deals/<int:pk>/", views.deal_detail, name="deal"),
    path("deals/<int:pk>/log/", views.deal_log, name="deal-log"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal-move"),
    path("deals/<int:pk>/win/", views.deal_win, name="deal-win"),
    path("deals/<int:pk>/lose/", views.deal_lose, name="deal-lose"),
    path("deals/<int:pk>/reopen/", views.deal_reopen, name="deal-reopen"),
    path("companies/<int:pk>/", views.company_detail, name="company"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact"),
    path("contacts/<int:pk>/log/", views.contact_log, name="contact-log"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task-complete"),
    path("leads/", lists.lead_list, name="leads"),
    path("deals/", lists.deal_list, name="deals"),
    path("views/<int:pk>/rename/", lists.view_rename, name="view-rename"),
    path("views/<int:pk>/delete/", lists.view_delete, name="view-delete"),
]
# A note and a task on every kind of record, by the same two views.
for kind, plural in RECORD_PATHS.items():
    urlpatterns += [
        path(
            f"{plural}/<int:pk>/note/",
            views.record_note,
            {"kind": kind},
            name=f"{kind}-note",
        ),
        path(
            f"{plural}/<int:pk>/plan/",
            views.record_plan,
            {"kind": kind},
            name=f"{kind}-plan",
        ),
    ]
