"""search_runs: filters, ordering, paging and view types (MlflowClient and pandas)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType

from compat_server import unique

NAN = float("nan")


@dataclass(frozen=True)
class RunSpec:
    name: str
    start_time: int
    status: str
    acc: float | None  # None: metric not logged
    lr: str | None  # None: param not logged
    t: str | None  # None: tag not set


# Six runs with overlapping values; tests refer to them by name.
RUNS = [
    RunSpec("ra", 1_000, "FINISHED", 0.9, "0.1", "alpha"),
    RunSpec("rb", 2_000, "FINISHED", 0.6, "0.01", "beta"),
    RunSpec("rc", 3_000, "RUNNING", 0.3, "0.1", "apple"),
    RunSpec("rd", 4_000, "FAILED", NAN, "0.5", None),
    RunSpec("re", 5_000, "FINISHED", None, None, "avocado"),
    RunSpec("rf", 6_000, "KILLED", 0.95, "0.1", "Alpha"),
]


@dataclass
class Populated:
    experiment_id: str
    experiment_name: str
    ids: dict[str, str]  # run name -> run id
    names: dict[str, str]  # run id -> run name


@pytest.fixture(scope="module")
def populated(client) -> Populated:
    name = unique("search")
    exp_id = client.create_experiment(name)
    ids = {}
    for spec in RUNS:
        run = client.create_run(exp_id, start_time=spec.start_time, run_name=spec.name)
        run_id = run.info.run_id
        metrics = [] if spec.acc is None else [Metric("acc", spec.acc, spec.start_time, 0)]
        params = [] if spec.lr is None else [Param("lr", spec.lr)]
        tags = [] if spec.t is None else [RunTag("t", spec.t)]
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        if spec.status != "RUNNING":
            client.set_terminated(run_id, status=spec.status, end_time=spec.start_time + 500)
        ids[spec.name] = run_id
    return Populated(exp_id, name, ids, {v: k for k, v in ids.items()})


def search_names(client, populated, filter_string="", order_by=None, **kwargs):
    runs = client.search_runs(
        [populated.experiment_id], filter_string=filter_string, order_by=order_by, **kwargs
    )
    return [populated.names[r.info.run_id] for r in runs]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.5 and params.lr = '0.1'", {"ra", "rf"}),
        ("metrics.acc >= 0.6", {"ra", "rb", "rf"}),
        ("metrics.acc < 0.6", {"rc"}),
        ("metrics.acc = 0.3", {"rc"}),
        # NaN never satisfies a comparison, except != which it always satisfies.
        ("metrics.acc != 0.6", {"ra", "rc", "rd", "rf"}),
        ("params.lr = '0.1'", {"ra", "rc", "rf"}),
        ("params.lr != '0.1'", {"rb", "rd"}),
        ("params.lr LIKE '0.0%'", {"rb"}),
        ("params.lr IS NULL", {"re"}),
        ("params.lr IS NOT NULL", {"ra", "rb", "rc", "rd", "rf"}),
        ("tags.t LIKE 'a%'", {"ra", "rc", "re"}),  # LIKE is case-sensitive
        ("tags.t ILIKE 'a%'", {"ra", "rc", "re", "rf"}),
        ("tags.t = 'beta'", {"rb"}),
        ("tags.t IS NULL", {"rd"}),
        ("attributes.status = 'FINISHED'", {"ra", "rb", "re"}),
        ("attributes.status != 'FINISHED'", {"rc", "rd", "rf"}),
        ("attributes.run_name = 'rb'", {"rb"}),
        ("attributes.run_name LIKE 'r%' and metrics.acc > 0.9", {"rf"}),
        ("attributes.start_time >= 3000 and attributes.start_time < 6000", {"rc", "rd", "re"}),
        ("attributes.end_time = 1500", {"ra"}),
        ("status = 'KILLED'", {"rf"}),  # no prefix means attribute
        ("metric.acc > 0.5 AND param.lr = '0.1' AND tag.t = 'alpha'", {"ra"}),
        ("`metrics`.`acc` > 0.9", {"rf"}),
        ('tags.`t` = "beta"', {"rb"}),  # backticked key, double-quoted value
        ("tags.mlflow.runName = 'rc'", {"rc"}),  # only the first dot splits
        ("`Run name` = 'rd'", {"rd"}),
        ("attributes.created >= 5000", {"re", "rf"}),  # alias of start_time
        (
            "metrics.acc > 0.5 AND attributes.artifact_uri LIKE 'mlflow-artifacts:/%'",
            {"ra", "rb", "rf"},
        ),
        ("attributes.status ILIKE 'fin%'", {"ra", "rb", "re"}),
        ("attributes.run_name ILIKE 'R_'", {"ra", "rb", "rc", "rd", "re", "rf"}),
    ],
)
def test_filters(client, populated, filter_string, expected):
    assert set(search_names(client, populated, filter_string)) == expected


def test_filter_by_run_id_list(client, populated):
    a, c = populated.ids["ra"], populated.ids["rc"]
    assert set(search_names(client, populated, f"attributes.run_id IN ('{a}', '{c}')")) == {
        "ra",
        "rc",
    }
    assert set(search_names(client, populated, f"run_id NOT IN ('{a}', '{c}')")) == {
        "rb",
        "rd",
        "re",
        "rf",
    }
    assert search_names(client, populated, f"attributes.run_id = '{a}'") == ["ra"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # Default: start_time DESC.
        (None, ["rf", "re", "rd", "rc", "rb", "ra"]),
        (["start_time ASC"], ["ra", "rb", "rc", "rd", "re", "rf"]),
        (["attributes.start_time DESC"], ["rf", "re", "rd", "rc", "rb", "ra"]),
        # Values first, then NaN, then runs without the metric - in both directions.
        (["metrics.acc DESC"], ["rf", "ra", "rb", "rc", "rd", "re"]),
        (["metrics.acc ASC"], ["rc", "rb", "ra", "rf", "rd", "re"]),
        # String order; ties broken by start_time DESC; runs without the param last.
        (["params.lr ASC"], ["rb", "rf", "rc", "ra", "rd", "re"]),
        (["params.lr DESC", "start_time ASC"], ["rd", "ra", "rc", "rf", "rb", "re"]),
        (["attributes.run_name DESC"], ["rf", "re", "rd", "rc", "rb", "ra"]),
    ],
)
def test_order_by(client, populated, order_by, expected):
    assert search_names(client, populated, order_by=order_by) == expected


def test_order_by_tag(client, populated):
    # 'Alpha' vs 'alpha' would depend on the database collation, so leave rf out.
    names = search_names(client, populated, "attributes.run_name != 'rf'", ["tags.t DESC"])
    assert names == ["rb", "re", "rc", "ra", "rd"]


def test_paging_with_page_tokens(client, populated):
    collected = []
    pages = []
    token = None
    while True:
        page = client.search_runs(
            [populated.experiment_id],
            max_results=4,
            order_by=["start_time ASC"],
            page_token=token,
        )
        pages.append(len(page))
        collected.extend(populated.names[r.info.run_id] for r in page)
        token = page.token
        if not token:
            break
        assert len(pages) < 10, "next_page_token never runs out"
    assert pages == [4, 2]
    assert collected == ["ra", "rb", "rc", "rd", "re", "rf"]

    # An exact multiple of the page size: the last full page may or may not carry a
    # token, but following it must end with an empty page.
    page = client.search_runs([populated.experiment_id], max_results=6)
    assert len(page) == 6
    if page.token:
        rest = client.search_runs([populated.experiment_id], max_results=6, page_token=page.token)
        assert len(rest) == 0 and not rest.token


def test_pandas_search_runs(client, populated):
    df = mlflow.search_runs(
        experiment_ids=[populated.experiment_id],
        filter_string="metrics.acc > 0.5 and params.lr = '0.1'",
        order_by=["metrics.acc DESC"],
    )
    assert isinstance(df, pd.DataFrame)
    assert df["run_id"].tolist() == [populated.ids["rf"], populated.ids["ra"]]
    assert df["metrics.acc"].tolist() == [0.95, 0.9]
    assert df["params.lr"].tolist() == ["0.1", "0.1"]
    assert df["tags.t"].tolist() == ["Alpha", "alpha"]
    assert df["tags.mlflow.runName"].tolist() == ["rf", "ra"]
    assert df["status"].tolist() == ["KILLED", "FINISHED"]
    assert df["experiment_id"].tolist() == [populated.experiment_id] * 2
    assert [ts.value // 1_000_000 for ts in df["start_time"]] == [6_000, 1_000]  # ms

    # All runs, by experiment name; missing values are NaN/None.
    df = mlflow.search_runs(experiment_names=[populated.experiment_name], order_by=["start_time"])
    assert df["tags.mlflow.runName"].tolist() == ["ra", "rb", "rc", "rd", "re", "rf"]
    acc = df["metrics.acc"].tolist()
    assert acc[:3] == [0.9, 0.6, 0.3] and acc[5] == 0.95
    assert math.isnan(acc[3]) and math.isnan(acc[4])  # NaN logged / never logged
    assert df["params.lr"].isna().tolist() == [False, False, False, False, True, False]

    runs = mlflow.search_runs(
        experiment_ids=[populated.experiment_id],
        filter_string="attributes.run_name = 'rc'",
        output_format="list",
    )
    assert [r.info.run_id for r in runs] == [populated.ids["rc"]]


def test_search_returns_run_contents(client, populated):
    (run,) = client.search_runs([populated.experiment_id], "attributes.run_name = 'ra'")
    assert run.info.run_id == populated.ids["ra"]
    assert run.info.status == "FINISHED"
    assert run.info.start_time == 1_000
    assert run.info.end_time == 1_500
    assert run.data.metrics == {"acc": 0.9}
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["t"] == "alpha"
    assert run.data.tags["mlflow.runName"] == "ra"


def test_search_over_several_experiments(client, populated):
    other = client.create_experiment(unique("search-other"))
    other_run = client.create_run(other, run_name="elsewhere")
    client.log_metric(other_run.info.run_id, "acc", 0.99)

    found = client.search_runs([populated.experiment_id, other], filter_string="metrics.acc > 0.92")
    assert {r.info.run_id for r in found} == {populated.ids["rf"], other_run.info.run_id}


def test_run_view_type_and_deleted_runs(client, experiment_id):
    kept = client.create_run(experiment_id, run_name="kept").info.run_id
    gone = client.create_run(experiment_id, run_name="gone").info.run_id
    client.delete_run(gone)

    def ids(view_type):
        return {r.info.run_id for r in client.search_runs([experiment_id], run_view_type=view_type)}

    assert ids(ViewType.ACTIVE_ONLY) == {kept}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {kept, gone}

    df = mlflow.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert df["run_id"].tolist() == [gone]

    # A deleted run can still be fetched directly.
    assert client.get_run(gone).info.lifecycle_stage == "deleted"
