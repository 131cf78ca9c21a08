"""Session setup for the MLflow-client compatibility suite (see compat_server.py)."""

from __future__ import annotations

import os

# Fail fast instead of waiting minutes: the client retries 5xx answers with exponential
# backoff (7 retries by default, ~4 minutes). Tests that care about retries set their own
# values. These are read by the client on every request.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
# Keep the client quiet and offline.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402
import pytest  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

import compat_server  # noqa: E402
from compat_server import BACKEND, TARGET, TrackingServer  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "rivulet_only(reason): documented deliberate difference from MLflow; skipped when "
        "COMPAT_TARGET=mlflow",
    )


def pytest_report_header(config):
    return f"compat target: {TARGET}, backend: {BACKEND}, work dir: {compat_server.work_dir()}"


def pytest_collection_modifyitems(config, items):
    if TARGET != "mlflow":
        return
    for item in items:
        marker = item.get_closest_marker("rivulet_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"Rivulet-only: {reason}"))


@pytest.fixture(scope="session")
def tracking_server():
    """The server under test on a fresh store; MLFLOW_TRACKING_URI points at it."""
    # Work inside the scratch directory: MLflow's own store (used by the interop tests)
    # creates ./mlruns, and nothing of a test run should land in the repository.
    os.chdir(compat_server.work_dir())
    backend_uri, own_db = compat_server.main_backend_uri()
    try:
        server = TrackingServer(backend_uri, name=f"{TARGET}-main").start()
    except RuntimeError as exc:
        if own_db is not None:
            own_db.drop()
        # No test can run without the server: stop here with one clear message.
        pytest.exit(f"could not start the server under test: {exc}", returncode=1)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    mlflow.set_tracking_uri(server.url)
    try:
        yield server
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
        if own_db is not None:
            own_db.drop()


@pytest.fixture(scope="session")
def client(tracking_server) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_server.url)


@pytest.fixture(autouse=True)
def _clean_fluent_state(tracking_server):
    """Every test starts with the server as tracking URI and no active run."""
    mlflow.set_tracking_uri(tracking_server.url)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def experiment_id(client) -> str:
    """A fresh, empty experiment for one test."""
    return client.create_experiment(compat_server.unique("exp"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    failed = terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", [])
    if not failed:
        return
    for log_path in compat_server.SERVER_LOGS:
        terminalreporter.write_sep("-", f"tail of server log {log_path}")
        terminalreporter.write_line(compat_server.log_tail(log_path))
