"""The server and MLflow 3.17.2's own SQL store share databases in both directions.

(a) The server under test writes through the REST API; MLflow's SqlAlchemyStore
    (``MlflowClient(tracking_uri="sqlite:///..." or "postgresql://...")``) opens the same
    database directly - which checks the alembic revision - and must see the same data.
(b) MLflow's SqlAlchemyStore creates and fills a fresh database; a new server is started
    on it, and the client going through that server must see the same data.

Plus a structural comparison of the schema the server created with MLflow's own.
"""

from __future__ import annotations

import math

import mlflow
import pandas as pd
import pytest
import sqlalchemy
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.store.db.utils import _get_latest_schema_revision

from compat_server import TrackingServer, create_fresh_database, unique

# alembic head of MLflow 3.17.2 (tracking-api spec, schema-and-server.md §6.1)
ALEMBIC_HEAD = "dc11669786a5"
DOUBLE_MAX = 1.7976931348623157e308


# --------------------------------------------------------------------------------------
# Comparable views of an experiment
# --------------------------------------------------------------------------------------


def _num(value: float):
    """NaN != NaN, so compare NaN by name."""
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def snapshot(client: MlflowClient, experiment_id: str) -> dict:
    """Everything about one experiment and its runs (active and deleted) as plain data."""
    exp = client.get_experiment(experiment_id)
    runs = client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000)
    out_runs = {}
    for listed in runs:
        run = client.get_run(listed.info.run_id)
        info = run.info
        out_runs[info.run_id] = {
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "artifact_uri": info.artifact_uri,
            "params": dict(run.data.params),
            "tags": dict(run.data.tags),
            "metrics": {k: _num(v) for k, v in run.data.metrics.items()},
            "history": {
                key: [
                    (m.timestamp, m.step, _num(m.value))
                    for m in client.get_metric_history(info.run_id, key)
                ]
                for key in run.data.metrics
            },
            "datasets": sorted(
                (
                    d.dataset.name,
                    d.dataset.digest,
                    d.dataset.source_type,
                    d.dataset.source,
                    d.dataset.schema,
                    d.dataset.profile,
                    tuple(sorted((t.key, t.value) for t in d.tags)),
                )
                for d in run.inputs.dataset_inputs
            ),
        }
        # search_runs returns the same data as get_run.
        assert dict(listed.data.params) == out_runs[info.run_id]["params"]
        assert {k: _num(v) for k, v in listed.data.metrics.items()} == out_runs[info.run_id][
            "metrics"
        ]
    return {
        "experiment": {
            "experiment_id": exp.experiment_id,
            "name": exp.name,
            "artifact_location": exp.artifact_location,
            "lifecycle_stage": exp.lifecycle_stage,
            "creation_time": exp.creation_time,
            "last_update_time": exp.last_update_time,
            "tags": dict(exp.tags),
        },
        "runs": out_runs,
    }


def search_view(client: MlflowClient, experiment_id: str) -> dict:
    """A few searches whose answers depend on latest_metrics, params and tags tables."""

    def ids(filter_string, order_by=None):
        return [
            r.info.run_id
            for r in client.search_runs([experiment_id], filter_string, order_by=order_by)
        ]

    return {
        "acc>0.5": ids("metrics.acc > 0.5"),
        "by acc": ids("", ["metrics.acc DESC"]),
        "lr=0.1": ids("params.lr = '0.1'"),
        "tag": ids("tags.team LIKE 'vi%'"),
        "finished": ids("attributes.status = 'FINISHED'"),
        "dataset": ids("datasets.name = 'train'"),
    }


# --------------------------------------------------------------------------------------
# What both directions write
# --------------------------------------------------------------------------------------


