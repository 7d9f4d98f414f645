"""The load test's scenario: who uses the CRM, how much, and what they do.

Run by ``python -m loadtest`` (``make loadtest``), which prepares the fixture
(tokens, sessions, open deals, offers) in LOADTEST_FIXTURE and reads back
LOADTEST_EVENTS: every request's outcome and every write the server
acknowledged (its id or idempotency key), for the integrity check.

Proportions of users (each makes about one request every two seconds):
reps 60% (lists, search, board, moves, activities), managers 10% (dashboard,
KPIs, funnel, churn), integrations 10% (creates and updates with an
Idempotency-Key, retried on failure; exports as jobs), anonymous visitors 20% (the
capture form of a content offer).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid

from locust import FastHttpUser, constant_throughput, events, task

FIXTURE = json.loads(open(os.environ["LOADTEST_FIXTURE"]).read())  # noqa: SIM115
EVENTS_PATH = os.environ["LOADTEST_EVENTS"]
USERS = int(os.environ.get("LOADTEST_USERS", "20"))
# One request every two seconds per simulated user, whatever the latency: the
# offered rate is then users / 2, as an open model would offer it.
PACE = constant_throughput(0.5)
RETRIES = 4
# No answer from the application: refused or reset connections (0), nginx's
# 502/503/504 while a server is down, and 409 while the key is still held.
NO_ANSWER = (0, 409, 502, 503, 504)
# An export job of one rep's open deals takes well under a second of a worker.
EXPORT_POLLS = 10
EXPORT_POLL_SECONDS = 0.5

requests_log: list[dict] = []
writes: list[dict] = []
_started = time.time()
_rep_seats = itertools.count()
_int_seats = itertools.count()


@events.request.add_listener
def _on_request(name, response, exception, response_time, **kwargs):
    status = getattr(response, "status_code", 0) or 0
    requests_log.append(
        {
            "t": round(time.time(), 3),
            "name": name,
            "status": status,
            "ms": round(response_time, 2),
            "error": None if exception is None else str(exception)[:200],
        }
    )


@events.quitting.add_listener
def _on_quit(environment, **kwargs):
    with open(EVENTS_PATH, "w") as out:
        json.dump({"requests": requests_log, "writes": writes}, out)


def _ack(kind: str, **fields) -> None:
    writes.append({"kind": kind, "t": round(time.time(), 3), **fields})


class CrmUser(FastHttpUser):
    abstract = True
    wait_time = PACE
    # Count a refused or reset connection as a failed request, not a crash.
    network_timeout = 30.0
    connection_timeout = 5.0

    def api(self, token: str) -> dict:
        return {"Authorization": f"Token {token}", "Accept": "application/json"}

    def write(
        self,
        method: str,
        path: str,
        body: dict,
        *,
        name: str,
        headers: dict,
        key: str | None = None,
    ) -> tuple[int, dict | None, str]:
        """Send a write with an Idempotency-Key, retrying the same key when the
        server did not answer (a killed app server) or was busy with it.

        Returns the final status, the JSON body and the key (a new one unless
        ``key`` repeats an earlier request's).
        """
        key = key or str(uuid.uuid4())
        status, data = 0, None
        for attempt in range(RETRIES):
            with self.client.request(
                method,
                path,
                json=body,
                headers={**headers, "Idempotency-Key": key},
                name=name if attempt == 0 else f"{name} (retry)",
                catch_response=True,
            ) as response:
                status = response.status_code or 0
                if 200 <= status < 300:
                    data = response.json()
                    return status, data, key
                response.failure(f"HTTP {status}")
                if status not in NO_ANSWER:
                    return status, None, key
            time.sleep(0.5 * 2**attempt)
        return status, data, key


class Rep(CrmUser):
    weight = 60

    def on_start(self) -> None:
        seat = next(_rep_seats)
        reps = FIXTURE["reps"]
        self.me = reps[seat % len(reps)]
        # Seats sharing a rep share out its open deals, so that two simulated
        # users never move the same deal at once (the second would be refused
        # as a move to the stage the deal is in, which no user would do).
        sharing = max(1, -(-USERS // len(reps)))
        self.deals = dict(self.me["deals"][seat // len(reps) :: sharing])
        self.headers = self.api(self.me["token"])
        self.cookie = {"Cookie": f"sessionid={self.me['session']}"}

    @task(30)
    def lead_list(self) -> None:
        self.client.get(
            f"/api/v1/leads/?owner={self.me['id']}&status=lead&ordering=-created_at",
            headers=self.headers,
            name="rep: lead list",
        )

    @task(10)
    def search(self) -> None:
        term = random.choice(FIXTURE["search_terms"])  # noqa: S311
        self.client.get(
            f"/api/v1/leads/?search={term}", headers=self.headers, name="rep: search"
        )

    @task(8)
    def deal_list(self) -> None:
        self.client.get(
            f"/api/v1/deals/?owner={self.me['id']}&status=open",
            headers=self.headers,
            name="rep: deal list",
        )

    @task(6)
    def lead_detail(self) -> None:
        pk = random.choice(self.me["leads"])  # noqa: S311
        self.client.get(
            f"/api/v1/leads/{pk}/", headers=self.headers, name="rep: lead detail"
        )

    @task(6)
    def board(self) -> None:
        self.client.get("/pipeline/", headers=self.cookie, name="rep: board page")

    @task(10)
    def move(self) -> None:
        if not self.deals:
            return
        pk = random.choice(list(self.deals))  # noqa: S311
        stages = [s for s in FIXTURE["stages"] if s != self.deals[pk]]
        to_stage = random.choice(stages)  # noqa: S311
        status, data, key = self.write(
            "POST",
            f"/api/v1/deals/{pk}/move/",
            {"stage": to_stage},
            name="rep: deal move",
            headers=self.headers,
        )
        if data is not None:
            self.deals[pk] = to_stage
            _ack("move", deal=pk, stage=to_stage, version=data["version"], key=key)
        elif status in (0, 409, 502, 503, 504):
            # Unanswered: the move may or may not have happened; read it back.
            response = self.client.get(
                f"/api/v1/deals/{pk}/", headers=self.headers, name="rep: deal detail"
            )
            if response.status_code == 200:
                self.deals[pk] = response.json()["stage"]

    @task(10)
    def log_activity(self) -> None:
        lead = random.choice(self.me["leads"])  # noqa: S311
        status, data, key = self.write(
            "POST",
            "/api/v1/activities/",
            {
                "kind": "call",
                "direction": "outbound",
                "outcome": random.choice(["connected", "no_answer", "voicemail"]),  # noqa: S311
                "lead": lead,
                "done": True,
                "duration_seconds": 60,
            },
            name="rep: log activity",
            headers=self.headers,
        )
        if data is not None:
            _ack("activity", id=data["id"], lead=lead, key=key)
        else:
            _ack("unacknowledged", what="activity", lead=lead, key=key, status=status)


class Manager(CrmUser):
    weight = 10

    def on_start(self) -> None:
        self.me = random.choice(FIXTURE["managers"])  # noqa: S311
        self.headers = self.api(self.me["token"])
        self.cookie = {"Cookie": f"sessionid={self.me['session']}"}
        self.quarter = FIXTURE["quarter"]

    @task(3)
    def dashboard(self) -> None:
        self.client.get(
            "/admin/metrics/dashboard/",
            headers=self.cookie,
            name="manager: dashboard page",
        )

    @task(5)
    def kpis(self) -> None:
        q = self.quarter
        self.client.get(
            f"/api/v1/metrics/kpis/?start={q['start']}&end={q['end']}"
            f"&team={self.me['team']}",
            headers=self.headers,
            name="manager: KPIs (team, quarter)",
        )

    @task(2)
    def funnel(self) -> None:
        q = self.quarter
        self.client.get(
            f"/api/v1/metrics/funnel/?start={q['start']}&end={q['end']}"
            f"&team={self.me['team']}",
            headers=self.headers,
            name="manager: funnel",
        )

    @task(2)
    def churn(self) -> None:
        c = FIXTURE["churn"]
        self.client.get(
            f"/api/v1/metrics/churn/?start={c['start']}&end={c['end']}&interval=month",
            headers=self.headers,
            name="manager: churn series",
        )

    @task(5)
    def deals_by_stage(self) -> None:
        self.client.get(
            "/api/v1/deals/?stage=presentation&status=open",
            headers=self.headers,
            name="manager: deals by stage",
        )


class Integration(CrmUser):
    weight = 10

    def on_start(self) -> None:
        self.seat = next(_int_seats)
        self.headers = self.api(FIXTURE["integration"]["token"])
        self.created: list[int] = []

    @task(6)
    def create_lead(self) -> None:
        n = uuid.uuid4().hex[:12]
        body = {
            "first_name": "Synced",
            "last_name": f"Load {n}",
            "email": f"sync.{n}@{FIXTURE['email_prefix']}.loadtest.example",
            "company_name": "Loadtest GmbH",
            "channel": "outbound",
            "source": "prospect_list",
            "owner": random.choice(FIXTURE["reps"])["id"],  # noqa: S311
        }
        _status, data, key = self.write(
            "POST",
            "/api/v1/leads/",
            body,
            name="integration: lead create",
            headers=self.headers,
        )
        if data is None:
            _ack("unacknowledged", what="lead", email=body["email"], key=key)
            return
        _ack("lead", id=data["id"], email=body["email"], key=key)
        self.created.append(data["id"])
        if random.random() < 0.2:  # noqa: S311
            # A client that never saw the answer sends the same request again:
            # the stored response comes back, and no second lead is made.
            # Sent like any write: a replay that meets the killed server gets
            # no answer and is retried with its key, as a real client would.
            status, again, _key = self.write(
                "POST",
                "/api/v1/leads/",
                body,
                name="integration: lead create (same key again)",
                headers=self.headers,
                key=key,
            )
            if status in NO_ANSWER:
                return  # never answered: nothing to compare
            same = status == 201 and again is not None and again["id"] == data["id"]
            _ack("replay", id=data["id"], key=key, same=same, status=status)

    @task(4)
    def update_lead(self) -> None:
        if not self.created:
            return
        pk = random.choice(self.created)  # noqa: S311
        title = f"Buyer {uuid.uuid4().hex[:6]}"
        with self.client.patch(
            f"/api/v1/leads/{pk}/",
            json={"job_title": title},
            headers=self.headers,
            name="integration: lead update",
            catch_response=True,
        ) as response:
            _ack(
                "lead_update",
                id=pk,
                job_title=title,
                status=response.status_code or 0,
            )

    @task(1)
    def export(self) -> None:
        # Integrations export through the job API (docs/api.md): ask, follow
        # the job until it is done, then download the file.
        rep = random.choice(FIXTURE["reps"])  # noqa: S311
        _status, data, _key = self.write(
            "POST",
            "/api/v1/exports/",
            {"kind": "deals", "filters": {"owner": str(rep["id"]), "status": "open"}},
            name="integration: deal export request (one rep)",
            headers=self.headers,
        )
        if data is None:
            return
        for _poll in range(EXPORT_POLLS):
            if data["status"] in ("done", "failed"):
                break
            time.sleep(EXPORT_POLL_SECONDS)
            with self.client.get(
                f"/api/v1/exports/{data['id']}/",
                headers=self.headers,
                name="integration: export status",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                    return
                data = response.json()
        if data["status"] != "done":
            return
        self.client.get(
            f"/api/v1/exports/{data['id']}/download/",
            headers={**self.headers, "Accept": "text/csv"},
            name="integration: export download",
        )


class Visitor(CrmUser):
    weight = 20

    @task
    def capture(self) -> None:
        n = uuid.uuid4().hex[:12]
        email = f"visitor.{n}@{FIXTURE['email_prefix']}.loadtest.example"
        _status, data, key = self.write(
            "POST",
            "/api/v1/capture/",
            {
                "offer": random.choice(FIXTURE["offers"]),  # noqa: S311
                "first_name": "Visitor",
                "last_name": f"Load {n}",
                "email": email,
                "company": "Visitor Ltd",
                "job_title": "Buyer",
                "phone": "",
                "consent": True,
            },
            name="anonymous: capture",
            headers={"Accept": "application/json"},
        )
        if data is not None:
            _ack("capture", email=email, key=key)
        else:
            _ack("unacknowledged", what="capture", email=email, key=key)
