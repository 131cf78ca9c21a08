"""Error codes the client relies on, and that validation errors are 4xx (not retried)."""

from __future__ import annotations

import time
import uuid

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from compat_server import unique


@pytest.fixture
def slow_retries(monkeypatch):
    """Make a retried (5xx) answer take >= 8 s: urllib3 waits 0 s before the first retry
    and backoff_factor * 2 s before the second. A 4xx answer is never retried."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "4")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")


FAST_S = 4.0  # a non-retried request to a local server takes well under this


def test_get_run_unknown_id(client):
    unknown = uuid.uuid4().hex
    with pytest.raises(MlflowException) as exc_info:
        client.get_run(unknown)
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert unknown in exc_info.value.message


def test_delete_unknown_run(client):
    with pytest.raises(MlflowException) as exc_info:
        client.delete_run(uuid.uuid4().hex)
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_metric_history_of_unknown_run_is_empty(client):
    assert client.get_metric_history(uuid.uuid4().hex, "m") == []


@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.acc >> 0.5",
        "params.lr = 0.1",  # param values must be quoted
        "metrics.acc > 'high'",  # metric values must be numeric
        "foo.bar = 'x'",  # unknown entity type
        "attributes.nope = 'x'",  # unknown attribute
        "metrics.acc > 0.5 OR metrics.acc < 0.1",  # OR is not supported
        "attributes.status IN ('FINISHED')",  # only run_id takes lists
        "metrics.acc IS NULL",  # IS NULL only for params and tags
        "attributes.start_time > '5'",  # numeric attribute needs a number
    ],
)
def test_bad_search_filter_is_a_fast_invalid_parameter_value(
    client, experiment_id, slow_retries, filter_string
):
    started = time.monotonic()
    with pytest.raises(MlflowException) as exc_info:
        client.search_runs([experiment_id], filter_string=filter_string)
    elapsed = time.monotonic() - started
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert elapsed < FAST_S, f"took {elapsed:.1f}s: the server answered 5xx and the client retried"


@pytest.mark.parametrize(
    "order_by",
    ["metrics.acc SIDEWAYS", "nope.x ASC", "attributes.nope DESC"],
)
def test_bad_order_by_is_invalid_parameter_value(client, experiment_id, slow_retries, order_by):
    started = time.monotonic()
    with pytest.raises(MlflowException) as exc_info:
        client.search_runs([experiment_id], order_by=[order_by])
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert time.monotonic() - started < FAST_S


@pytest.mark.parametrize(
    "filter_string",
    [
        "params.x = 'y'",  # experiments have no params
        "name = ",
        "creation_time > 'yesterday'",
    ],
)
def test_bad_experiment_filter_is_invalid_parameter_value(client, slow_retries, filter_string):
    started = time.monotonic()
    with pytest.raises(MlflowException) as exc_info:
        client.search_experiments(filter_string=filter_string, view_type=ViewType.ALL)
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert time.monotonic() - started < FAST_S


def test_search_runs_limits(client, experiment_id, slow_retries):
    with pytest.raises(MlflowException) as exc_info:
        client.search_runs([experiment_id], max_results=50_001)
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"

    with pytest.raises(MlflowException) as exc_info:
        client.search_runs(["not-a-number"])
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"

    # The documented maximum is accepted.
    assert client.search_runs([experiment_id], max_results=50_000) == []


def test_bad_page_token(client, experiment_id, slow_retries):
    with pytest.raises(MlflowException) as exc_info:
        client.search_runs([experiment_id], page_token="%%% not a token %%%")
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_rename_of_deleted_experiment_fails(client, monkeypatch):
    # MLflow answers 500 INVALID_STATE here (see the Rivulet-only test below), which the
    # client would retry for minutes: don't retry, only check that it fails.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    exp_id = client.create_experiment(unique("rename-deleted"))
    name = client.get_experiment(exp_id).name
    client.delete_experiment(exp_id)
    with pytest.raises(MlflowException):
        client.rename_experiment(exp_id, unique("new-name"))
    assert client.get_experiment(exp_id).name == name


@pytest.mark.rivulet_only(
    reason="MLflow answers 500 INVALID_STATE (retried by the client); Rivulet answers 4xx "
    "(tracking-api.md §5.4, §6.3)"
)
def test_rename_of_deleted_experiment_is_a_fast_client_error(client, slow_retries):
    exp_id = client.create_experiment(unique("rename-deleted"))
    client.delete_experiment(exp_id)
    started = time.monotonic()
    with pytest.raises(MlflowException) as exc_info:
        client.rename_experiment(exp_id, unique("new-name"))
    # After exhausted retries of a 5xx the client reports INTERNAL_ERROR.
    assert exc_info.value.error_code != "INTERNAL_ERROR"
    assert time.monotonic() - started < FAST_S


@pytest.mark.rivulet_only(
    reason="MLflow answers 500 INTERNAL_ERROR for a duplicate order_by key (retried by the "
    "client); Rivulet answers 400 INVALID_PARAMETER_VALUE (tracking-api.md §4.2, §6.3)"
)
def test_duplicate_order_by_key_is_a_fast_invalid_parameter_value(
    client, experiment_id, slow_retries
):
    started = time.monotonic()
    with pytest.raises(MlflowException) as exc_info:
        client.search_runs([experiment_id], order_by=["metrics.m", "metrics.m DESC"])
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert time.monotonic() - started < FAST_S