def write_sample_experiment(client: MlflowClient, name: str) -> str:
    """Experiments, runs, params, tags, metric histories and a dataset, via `client`."""
    exp_id = client.create_experiment(name, tags={"team": "vision", "purpose": "interop"})

    base = 1_700_000_000_000
    good = client.create_run(exp_id, start_time=base, run_name="good", tags={"team": "vision"})
    g = good.info.run_id
    client.log_batch(
        g,
        metrics=[Metric("acc", 0.5 + i / 100, base + i, i) for i in range(40)]
        + [Metric("loss", 1.0 / (i + 1), base + i, i) for i in range(40)]
        + [Metric("nan", float("nan"), base, 0), Metric("inf", float("inf"), base, 0)]
        + [Metric("ninf", float("-inf"), base, 0)],
        params=[Param("lr", "0.1"), Param("layers", "3"), Param("empty", "")],
        tags=[RunTag("note", "unicode ✓ ünïcödé"), RunTag("multi", "line1\nline2")],
    )
    client.log_metric(g, "acc", 0.2, timestamp=base + 10_000, step=3)  # not the latest
    train = mlflow.data.from_pandas(
        pd.DataFrame({"x": [1, 2]}), source="file:///d/train.csv", name="train"
    ).to_dict()  # name, digest, source, source_type, schema, profile
    client.log_inputs(
        g,
        datasets=[
            DatasetInput(Dataset(**train), tags=[InputTag("mlflow.data.context", "training")])
        ],
    )
    client.set_terminated(g, "FINISHED", end_time=base + 60_000)

    child = client.create_run(
        exp_id, start_time=base + 1, run_name="child", tags={"mlflow.parentRunId": g}
    )
    client.log_param(child.info.run_id, "lr", "0.01")
    client.log_metric(child.info.run_id, "acc", 0.3, timestamp=base + 5, step=0)
    client.set_terminated(child.info.run_id, "FAILED", end_time=base + 9)

    running = client.create_run(exp_id, start_time=base + 2, run_name="still-running")
    client.log_param(running.info.run_id, "lr", "0.1")
    client.log_metric(running.info.run_id, "acc", 0.7, timestamp=base + 7, step=0)

    deleted = client.create_run(exp_id, start_time=base + 3, run_name="deleted")
    client.log_metric(deleted.info.run_id, "acc", 0.9, timestamp=base + 8, step=0)
    client.delete_run(deleted.info.run_id)
    return exp_id


def check_sample_snapshot(snap: dict, name: str) -> None:
    """The snapshot holds what write_sample_experiment wrote (guards against comparing two
    equally empty or equally broken views)."""
    assert snap["experiment"]["name"] == name
    assert snap["experiment"]["tags"] == {"team": "vision", "purpose": "interop"}
    runs = {r["run_name"]: r for r in snap["runs"].values()}
    assert set(runs) == {"good", "child", "still-running", "deleted"}

    good = runs["good"]
    assert good["status"] == "FINISHED"
    assert good["start_time"] == 1_700_000_000_000
    assert good["end_time"] == 1_700_000_060_000
    assert good["params"] == {"lr": "0.1", "layers": "3", "empty": ""}
    assert good["tags"]["note"] == "unicode ✓ ünïcödé"
    assert good["tags"]["multi"] == "line1\nline2"
    assert good["metrics"] == {
        "acc": 0.5 + 39 / 100,
        "loss": 1.0 / 40,
        "nan": "NaN",
        "inf": DOUBLE_MAX,
        "ninf": -DOUBLE_MAX,
    }
    assert len(good["history"]["acc"]) == 41
    assert good["history"]["acc"][0] == (1_700_000_000_000, 0, 0.5)
    assert good["history"]["acc"][-1] == (1_700_000_010_000, 3, 0.2)
    assert [step for _, step, _ in good["history"]["loss"]] == list(range(40))
    assert [(name, tags) for name, *_, tags in good["datasets"]] == [
        ("train", (("mlflow.data.context", "training"),))
    ]

    assert runs["child"]["tags"]["mlflow.parentRunId"] in snap["runs"]
    assert runs["child"]["status"] == "FAILED"
    assert runs["still-running"]["status"] == "RUNNING"
    assert runs["still-running"]["end_time"] is None
    assert runs["deleted"]["lifecycle_stage"] == "deleted"


def check_sample_searches(view: dict, snap: dict) -> None:
    by_name = {r["run_name"]: run_id for run_id, r in snap["runs"].items()}
    good, child, running = by_name["good"], by_name["child"], by_name["still-running"]
    assert view["acc>0.5"] == [running, good]  # start_time DESC
    assert view["by acc"] == [good, running, child]
    assert view["lr=0.1"] == [running, good]
    assert view["tag"] == [good]
    assert view["finished"] == [good]
    assert view["dataset"] == [good]


def alembic_version(uri: str) -> str | None:
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------
# Schema structure
# --------------------------------------------------------------------------------------


def describe_schema(uri: str) -> dict:
    """Tables with their columns (type, nullability), primary key, indexes, unique
    constraints and foreign keys, normalised for comparison."""
    engine = sqlalchemy.create_engine(uri)
    try:
        insp = sqlalchemy.inspect(engine)
        tables = {}
        for table in sorted(insp.get_table_names()):
            columns = {
                c["name"]: (str(c["type"]).upper(), bool(c["nullable"]))
                for c in insp.get_columns(table)
            }
            pk = insp.get_pk_constraint(table)
            indexes = sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
            )
            uniques = sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            )
            fks = sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in insp.get_foreign_keys(table)
            )
            tables[table] = {
                "columns": columns,
                "primary_key": tuple(pk["constrained_columns"]),
                "indexes": indexes,
                "unique_constraints": uniques,
                "foreign_keys": fks,
            }
        return tables
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def mlflow_schema() -> dict:
    """The schema MLflow 3.17.2's own store creates on a fresh database of this backend."""
    reference_db = create_fresh_database("mlflow_schema")
    try:
        MlflowClient(tracking_uri=reference_db.uri).search_experiments()  # creates the schema
        return describe_schema(reference_db.uri)
    finally:
        reference_db.drop()


