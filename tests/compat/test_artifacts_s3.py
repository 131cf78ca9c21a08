"""Artifact round trips with the real client on both artifact backends.

Every test runs twice: against the session server (``--artifacts-destination`` a local
directory, like the reference deployment's PVC) and against a second server whose destination
is ``s3://<bucket>/<prefix>`` on a moto S3 server started here (``MLFLOW_S3_ENDPOINT_URL`` and
the usual ``AWS_*`` variables, as MLflow users configure S3-compatible storage). The same
checks then look at the storage itself: objects land under the prefix and nowhere else.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
import pytest
from mlflow import MlflowClient

import compat_server
from compat_server import TARGET, TrackingServer

BUCKET = "rivulet-artifacts"
PREFIX = "team/mlartifacts"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --------------------------------------------------------------------------------------
# Storage views: what each backend holds, read directly rather than through the server
# --------------------------------------------------------------------------------------


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def keys(self, below: str) -> set[str]:
        base = self.root / below
        return {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()} if base.exists() else set()

    def put_outside(self, name: str, data: bytes) -> None:
        (self.root.parent / name).write_bytes(data)

    def read_outside(self, name: str) -> bytes | None:
        path = self.root.parent / name
        return path.read_bytes() if path.exists() else None


class S3Storage:
    def __init__(self, client):
        self.client = client

    def keys(self, below: str) -> set[str]:
        prefix = f"{PREFIX}/{below}/" if below else f"{PREFIX}/"
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return {obj["Key"][len(prefix) :] for page in pages for obj in page.get("Contents", [])}

    def put_outside(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=name, Body=data)

    def read_outside(self, name: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=BUCKET, Key=name)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None


# --------------------------------------------------------------------------------------
# The moto S3 server and the server under test on top of it
# --------------------------------------------------------------------------------------


class MotoServer:
    def __init__(self, tls: bool = False):
        self.port = compat_server.free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.log_path = compat_server.work_dir() / f"{compat_server.unique('moto')}.log"
        self._proc: subprocess.Popen | None = None

    def start(self) -> MotoServer:
        cli = Path(sys.executable).parent / "moto_server"
        cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "moto.server"]
        cmd += ["-H", "127.0.0.1", "-p", str(self.port)] + (["--ssl"] if self.tls else [])
        compat_server.SERVER_LOGS.append(self.log_path)
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited: {compat_server.log_tail(self.log_path)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("moto server did not start within 60 s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(os.getpgid(proc.pid), signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
                proc.wait(timeout=10)


class S3TrackingServer(TrackingServer):
    """The server under test with its artifact destination on S3 (same flags otherwise)."""

    def __init__(self, backend_uri: str, endpoint: str, extra_env: dict[str, str] | None = None):
        super().__init__(backend_uri, name=f"{TARGET}-s3")
        self.endpoint = endpoint
        self.extra_env = extra_env or {}

    def start(self) -> S3TrackingServer:
        cmd = compat_server._server_command(self.port, self.backend_uri, self.artifacts_dir, self.grpc_port)
        cmd[cmd.index("--artifacts-destination") + 1] = f"s3://{BUCKET}/{PREFIX}"
        env = compat_server._server_env()
        env.update(AWS_ENV)
        env["MLFLOW_S3_ENDPOINT_URL"] = self.endpoint
        env.update(self.extra_env)
        compat_server.SERVER_LOGS.append(self.log_path)
        with open(self.log_path, "wb") as log:
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=compat_server.work_dir(), start_new_session=True
            )
        self._wait_healthy()
        return self


@pytest.fixture(scope="module", params=["local", "s3"])
def backend(request, tracking_server):
    """(server, storage) for one artifact backend."""
    if request.param == "local":
        yield tracking_server, LocalStorage(tracking_server.artifacts_dir)
        return
    boto3 = pytest.importorskip("boto3", reason="the S3 run needs moto[server] (tests/compat/requirements.txt)")
    pytest.importorskip("moto", reason="the S3 run needs moto[server] (tests/compat/requirements.txt)")
    moto = MotoServer().start()
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    database = compat_server.create_fresh_database("s3")
    server = S3TrackingServer(database.uri, moto.url)
    try:
        server.start()
        yield server, S3Storage(s3)
    finally:
        server.stop()
        moto.stop()
        database.drop()


@pytest.fixture
def server(backend, _clean_fluent_state):
    """The backend's server, made the client's tracking URI for this test."""
    server, _ = backend
    mlflow.set_tracking_uri(server.url)
    yield server


@pytest.fixture
def storage(backend):
    return backend[1]


@pytest.fixture
def client(server) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url)


@pytest.fixture
def experiment_id(client) -> str:
    return client.create_experiment(compat_server.unique("artifacts"))


def raw_request(server, method: str, path: str, body: bytes | None = None):
    """A request sent exactly as written: no client-side `..` removal or re-encoding."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


