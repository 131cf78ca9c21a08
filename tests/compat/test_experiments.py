"""Experiments: create/get/search/rename/delete/restore and experiment tags."""

from __future__ import annotations

import re
import time

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from compat_server import unique


def now_ms() -> int:
    return int(time.time() * 1000)


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"


def test_set_experiment_creates_then_reuses(client):
    name = unique("set-exp")
    before = now_ms()

    created = mlflow.set_experiment(name)

    assert created.name == name
    assert re.fullmatch(r"[1-9][0-9]*", created.experiment_id)
    assert created.lifecycle_stage == "active"
    assert created.artifact_location == f"mlflow-artifacts:/{created.experiment_id}"
    assert before - 5_000 <= created.creation_time <= now_ms() + 5_000
    assert created.last_update_time >= created.creation_time

    # Setting an existing experiment returns it instead of creating a new one.
    again = mlflow.set_experiment(name)
    assert again.experiment_id == created.experiment_id
    assert again.creation_time == created.creation_time

    by_id = mlflow.set_experiment(experiment_id=created.experiment_id)
    assert by_id.name == name

    # Runs started now go to this experiment.
    with mlflow.start_run() as run:
        assert run.info.experiment_id == created.experiment_id


def test_create_experiment_with_tags_and_get(client):
    name = unique("tagged")
    exp_id = client.create_experiment(name, tags={"team": "vision", "priority": "1"})

    for exp in (client.get_experiment(exp_id), client.get_experiment_by_name(name)):
        assert exp.experiment_id == exp_id
        assert exp.name == name
        assert exp.lifecycle_stage == "active"
        assert exp.tags == {"team": "vision", "priority": "1"}
        assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"

    # The fluent API creates with tags too.
    fluent_id = mlflow.create_experiment(unique("fluent"), tags={"a": "b"})
    assert mlflow.get_experiment(fluent_id).tags == {"a": "b"}


def test_get_experiment_by_name_missing_returns_none(client):
    assert client.get_experiment_by_name(unique("no-such-experiment")) is None
    assert mlflow.get_experiment_by_name(unique("no-such-experiment")) is None


def test_get_experiment_unknown_id(client):
    with pytest.raises(MlflowException) as exc_info:
        client.get_experiment("987654321")
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_create_duplicate_name_fails(client):
    name = unique("dup")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as exc_info:
        client.create_experiment(name)
    assert exc_info.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_search_experiments_filter_and_order(client):
    prefix = unique("srch")
    names = [f"{prefix}-b", f"{prefix}-a", f"{prefix}-c"]
    ids = {}
    for name in names:
        ids[name] = client.create_experiment(name, tags={"letter": name[-1]})
        time.sleep(0.01)  # distinct creation_time values

    found = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"])
    assert [e.name for e in found] == sorted(names)

    found = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"]
    )
    assert [e.name for e in found] == sorted(names, reverse=True)

    # Default order is newest first.
    found = mlflow.search_experiments(filter_string=f"name LIKE '{prefix}%'")
    assert [e.name for e in found] == list(reversed(names))

    found = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'", order_by=["creation_time ASC"]
    )
    assert [e.name for e in found] == names

    # Exact name, tag filter, case-insensitive ILIKE, conjunction.
    found = client.search_experiments(filter_string=f"name = '{prefix}-a'")
    assert [e.experiment_id for e in found] == [ids[f"{prefix}-a"]]

    found = client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.letter = 'c'")
    assert [e.name for e in found] == [f"{prefix}-c"]

    found = client.search_experiments(filter_string=f"name ILIKE '{prefix.upper()}-%'")
    assert {e.name for e in found} == set(names)

    # LIKE is case-sensitive.
    assert client.search_experiments(filter_string=f"name LIKE '{prefix.upper()}-%'") == []


def test_experiment_names_with_special_characters(client):
    name = unique("with space/slash 'quote' ünï✓")
    exp_id = mlflow.set_experiment(name).experiment_id
    assert client.get_experiment_by_name(name).experiment_id == exp_id
    assert client.get_experiment(exp_id).name == name
    # A double-quoted value may contain single quotes.
    found = client.search_experiments(filter_string=f'name = "{name}"')
    assert [e.experiment_id for e in found] == [exp_id]


def test_search_experiments_more_filters(client):
    prefix = unique("more")
    first = client.create_experiment(f"{prefix}-1", tags={"k": "v"})
    time.sleep(0.01)
    second = client.create_experiment(f"{prefix}-2")
    created_second = client.get_experiment(second).creation_time

    def ids(filter_string):
        found = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%' AND {filter_string}"
        )
        return {e.experiment_id for e in found}

    assert ids(f"creation_time >= {created_second}") == {second}
    assert ids(f"creation_time < {created_second}") == {first}
    assert ids(f"experiment_id = '{first}'") == {first}
    assert ids(f"experiment_id != '{first}'") == {second}
    assert ids(f"attribute.name = '{prefix}-2'") == {second}
    assert ids("tags.k = 'v'") == {first}
    assert ids("tag.k != 'v'") == set()
    assert ids("tags.k LIKE 'v%'") == {first}