# Tables and indexes the server may add on top of MLflow's schema. MLflow's store and
# alembic ignore objects they don't know, so additive objects in this namespace are
# tolerated; everything of MLflow's own schema must be present and identical.
EXTRA_OBJECT_PREFIX = "rivulet_"


def test_schema_matches_mlflow(tracking_server, mlflow_schema):
    expected = mlflow_schema
    actual = describe_schema(tracking_server.backend_uri)

    def own_indexes(indexes):
        return [i for i in indexes if not (i[0] or "").startswith(EXTRA_OBJECT_PREFIX)]

    problems = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            problems.append(f"missing table {table}")
        elif table not in expected:
            if not table.startswith(EXTRA_OBJECT_PREFIX):
                problems.append(f"extra table {table}")
        else:
            for aspect, want in expected[table].items():
                got = actual[table][aspect]
                if aspect == "indexes":
                    got = own_indexes(got)
                if got != want:
                    problems.append(f"{table}.{aspect}: expected {want!r}, got {got!r}")
    assert not problems, "schema differs from MLflow 3.17.2:\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------
# Sharing data in both directions
# --------------------------------------------------------------------------------------


def test_pinned_mlflow_expects_the_documented_alembic_head():
    assert _get_latest_schema_revision() == ALEMBIC_HEAD


def test_mlflow_store_reads_what_the_server_wrote(
    client, tracking_server, mlflow_schema, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # MLflow's store may create ./mlruns
    name = unique("interop-a")
    exp_id = write_sample_experiment(client, name)
    through_server = snapshot(client, exp_id)
    check_sample_snapshot(through_server, name)

    # MLflow refuses a database at another alembic revision, and silently creates tables
    # it misses (which would hide a schema problem from test_schema_matches_mlflow).
    assert alembic_version(tracking_server.backend_uri) == ALEMBIC_HEAD
    missing = set(mlflow_schema) - set(describe_schema(tracking_server.backend_uri))
    assert not missing, f"tables MLflow needs are missing: {sorted(missing)}"

    direct = MlflowClient(tracking_uri=tracking_server.backend_uri)  # MLflow's SqlAlchemyStore
    assert direct.get_experiment_by_name(name).experiment_id == exp_id
    direct_snapshot = snapshot(direct, exp_id)
    check_sample_snapshot(direct_snapshot, name)
    assert direct_snapshot == through_server

    check_sample_searches(search_view(direct, exp_id), direct_snapshot)
    assert search_view(direct, exp_id) == search_view(client, exp_id)

    # The Default experiment exists for MLflow too.
    assert direct.get_experiment("0").name == "Default"


def test_server_reads_what_the_mlflow_store_wrote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's store creates ./mlruns as default artifact root
    db = create_fresh_database("mlflow_written")
    try:
        direct = MlflowClient(tracking_uri=db.uri)  # creates MLflow's schema
        name = unique("interop-b")
        exp_id = write_sample_experiment(direct, name)
        written = snapshot(direct, exp_id)
        check_sample_snapshot(written, name)
        written_searches = search_view(direct, exp_id)
        check_sample_searches(written_searches, written)

        with TrackingServer(db.uri, name="on-mlflow-db") as server:
            through_server = MlflowClient(tracking_uri=server.url)
            assert through_server.get_experiment_by_name(name).experiment_id == exp_id
            assert through_server.get_experiment("0").name == "Default"
            served = snapshot(through_server, exp_id)
            assert served == written
            assert search_view(through_server, exp_id) == written_searches

            # The server can keep writing to the MLflow-created database ...
            new_run = through_server.create_run(exp_id, run_name="after")
            through_server.log_metric(new_run.info.run_id, "acc", 0.99, step=1)
            through_server.log_param(new_run.info.run_id, "lr", "0.2")
            through_server.set_terminated(new_run.info.run_id)

        # ... and MLflow's store still reads it afterwards.
        assert alembic_version(db.uri) == ALEMBIC_HEAD
        reread = MlflowClient(tracking_uri=db.uri)
        after = reread.get_run(new_run.info.run_id)
        assert after.info.status == "FINISHED"
        assert after.data.metrics == {"acc": 0.99}
        assert after.data.params == {"lr": "0.2"}
        assert reread.search_runs([exp_id], "metrics.acc > 0.95")[0].info.run_id == (
            new_run.info.run_id
        )
    finally:
        db.drop()
