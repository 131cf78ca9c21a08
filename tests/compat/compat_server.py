"""Starting and stopping the tracking server under test, and test-run configuration.

The suite runs the real `mlflow` Python client against either

* Rivulet (``COMPAT_TARGET=rivulet``, the default): ``$RIVULET_BIN server ...``, or
* MLflow itself (``COMPAT_TARGET=mlflow``): ``mlflow server ...`` from the same venv,
  which is how we check that the tests encode MLflow's real behaviour.

Configuration comes from environment variables (``run.sh`` sets all of them):

==========================  =====================================================
``COMPAT_TARGET``           ``rivulet`` (default) or ``mlflow``
``RIVULET_BIN``             Rivulet binary (default ``<repo>/target/release/rivulet``)
``COMPAT_BACKEND``          ``sqlite`` (default) or ``postgres``
``COMPAT_BACKEND_URI``      store URI for the main server; a fresh SQLite file in
                            ``COMPAT_WORK_DIR`` when unset (SQLite only)
``COMPAT_POSTGRES_URL``     admin URL used to create/drop the extra databases the
                            interop tests need (postgres backend only)
``COMPAT_DB_PREFIX``        name prefix of those extra databases (run.sh drops any
                            leftovers with this prefix)
``COMPAT_WORK_DIR``         scratch directory (default: a new temp dir)
``COMPAT_STARTUP_TIMEOUT``  seconds to wait for GET /health (default 60; mlflow: 180)
==========================  =====================================================
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]

TARGET = os.environ.get("COMPAT_TARGET", "rivulet")
BACKEND = os.environ.get("COMPAT_BACKEND", "sqlite")

# mlflow server needs 10-40 s on a fresh database (migrations + imports); Rivulet
# should be up almost immediately, but give slow CI machines some slack.
STARTUP_TIMEOUT_S = float(
    os.environ.get("COMPAT_STARTUP_TIMEOUT", "180" if TARGET == "mlflow" else "60")
)

if TARGET not in ("rivulet", "mlflow"):
    raise RuntimeError(f"COMPAT_TARGET must be 'rivulet' or 'mlflow', got {TARGET!r}")
if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError(f"COMPAT_BACKEND must be 'sqlite' or 'postgres', got {BACKEND!r}")


_WORK_DIR: Path | None = None


def work_dir() -> Path:
    """Scratch directory for databases, artifacts and server logs of this test run."""
    global _WORK_DIR
    if _WORK_DIR is None:
        configured = os.environ.get("COMPAT_WORK_DIR")
        _WORK_DIR = (
            Path(configured) if configured else Path(tempfile.mkdtemp(prefix="rivulet-compat-"))
        )
        _WORK_DIR.mkdir(parents=True, exist_ok=True)
    return _WORK_DIR


def unique(prefix: str) -> str:
    """A name nobody else in this test run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------


def sqlite_uri(path: Path) -> str:
    """`sqlite:////abs/path.db` (four slashes: absolute path)."""
    return f"sqlite:///{path.resolve()}"


def _postgres_admin_url() -> str:
    url = os.environ.get("COMPAT_POSTGRES_URL") or os.environ.get("RIVULET_TEST_POSTGRES_URL")
    if not url:
        raise RuntimeError(
            "COMPAT_BACKEND=postgres needs COMPAT_POSTGRES_URL (or RIVULET_TEST_POSTGRES_URL)"
        )
    return url


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def _postgres_admin_execute(statement: str) -> None:
    import psycopg2  # installed by run.sh; only needed for the postgres backend

    conn = psycopg2.connect(_postgres_admin_url())
    try:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@dataclass
class FreshDatabase:
    """An empty database of the configured backend; `drop()` removes it."""

    uri: str
    _pg_name: str | None = None

    def drop(self) -> None:
        if self._pg_name is not None:
            # WITH (FORCE) (PostgreSQL 13+) also ends connections a server left behind.
            _postgres_admin_execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')


def create_fresh_database(label: str) -> FreshDatabase:
    """Create an empty database (SQLite file or PostgreSQL database) for `label`."""
    if BACKEND == "sqlite":
        path = work_dir() / f"{unique(label)}.db"
        return FreshDatabase(uri=sqlite_uri(path))
    base = os.environ.get("COMPAT_DB_PREFIX", "rivulet_compat")
    name = f"{base}_{label}_{uuid.uuid4().hex[:8]}".lower().replace("-", "_")
    _postgres_admin_execute(f'CREATE DATABASE "{name}"')
    return FreshDatabase(uri=_with_database(_postgres_admin_url(), name), _pg_name=name)


def main_backend_uri() -> tuple[str, FreshDatabase | None]:
    """The store URI for the session server (plus a database to drop, if we made one)."""
    uri = os.environ.get("COMPAT_BACKEND_URI")
    if uri:
        return uri, None
    db = create_fresh_database("main")
    return db.uri, db


# --------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------

# Every server log of this run, so that conftest can print their tails on failure.
SERVER_LOGS: list[Path] = []


def _server_command(
    port: int, backend_uri: str, artifacts_dir: Path, grpc_port: int | None = None
) -> list[str]:
    flags = [
        "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", str(artifacts_dir),
    ]  # fmt: skip
    if TARGET == "mlflow":
        mlflow_cli = Path(sys.executable).parent / "mlflow"
        return [str(mlflow_cli), *flags]
    binary = Path(os.environ.get("RIVULET_BIN", REPO_ROOT / "target" / "release" / "rivulet"))
    if not binary.is_file():
        raise RuntimeError(f"Rivulet binary not found at {binary} (set RIVULET_BIN)")
    # Rivulet's OTLP/gRPC receiver defaults to 4317; every server of the run needs its own
    # port (MLflow has no gRPC receiver and no such flag).
    if grpc_port is not None:
        flags += ["--otlp-grpc-port", str(grpc_port)]
    return [str(binary), *flags]


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    # The server must take its store from --backend-store-uri only, never from the
    # client-side variables of this test process.
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_BACKEND_STORE_URI"):
        env.pop(var, None)
    if TARGET == "mlflow":
        # The huey job runner is irrelevant for tracking and only slows startup down.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return env


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


class TrackingServer:
    """One server process: `start()` waits for /health, `stop()` sends SIGTERM then SIGKILL."""

    def __init__(self, backend_uri: str, name: str = "server"):
        self.backend_uri = backend_uri
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Rivulet's OTLP/gRPC port (None for MLflow, which has no gRPC receiver).
        self.grpc_port: int | None = None
        while TARGET == "rivulet" and self.grpc_port in (None, self.port):
            self.grpc_port = free_port()
        self.artifacts_dir = work_dir() / unique(f"{name}-artifacts")
        self.log_path = work_dir() / f"{unique(name)}.log"
        self._proc: subprocess.Popen | None = None

    def start(self) -> TrackingServer:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        cmd = _server_command(self.port, self.backend_uri, self.artifacts_dir, self.grpc_port)
        SERVER_LOGS.append(self.log_path)
        log = open(self.log_path, "wb")
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        self._proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_server_env(),
            cwd=work_dir(),
            # Own process group: mlflow server spawns uvicorn workers that must go too.
            start_new_session=True,
        )
        log.close()  # the child holds its own descriptor
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"{TARGET} server exited with code {self._proc.returncode} during startup; "
                    f"log {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{TARGET} server did not answer GET /health within {STARTUP_TIMEOUT_S:.0f}s; "
            f"log {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        pgid = os.getpgid(proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=15)
        # Leftover workers of the group (mlflow/uvicorn), if the parent died first.
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> TrackingServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
