"""Artifacts through the proxied mlflow-artifacts service."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow


def test_list_artifacts_of_empty_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    assert client.list_artifacts(run_id) == []
    # With a sub-path the client also calls POST logged-models/search; must not crash.
    assert client.list_artifacts(run_id, "dir") == []
    assert client.list_artifacts(run_id, "dir/sub") == []


def test_log_list_and_download_artifacts(client, experiment_id, tmp_path):
    mlflow.set_experiment(experiment_id=experiment_id)
    local = tmp_path / "upload"
    (local / "nested").mkdir(parents=True)
    (local / "a.txt").write_text("hello")
    (local / "nested" / "b.bin").write_bytes(bytes(range(256)) * 4)

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local / "a.txt"))
        mlflow.log_artifacts(str(local), artifact_path="dir")
        mlflow.log_dict({"k": [1, 2]}, "config/params.json")
        mlflow.log_text("some text", "notes.txt")
    run_id = run.info.run_id

    top = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert top == {("a.txt", False), ("dir", True), ("config", True), ("notes.txt", False)}

    in_dir = {f.path: f for f in client.list_artifacts(run_id, "dir")}
    assert set(in_dir) == {"dir/a.txt", "dir/nested"}
    assert in_dir["dir/a.txt"].file_size == 5
    assert in_dir["dir/nested"].is_dir

    nested = client.list_artifacts(run_id, "dir/nested")
    assert [(f.path, f.file_size) for f in nested] == [("dir/nested/b.bin", 1024)]

    # Listing a file path yields nothing.
    assert client.list_artifacts(run_id, "a.txt") == []

    downloaded = Path(client.download_artifacts(run_id, "dir", str(tmp_path / "down")))
    assert (downloaded / "a.txt").read_text() == "hello"
    assert (downloaded / "nested" / "b.bin").read_bytes() == bytes(range(256)) * 4

    assert json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/config/params.json")) == {
        "k": [1, 2]
    }
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes.txt") == "some text"
