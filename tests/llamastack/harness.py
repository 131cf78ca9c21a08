"""Processes and REST helpers of the LLaMA Stack end-to-end test.

Owns how the four processes of the test are started and stopped (Rivulet, the fake model, the
MCP tool server, LLaMA Stack under `opentelemetry-instrument`), how the test waits for them, and
how it reads traces back through Rivulet's MLflow REST API.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


class Process:
    """A child in its own process group (LLaMA Stack and uvicorn spawn helpers that must go too)."""

    def __init__(self, name: str, cmd: list[str], workdir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.cmd = cmd
        self.log = workdir / f"{name}.log"
        with open(self.log, "wb") as log:
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env, start_new_session=True
            )

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.proc.returncode}; log {self.log}:\n{log_tail(self.log)}"
            )

    def wait_until(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{self.name}: {what} not within {timeout:.0f}s; log {self.log}:\n{log_tail(self.log)}")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=15)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def call(base: str, method: str, route: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + route, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {route}: HTTP {exc.code} {exc.read().decode(errors='replace')}") from exc


def decode_any_value(value: dict):
    """An OTLP AnyValue as Rivulet's `traces/get` writes it (`string_value`, `kvlist_value`, ...) as plain JSON."""
    if not value:
        return None
    (kind, inner), = value.items()
    if kind == "array_value":
        return [decode_any_value(v) for v in inner.get("values", [])]
    if kind == "kvlist_value":
        return {kv["key"]: decode_any_value(kv.get("value", {})) for kv in inner.get("values", [])}
    if kind == "int_value":
        return int(inner)
    return inner


class Span:
    """One span of `GET /api/3.0/mlflow/traces/get`, attributes decoded."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.name: str = raw["name"]
        self.span_id: str = raw["span_id"]
        self.parent_id: str | None = raw.get("parent_span_id") or None
        self.attributes = {a["key"]: decode_any_value(a.get("value", {})) for a in raw.get("attributes", [])}

    @property
    def hex_id(self) -> str:
        """The id as the UI's links spell it (the API writes OTLP's base64)."""
        return base64.b64decode(self.span_id).hex()

    @property
    def span_type(self) -> str | None:
        return self.attributes.get("mlflow.spanType")

    def __repr__(self) -> str:
        return f"<{self.name} {self.span_type}>"


def get_trace(base: str, trace_id: str) -> tuple[dict, list[Span]]:
    trace = call(base, "GET", f"/api/3.0/mlflow/traces/get?trace_id={trace_id}")["trace"]
    return trace["trace_info"], [Span(s) for s in trace.get("spans", [])]


def search_traces(base: str, experiment_id: str) -> list[dict]:
    body = {
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}],
        "max_results": 100,
    }
    return call(base, "POST", "/api/3.0/mlflow/traces/search", body).get("traces", [])