def test_client_round_trips(server, storage, client, experiment_id, tmp_path):
    import numpy as np

    mlflow.set_experiment(experiment_id=experiment_id)
    local = tmp_path / "upload"
    (local / "nested" / "deeper").mkdir(parents=True)
    (local / "a.txt").write_text("hello")
    (local / "nested" / "b.bin").write_bytes(bytes(range(256)) * 4)
    (local / "nested" / "deeper" / "c.csv").write_text("x,y\n1,2\n")
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    image[:, :, 0] = 255

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local / "a.txt"))
        mlflow.log_artifact(str(local / "a.txt"), artifact_path="copies/one")
        mlflow.log_artifacts(str(local), artifact_path="dir")
        mlflow.log_dict({"k": [1, 2]}, "config/params.json")
        mlflow.log_dict({"k": "v"}, "config/params.yaml")
        mlflow.log_text("some text", "notes.txt")
        mlflow.log_text("grüße", "with space/naïve ü.txt")
        mlflow.log_image(image, "images/red.png")
    run_id = run.info.run_id
    root = run.info.artifact_uri
    assert root == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"

    top = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert top == {
        ("a.txt", False), ("copies", True), ("dir", True), ("config", True), ("notes.txt", False),
        ("with space", True), ("images", True),
    }  # fmt: skip
    assert {f.path: f.file_size for f in client.list_artifacts(run_id, "dir/nested")} == {
        "dir/nested/b.bin": 1024,
        "dir/nested/deeper": None,
    }
    assert [f.path for f in client.list_artifacts(run_id, "dir/nested/deeper")] == ["dir/nested/deeper/c.csv"]
    assert [f.path for f in client.list_artifacts(run_id, "copies/one")] == ["copies/one/a.txt"]
    assert client.list_artifacts(run_id, "a.txt") == []
    assert client.list_artifacts(run_id, "nothing/here") == []

    whole = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "all")))
    assert (whole / "a.txt").read_text() == "hello"
    assert (whole / "dir" / "nested" / "b.bin").read_bytes() == bytes(range(256)) * 4
    assert (whole / "dir" / "nested" / "deeper" / "c.csv").read_text() == "x,y\n1,2\n"
    assert (whole / "with space" / "naïve ü.txt").read_text() == "grüße"
    sub = Path(client.download_artifacts(run_id, "dir/nested", str(tmp_path / "sub")))
    assert (sub / "b.bin").read_bytes() == bytes(range(256)) * 4
    single = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/notes.txt", dst_path=str(tmp_path / "one")))
    assert single.read_text() == "some text"

    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json") == {"k": [1, 2]}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/config/params.yaml").strip() == "k: v"
    assert mlflow.artifacts.load_text(f"{root}/with space/naïve ü.txt") == "grüße"
    loaded = np.asarray(mlflow.artifacts.load_image(f"runs:/{run_id}/images/red.png"))
    assert loaded.shape[:2] == (8, 8) and loaded[0, 0, 0] == 255

    # The bytes really are in the backend's storage, at MLflow's layout.
    keys = storage.keys(f"{experiment_id}/{run_id}/artifacts")
    assert {"a.txt", "copies/one/a.txt", "dir/nested/b.bin", "config/params.json", "images/red.png",
            "with space/naïve ü.txt"} <= keys  # fmt: skip