def test_search_experiments_paging(client):
    prefix = unique("page")
    created = [client.create_experiment(f"{prefix}-{i:02d}") for i in range(23)]
    page_size = 5

    seen = []
    pages = 0
    token = None
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'",
            max_results=page_size,
            order_by=["name ASC"],
            page_token=token,
        )
        pages += 1
        assert len(page) <= page_size
        seen.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            break
        assert pages < 20, "next_page_token never runs out"

    assert pages == 5
    assert seen == created  # every experiment exactly once, in name order

    # The fluent API pages internally and returns everything.
    everything = mlflow.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    assert sorted(e.experiment_id for e in everything) == sorted(created)


def test_rename_experiment(client):
    old, new = unique("old-name"), unique("new-name")
    exp_id = client.create_experiment(old)
    before = client.get_experiment(exp_id).last_update_time
    time.sleep(0.01)

    client.rename_experiment(exp_id, new)

    renamed = client.get_experiment(exp_id)
    assert renamed.name == new
    assert renamed.last_update_time > before
    assert client.get_experiment_by_name(new).experiment_id == exp_id
    assert client.get_experiment_by_name(old) is None


def test_delete_and_restore_experiment_with_view_type(client):
    prefix = unique("life")
    keep_id = client.create_experiment(f"{prefix}-keep")
    gone_id = client.create_experiment(f"{prefix}-gone")
    name_filter = f"name LIKE '{prefix}-%'"

    client.delete_experiment(gone_id)

    deleted = client.get_experiment(gone_id)
    assert deleted.lifecycle_stage == "deleted"
    # get-by-name still finds deleted experiments.
    assert client.get_experiment_by_name(f"{prefix}-gone").lifecycle_stage == "deleted"

    def ids(view_type):
        return {
            e.experiment_id
            for e in client.search_experiments(view_type=view_type, filter_string=name_filter)
        }

    assert ids(ViewType.ACTIVE_ONLY) == {keep_id}
    assert ids(ViewType.DELETED_ONLY) == {gone_id}
    assert ids(ViewType.ALL) == {keep_id, gone_id}

    # Deleting twice is an error.
    with pytest.raises(MlflowException) as exc_info:
        client.delete_experiment(gone_id)
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.restore_experiment(gone_id)
    assert client.get_experiment(gone_id).lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == {keep_id, gone_id}
    assert ids(ViewType.DELETED_ONLY) == set()

    # Restoring an active experiment is an error.
    with pytest.raises(MlflowException) as exc_info:
        client.restore_experiment(keep_id)
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_deleted_experiment_name_stays_reserved(client):
    name = unique("reserved")
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)

    with pytest.raises(MlflowException) as exc_info:
        client.create_experiment(name)
    assert exc_info.value.error_code == "RESOURCE_ALREADY_EXISTS"

    # set_experiment finds the deleted experiment and refuses to use it.
    with pytest.raises(MlflowException, match="deleted experiment"):
        mlflow.set_experiment(name)

    # Runs cannot be created in a deleted experiment.
    with pytest.raises(MlflowException) as exc_info:
        client.create_run(exp_id)
    assert exc_info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_set_and_delete_experiment_tag(client, experiment_id):
    client.set_experiment_tag(experiment_id, "stage", "dev")
    client.set_experiment_tag(experiment_id, "owner", "ana")
    assert client.get_experiment(experiment_id).tags == {"stage": "dev", "owner": "ana"}

    # Tags are upserts.
    client.set_experiment_tag(experiment_id, "stage", "prod")
    assert client.get_experiment(experiment_id).tags == {"stage": "prod", "owner": "ana"}

    client.delete_experiment_tag(experiment_id, "stage")
    assert client.get_experiment(experiment_id).tags == {"owner": "ana"}

    with pytest.raises(MlflowException) as exc_info:
        client.delete_experiment_tag(experiment_id, "stage")
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # Tags are searchable.
    found = client.search_experiments(filter_string="tags.owner = 'ana'")
    assert experiment_id in {e.experiment_id for e in found}

    # The fluent API writes to the active experiment.
    mlflow.set_experiment(experiment_id=experiment_id)
    mlflow.set_experiment_tags({"x": "1", "y": "2"})
    assert client.get_experiment(experiment_id).tags == {"owner": "ana", "x": "1", "y": "2"}
