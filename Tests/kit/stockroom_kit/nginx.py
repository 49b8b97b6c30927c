"""Private nginx instances for the tests that need an nginx of their own (the production site file,
error statuses the stack cannot show on demand, a capturing upstream)."""

from __future__ import annotations

import grp
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HTTP_CONF = REPO / "nginx" / "stockroom-http.conf"
LOCATIONS_CONF = REPO / "nginx" / "stockroom-locations.conf"
OPENAPI_FILE = REPO / "docs" / "openapi.yaml"


def stockroom_server_lines(level: str) -> str:
    """What a private nginx needs to run Stockroom's locations, as the dev and production configs
    do: at "http" level the shared request-id maps and log format (stockroom-http.conf), at
    "server" level the spec file to serve and the locations themselves."""
    if level == "http":
        return f"include {HTTP_CONF};"
    assert level == "server", level
    return f"set $stockroom_openapi_file {OPENAPI_FILE};\n        include {LOCATIONS_CONF};"


def free_port() -> int:
    """A TCP port of 127.0.0.1 free at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateNginx:
    """An nginx of its own in `d`, running `http_block` (the body of `http {}`, after the temp paths,
    the access log and, unless None, `default_type`), with its error log at `error_log_level`,
    listening on `ports` (waited for). Stopped with stop()."""

    def __init__(self, d: Path, http_block: str, ports: list[int], *, error_log_level: str = "info",
                 default_type: str | None = "application/octet-stream"):
        self.dir = d
        user = ""
        if os.geteuid() == 0:
            user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};"
        default = f"\n    default_type {default_type};" if default_type else ""
        conf = d / "nginx.conf"
        conf.write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log {error_log_level};
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {d}/client_body_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    proxy_temp_path {d}/proxy_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    access_log {d}/access.log;{default}
{http_block}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                        log = (d / "error.log").read_text() if (d / "error.log").exists() else ""
                        pytest.fail(f"private nginx did not start: {out}\n{log}\n{conf.read_text()}")
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
