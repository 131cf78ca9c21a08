"""Soft deletion and restore of runs and experiments."""

from __future__ import annotations

import time

import mlflow
from mlflow.entities import ViewType


def lifecycle(client, run_id: str) -> str:
    return client.get_run(run_id).info.lifecycle_stage


def test_delete_and_restore_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "m", 1.0)

    client.delete_run(run_id)
    assert lifecycle(client, run_id) == "deleted"
    # Deleting again is idempotent.
    client.delete_run(run_id)
    assert lifecycle(client, run_id) == "deleted"

    client.restore_run(run_id)
    assert lifecycle(client, run_id) == "active"
    client.restore_run(run_id)
    assert lifecycle(client, run_id) == "active"

    # Data survives the round trip and the run is writable again.
    client.log_metric(run_id, "m", 2.0, step=1)
    assert client.get_run(run_id).data.metrics == {"m": 2.0}

    # The fluent API works as well.
    mlflow.delete_run(run_id)
    assert lifecycle(client, run_id) == "deleted"


def test_delete_experiment_deletes_its_runs_and_restore_restores_them(client, experiment_id):
    run_ids = [client.create_run(experiment_id).info.run_id for _ in range(3)]
    # One run is already deleted before the experiment is.
    client.delete_run(run_ids[0])

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert [lifecycle(client, r) for r in run_ids] == ["deleted"] * 3
    assert client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert {r.info.run_id for r in deleted} == set(run_ids)

    time.sleep(0.01)
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    # Restoring the experiment restores all of its runs.
    assert [lifecycle(client, r) for r in run_ids] == ["active"] * 3
    active = client.search_runs([experiment_id])
    assert {r.info.run_id for r in active} == set(run_ids)


def test_delete_experiment_updates_last_update_time(client, experiment_id):
    before = client.get_experiment(experiment_id).last_update_time
    time.sleep(0.01)
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).last_update_time > before
