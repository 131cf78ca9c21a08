"""Runs: lifecycle, names, params, metrics, tags, log_batch, datasets."""

from __future__ import annotations

import json
import math
import re
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

DOUBLE_MAX = 1.7976931348623157e308  # what the SQL stores keep for +/-inf


def now_ms() -> int:
    return int(time.time() * 1000)


def test_start_and_end_run(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    before = now_ms()

    with mlflow.start_run(run_name="first-run") as active:
        run_id = active.info.run_id
        running = client.get_run(run_id)
        assert running.info.status == "RUNNING"
        assert running.info.end_time is None

    run = client.get_run(run_id)
    info = run.info
    assert re.fullmatch(r"[0-9a-f]{32}", run_id)
    assert info.run_id == run_id
    assert info.experiment_id == experiment_id
    assert info.run_name == "first-run"
    assert info.status == "FINISHED"
    assert info.lifecycle_stage == "active"
    assert before - 5_000 <= info.start_time <= now_ms()
    assert info.end_time is not None and info.start_time <= info.end_time <= now_ms() + 5_000
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    # The client adds these tags on run creation; the server keeps mlflow.runName in sync.
    assert run.data.tags["mlflow.runName"] == "first-run"
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    assert "mlflow.user" in run.data.tags
    assert info.user_id == run.data.tags["mlflow.user"]


def test_end_run_with_status_and_resume(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    run = mlflow.start_run()
    mlflow.end_run(status="FAILED")
    assert client.get_run(run.info.run_id).info.status == "FAILED"

    # Resuming a finished run sets it RUNNING again; writes to it are allowed.
    with mlflow.start_run(run_id=run.info.run_id):
        assert client.get_run(run.info.run_id).info.status == "RUNNING"
        mlflow.log_param("resumed", "yes")
    resumed = client.get_run(run.info.run_id)
    assert resumed.info.status == "FINISHED"
    assert resumed.data.params == {"resumed": "yes"}

    # MlflowClient.set_terminated
    other = client.create_run(experiment_id)
    client.set_terminated(other.info.run_id, status="KILLED", end_time=1_700_000_000_000)
    killed = client.get_run(other.info.run_id).info
    assert killed.status == "KILLED"
    assert killed.end_time == 1_700_000_000_000


def test_nested_runs(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            pass

    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "mlflow.parentRunId" not in client.get_run(parent.info.run_id).data.tags

    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_run_names(client, experiment_id):
    # No name: the server generates "<adjective>-<noun>-<number>".
    generated = client.create_run(experiment_id)
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", generated.info.run_name)
    assert client.get_run(generated.info.run_id).data.tags["mlflow.runName"] == (
        generated.info.run_name
    )

    # Name given only as the mlflow.runName tag.
    from_tag = client.create_run(experiment_id, tags={"mlflow.runName": "from-tag"})
    assert from_tag.info.run_name == "from-tag"

    # Renaming through update_run updates the tag, setting the tag updates the name.
    client.update_run(from_tag.info.run_id, name="renamed")
    renamed = client.get_run(from_tag.info.run_id)
    assert renamed.info.run_name == "renamed"
    assert renamed.data.tags["mlflow.runName"] == "renamed"

    client.set_tag(from_tag.info.run_id, "mlflow.runName", "via-tag")
    assert client.get_run(from_tag.info.run_id).info.run_name == "via-tag"

    # Conflicting name and tag are rejected.
    with pytest.raises(MlflowException) as exc_info:
        client.create_run(experiment_id, run_name="b", tags={"mlflow.runName": "a"})
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_params_are_immutable(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run() as run:
        assert mlflow.log_param("lr", 0.1) == 0.1
        mlflow.log_params({"layers": 3, "activation": "relu", "empty": ""})
        # Same value again is fine, both singly and in a batch.
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"lr": "0.1", "layers": "3"})

        with pytest.raises(MlflowException) as exc_info:
            mlflow.log_param("lr", 0.2)
        assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"

        with pytest.raises(MlflowException) as exc_info:
            mlflow.log_params({"layers": 4})
        assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"

    params = client.get_run(run.info.run_id).data.params
    # Values are stringified by the client.
    assert params == {"lr": "0.1", "layers": "3", "activation": "relu", "empty": ""}


def test_long_param_value_round_trips(client, experiment_id):
    run = client.create_run(experiment_id)
    value = "v" * 6000
    client.log_param(run.info.run_id, "long", value)
    assert client.get_run(run.info.run_id).data.params["long"] == value


def test_log_metric_steps_and_special_values(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run() as run:
        for step, value in enumerate([0.5, 0.25, 0.125]):
            mlflow.log_metric("loss", value, step=step)
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("pos_inf", float("inf"))
        mlflow.log_metric("neg_inf", float("-inf"))
        mlflow.log_metric("negative_step", 7.0, step=-3)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        mlflow.log_metrics({"batch_nan": float("nan"), "batch_inf": float("inf")})
    run_id = run.info.run_id

    metrics = client.get_run(run_id).data.metrics
    assert metrics["loss"] == 0.125
    assert metrics["acc"] == 0.9
    assert metrics["f1"] == 0.8
    assert metrics["negative_step"] == 7.0
    assert math.isnan(metrics["nan"])
    assert math.isnan(metrics["batch_nan"])
    # Databases cannot store infinity: it comes back as +/- the largest double.
    assert metrics["pos_inf"] == DOUBLE_MAX
    assert metrics["batch_inf"] == DOUBLE_MAX
    assert metrics["neg_inf"] == -DOUBLE_MAX

    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.25), (2, 0.125)]
    assert all(m.key == "loss" for m in history)
    assert all(m.timestamp > 0 for m in history)

    assert [m.step for m in client.get_metric_history(run_id, "acc")] == [4]
    assert [m.step for m in client.get_metric_history(run_id, "negative_step")] == [-3]
    nan_history = client.get_metric_history(run_id, "nan")
    assert len(nan_history) == 1 and math.isnan(nan_history[0].value)
    assert [m.value for m in client.get_metric_history(run_id, "neg_inf")] == [-DOUBLE_MAX]
    assert client.get_metric_history(run_id, "never-logged") == []


def test_metric_values_and_steps_round_trip_exactly(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    values = [0.1 + 0.2, 1e-300, -1.5e300, 2.0**-1074, 123456789.123456789, -0.0, 3.0]
    metrics = [Metric(f"v{i}", v, 1_000 + i, 2**40 + i) for i, v in enumerate(values)]
    client.log_batch(run_id, metrics=metrics)

    logged = client.get_run(run_id).data.metrics
    assert [logged[f"v{i}"] for i in range(len(values))] == values
    (point,) = client.get_metric_history(run_id, "v0")
    assert (point.value, point.timestamp, point.step) == (0.1 + 0.2, 1_000, 2**40)


def test_latest_metric_is_max_of_step_timestamp_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # (key, value, timestamp, step)
    logged = [
        ("m", 1.0, 1_000, 2),
        ("m", 9.0, 9_000, 1),  # newer timestamp but lower step: not the latest
        ("m", 2.0, 500, 5),
        ("m", 3.0, 500, 5),  # same step and timestamp, greater value: the latest
        ("m", 0.5, 400, 5),
        ("t", 1.0, 2_000, 0),
        ("t", 0.0, 3_000, 0),  # same step, newer timestamp: the latest
    ]
    client.log_batch(run_id, metrics=[Metric(k, v, ts, s) for k, v, ts, s in logged])

    run = client.get_run(run_id)
    assert run.data.metrics == {"m": 3.0, "t": 0.0}

    history = client.get_metric_history(run_id, "m")
    assert sorted((m.value, m.timestamp, m.step) for m in history) == sorted(
        (v, ts, s) for k, v, ts, s in logged if k == "m"
    )

    # Exact duplicates are de-duplicated; a lower step never replaces the latest value.
    client.log_batch(run_id, metrics=[Metric("m", 3.0, 500, 5), Metric("m", 100.0, 1, 0)])
    assert len(client.get_metric_history(run_id, "m")) == 6
    assert client.get_run(run_id).data.metrics["m"] == 3.0


def test_tags(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run() as run:
        mlflow.set_tag("single", "1")
        mlflow.set_tags({"a": "x", "b": "y", "c": 3})
        mlflow.set_tag("a", "overwritten")  # tags are upserts
        mlflow.delete_tag("b")
        with pytest.raises(MlflowException) as exc_info:
            mlflow.delete_tag("b")
        assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    tags = client.get_run(run.info.run_id).data.tags
    user_tags = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    assert user_tags == {"single": "1", "a": "overwritten", "c": "3"}

    client.set_tag(run.info.run_id, "from-client", "v")
    client.delete_tag(run.info.run_id, "single")
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["from-client"] == "v"
    assert "single" not in tags


def test_log_batch(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ts = now_ms()
    client.log_batch(
        run_id,
        metrics=[Metric("m1", 1.5, ts, 0), Metric("m1", 2.5, ts + 1, 1), Metric("m2", -1.0, ts, 3)],
        params=[Param("p1", "a"), Param("p2", "b")],
        tags=[RunTag("t1", "x"), RunTag("t2", "y")],
    )
    # An empty batch is fine.
    client.log_batch(run_id)

    run = client.get_run(run_id)
    assert run.data.metrics == {"m1": 2.5, "m2": -1.0}
    assert run.data.params == {"p1": "a", "p2": "b"}
    assert run.data.tags["t1"] == "x" and run.data.tags["t2"] == "y"
    assert [(m.value, m.step, m.timestamp) for m in client.get_metric_history(run_id, "m1")] == [
        (1.5, 0, ts),
        (2.5, 1, ts + 1),
    ]

    # Changing a param inside a batch is rejected, and nothing of that batch is applied.
    with pytest.raises(MlflowException) as exc_info:
        client.log_batch(run_id, params=[Param("p1", "changed")])
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params["p1"] == "a"


def test_log_input_dataset(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    train = mlflow.data.from_pandas(df, source="file:///data/train.csv", name="train", targets="y")
    array = mlflow.data.from_numpy(np.arange(12, dtype=np.float64).reshape(4, 3), name="feats")

    with mlflow.start_run() as run:
        mlflow.log_input(train, context="training")
        mlflow.log_input(array, context="eval", tags={"split": "holdout"})

    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    by_name = {d.dataset.name: d for d in inputs}
    assert set(by_name) == {"train", "feats"}

    logged_train = by_name["train"]
    expected = train.to_dict()  # name, digest, source, source_type, schema, profile
    assert logged_train.dataset.digest == expected["digest"]
    assert logged_train.dataset.source_type == "local"
    assert json.loads(logged_train.dataset.source) == {"uri": "file:///data/train.csv"}
    assert json.loads(logged_train.dataset.schema) == json.loads(expected["schema"])
    assert json.loads(logged_train.dataset.profile) == {"num_rows": 3, "num_elements": 6}
    assert {t.key: t.value for t in logged_train.tags} == {"mlflow.data.context": "training"}

    logged_array = by_name["feats"]
    assert logged_array.dataset.digest == array.digest
    assert logged_array.dataset.source_type == "code"
    assert logged_array.dataset.schema == array.to_dict()["schema"]
    assert {t.key: t.value for t in logged_array.tags} == {
        "mlflow.data.context": "eval",
        "split": "holdout",
    }

    # Datasets are searchable.
    for filter_string in [
        "datasets.name = 'feats'",
        f"datasets.digest = '{train.digest}'",
        "datasets.context = 'training'",
        "datasets.name IN ('train', 'other')",
    ]:
        found = client.search_runs([experiment_id], filter_string=filter_string)
        assert [r.info.run_id for r in found] == [run.info.run_id], filter_string
    assert client.search_runs([experiment_id], filter_string="datasets.context = 'x'") == []


def test_writes_to_deleted_run_are_rejected(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    with pytest.raises(MlflowException) as exc_info:
        client.log_param(run_id, "p", "v")
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as exc_info:
        client.log_metric(run_id, "m", 1.0)
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"
