"""The processes under load: nginx in front of N gunicorn app servers, a Celery
worker, all sharing one PostgreSQL database, Redis (cache and broker).

Each app server is the production one (``deploy/gunicorn.conf.py``, as
``make serve`` runs it) in a session of its own, so that killing it kills its
master and workers together, as a machine or container going away would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"

NGINX_CONF = """\
{user}worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{ worker_connections 2048; }}
http {{
  access_log off;
  client_body_temp_path {run}/nginx-body;
  proxy_temp_path {run}/nginx-proxy;
  fastcgi_temp_path {run}/nginx-fastcgi;
  uwsgi_temp_path {run}/nginx-uwsgi;
  scgi_temp_path {run}/nginx-scgi;
  upstream crm {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 64m;
    location / {{
      proxy_pass http://crm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # A server that refuses the connection is skipped for the next one; a
      # POST it had already received is not sent again (nginx's default for
      # non-idempotent requests): its client sees the 502 and retries with
      # its Idempotency-Key.
      proxy_next_upstream error timeout;
      proxy_read_timeout 60s;
      proxy_buffering off;
    }}
  }}
}}
"""


def wait_http(url: str, *, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # An http URL we build from a loopback port.
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  # nosec B310
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:g} s")


@dataclass
class Stack:
    env: dict[str, str]
    run_dir: Path
    app_ports: list[int]
    lb_port: int
    web_concurrency: int = 2
    worker_concurrency: int = 1
    apps: dict[int, subprocess.Popen] = field(default_factory=dict)
    nginx: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None

    def _spawn(self, name: str, argv: list[str], extra_env: dict | None = None):
        log = open(self.run_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept by the child
        return subprocess.Popen(  # noqa: S603 - our own executables
            argv,
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_app(self, port: int) -> None:
        self.apps[port] = self._spawn(
            f"app-{port}",
            [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "crm.wsgi"],
            {"PORT": str(port), "WEB_CONCURRENCY": str(self.web_concurrency)},
        )
        wait_http(f"http://127.0.0.1:{port}/healthz")

    def kill_app(self, port: int) -> None:
        """Kill an app server at once, master and workers (no graceful stop)."""
        process = self.apps[port]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def start(self) -> None:
        for port in self.app_ports:
            self.start_app(port)
        self.worker = self._spawn(
            "worker",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "crm",
                "worker",
                "--loglevel=WARNING",
                f"--concurrency={self.worker_concurrency}",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        conf = self.run_dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user="user root root;\n" if os.geteuid() == 0 else "",
                run=self.run_dir,
                port=self.lb_port,
                servers="\n".join(
                    f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;"
                    for p in self.app_ports
                ),
            )
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = self._spawn(
            "nginx",
            [nginx, "-c", str(conf), "-p", str(self.run_dir), "-g", "daemon off;"],
        )
        wait_http(f"http://127.0.0.1:{self.lb_port}/healthz")

    def stop(self) -> None:
        processes = [self.nginx, self.worker, *self.apps.values()]
        for process in processes:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            if process is None:
                continue
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def groups(self) -> dict[str, list[int]]:
        """Return the root pids of each group of processes we started."""
        return {
            "app servers": [p.pid for p in self.apps.values() if p.poll() is None],
            "workers": [self.worker.pid] if self.worker else [],
            "load balancer": [self.nginx.pid] if self.nginx else [],
        }