def test_large_artifact_streams_both_ways(server, client, experiment_id, tmp_path):
    # Larger than several multipart parts (8 MiB each) on S3.
    data = os.urandom(3 * 1024 * 1024) * 9
    source = tmp_path / "weights.bin"
    source.write_bytes(data)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifact(str(source), artifact_path="model")
    [info] = client.list_artifacts(run.info.run_id, "model")
    assert (info.path, info.file_size) == ("model/weights.bin", len(data))
    back = Path(client.download_artifacts(run.info.run_id, "model/weights.bin", str(tmp_path / "down")))
    assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_trace_data_fallback(server, experiment_id):
    """The client's fallback for trace spans: traces.json (and attachments) under the trace's
    artifact location, uploaded and read back through the proxied artifact service."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    trace_id = f"tr-{uuid.uuid4().hex}"
    repo = get_artifact_repository(f"mlflow-artifacts:/{experiment_id}/traces/{trace_id}/artifacts")
    spans = {"spans": [{"name": "root", "trace_id": trace_id, "attributes": {"k": "v"}}]}
    repo.upload_trace_data(json.dumps(spans))
    assert repo.download_trace_data() == spans
    attachment = str(uuid.uuid4())
    attachment_file = Path(compat_server.work_dir()) / attachment
    attachment_file.write_bytes(b"\x00binary attachment")
    repo.log_artifact(str(attachment_file), artifact_path="attachments")
    assert repo.download_trace_attachment(attachment) == b"\x00binary attachment"


def test_downloads_are_attachments_with_nosniff(server, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_text("<script>alert(1)</script>", "page.html")
    path = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run.info.run_id}/artifacts/page.html"
    status, headers, body = raw_request(server, "GET", path)
    headers = {k.lower(): v for k, v in headers.items()}
    assert status == 200 and body == b"<script>alert(1)</script>"
    assert headers["content-disposition"].startswith("attachment")
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, body = raw_request(server, "GET", f"/get-artifact?run_id={run.info.run_id}&path=page.html")
    headers = {k.lower(): v for k, v in headers.items()}
    assert status == 200 and headers["content-disposition"].startswith("attachment")


TRAVERSALS = [
    "../x",
    "a/../../x",
    "%2e%2e/canary",
    "%2e%2e/%2e%2e/canary",
    "..%2fcanary",
    "%252e%252e%252fcanary",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "C:%2Fx",
    "a%23b",
    "a%00b",
    "a%3F..%2F..%2Fb",
    "a;x=/../../b",
]


@pytest.mark.rivulet_only(reason="MLflow accepts some of these (backslash, NUL, `;`) or redirects `//`")
def test_traversal_is_refused_on_every_verb(server, storage):
    # At the root of the destination, where one `..` already reaches the canary beside it.
    storage.put_outside("canary", b"canary")
    before = storage.keys("")
    base = "/api/2.0/mlflow-artifacts/artifacts"
    for vector in TRAVERSALS:
        for method, body in (("GET", None), ("PUT", b"pwned"), ("DELETE", None)):
            status, _, text = raw_request(server, method, f"{base}/{vector}", body)
            assert status == 400, (method, vector, status, text)
            assert json.loads(text)["message"].startswith("Invalid path"), (method, vector, text)
        status, _, text = raw_request(server, "GET", f"{base}?path={vector.replace(';', '%3B')}")
        assert status == 400, ("list", vector, status, text)
    assert storage.read_outside("canary") == b"canary"
    assert storage.keys("") == before


def test_delete_removes_a_tree(server, storage, client, experiment_id, tmp_path):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_text("1", "tree/a.txt")
        mlflow.log_text("2", "tree/sub/b.txt")
        mlflow.log_text("3", "keep.txt")
    base = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run.info.run_id}/artifacts"
    status, _, _ = raw_request(server, "DELETE", f"{base}/tree")
    assert status == 200
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["keep.txt"]
    assert storage.keys(f"{experiment_id}/{run.info.run_id}/artifacts") == {"keep.txt"}


@pytest.mark.rivulet_only(
    reason="MLflow's S3 repository hands the client presigned S3 URLs for downloads, and the client "
    "cannot verify moto's self-signed certificate; Rivulet proxies every download"
)
def test_s3_over_tls(tracking_server, _clean_fluent_state, tmp_path):
    """An HTTPS endpoint with a self-signed certificate and MLFLOW_S3_IGNORE_TLS=true, as with a
    private MinIO: exercises the TLS stack of the S3 client, not just plain HTTP."""
    boto3 = pytest.importorskip("boto3", reason="needs moto[server] (tests/compat/requirements.txt)")
    pytest.importorskip("moto", reason="needs moto[server] (tests/compat/requirements.txt)")
    import urllib3

    urllib3.disable_warnings()
    moto = MotoServer(tls=True).start()
    database = compat_server.create_fresh_database("s3tls")
    server = S3TrackingServer(database.uri, moto.url, {"MLFLOW_S3_IGNORE_TLS": "true"})
    try:
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1", verify=False,
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        server.start()
        mlflow.set_tracking_uri(server.url)
        client = MlflowClient(tracking_uri=server.url)
        experiment_id = client.create_experiment(compat_server.unique("tls"))
        source = tmp_path / "over-tls.bin"
        source.write_bytes(os.urandom(10 * 1024 * 1024))  # more than one multipart part
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_artifact(str(source), artifact_path="data")
        assert [(f.path, f.file_size) for f in client.list_artifacts(run.info.run_id, "data")] == [
            ("data/over-tls.bin", source.stat().st_size)
        ]
        back = Path(client.download_artifacts(run.info.run_id, "data/over-tls.bin", str(tmp_path / "down")))
        assert back.read_bytes() == source.read_bytes()
        assert S3Storage(s3).keys(f"{experiment_id}/{run.info.run_id}/artifacts") == {"data/over-tls.bin"}
    finally:
        server.stop()
        moto.stop()
        database.drop()
