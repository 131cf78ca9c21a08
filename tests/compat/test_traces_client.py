"""Traces logged by the real mlflow client (`@mlflow.trace`, `mlflow.start_span`, default async
logging), searched, tagged, deleted, assessed and linked to runs through the public API."""

from __future__ import annotations

import json
import time

import mlflow
import pytest
from mlflow.entities import (
    AssessmentSource,
    AssessmentSourceType,
    Feedback,
    SpanStatusCode,
    SpanType,
    TraceState,
)
from mlflow.exceptions import MlflowException

# --------------------------------------------------------------------------------------
# Helpers (shared with test_traces_interop.py)
# --------------------------------------------------------------------------------------


@mlflow.trace(span_type=SpanType.RETRIEVER)
def retrieve(query: str) -> list[dict]:
    return [{"id": 1, "text": f"doc about {query}"}, {"id": 2, "text": "other"}]


@mlflow.trace(name="generate", span_type=SpanType.CHAT_MODEL, attributes={"model": "m-1"})
def generate(query: str, docs: list[dict]) -> str:
    with mlflow.start_span("postprocess", span_type=SpanType.PARSER) as span:
        span.set_inputs({"n_docs": len(docs)})
        span.set_attribute("score", 0.75)
        span.set_attribute("flags", {"safe": True, "retries": 2})
        span.set_outputs({"ok": True})
    return f"answer to {query}"


# What run_agent wants `agent` to pass to mlflow.update_current_trace (kept out of the traced
# function's arguments, which become the trace's inputs).
_TRACE_UPDATE: dict = {}


@mlflow.trace(span_type=SpanType.AGENT)
def agent(query: str):
    if _TRACE_UPDATE:
        mlflow.update_current_trace(**_TRACE_UPDATE)
    docs = retrieve(query)
    return generate(query, docs)


@mlflow.trace(span_type=SpanType.TOOL)
def failing_tool(x: int) -> int:
    raise ValueError(f"bad input {x}")


def run_agent(query: str, **trace_update) -> str:
    """One 4-span trace; `trace_update` goes to mlflow.update_current_trace (tags, metadata,
    session_id, user). Returns the trace id."""
    _TRACE_UPDATE.clear()
    _TRACE_UPDATE.update(trace_update)
    try:
        agent(query)
    finally:
        _TRACE_UPDATE.clear()
    return mlflow.get_last_active_trace_id()


def run_failing() -> str:
    with pytest.raises(ValueError):
        failing_tool(13)
    return mlflow.get_last_active_trace_id()


def flush() -> None:
    mlflow.flush_trace_async_logging()


def check_agent_trace(trace, query: str) -> None:
    """The trace run_agent(query) logged (MLflow's own behaviour)."""
    info = trace.info
    assert info.state == TraceState.OK
    assert info.tags["mlflow.traceName"] == "agent"
    assert info.trace_metadata["mlflow.trace_schema.version"] == "3"
    assert json.loads(info.trace_metadata["mlflow.traceInputs"]) == {"query": query}
    assert json.loads(info.trace_metadata["mlflow.traceOutputs"]) == f"answer to {query}"
    assert info.request_preview == json.dumps({"query": query})
    assert info.response_preview == json.dumps(f"answer to {query}")
    assert info.execution_duration is not None and info.execution_duration >= 0

    spans = trace.data.spans
    assert [s.name for s in spans] == ["agent", "retrieve", "generate", "postprocess"]
    by_name = {s.name: s for s in spans}
    root = by_name["agent"]
    assert root.parent_id is None
    assert by_name["retrieve"].parent_id == root.span_id
    assert by_name["generate"].parent_id == root.span_id
    assert by_name["postprocess"].parent_id == by_name["generate"].span_id
    assert len({s.span_id for s in spans}) == 4
    assert {s.trace_id for s in spans} == {info.trace_id}
    assert [s.span_type for s in spans] == ["AGENT", "RETRIEVER", "CHAT_MODEL", "PARSER"]
    assert all(s.status.status_code == SpanStatusCode.OK for s in spans)
    assert root.inputs == {"query": query}
    assert root.outputs == f"answer to {query}"
    assert by_name["retrieve"].outputs == [
        {"id": 1, "text": f"doc about {query}"},
        {"id": 2, "text": "other"},
    ]
    assert by_name["generate"].inputs == {"query": query, "docs": by_name["retrieve"].outputs}
    assert by_name["generate"].attributes["model"] == "m-1"
    post = by_name["postprocess"]
    assert post.inputs == {"n_docs": 2}
    assert post.outputs == {"ok": True}
    assert post.attributes["score"] == 0.75
    assert post.attributes["flags"] == {"safe": True, "retries": 2}
    for span in spans:
        assert root.start_time_ns <= span.start_time_ns <= span.end_time_ns <= root.end_time_ns
    assert info.request_time == root.start_time_ns // 1_000_000


def trace_ids(traces) -> list[str]:
    return [t.info.trace_id for t in traces]


def search_ids(experiment_id: str, filter_string: str | None = None, **kwargs) -> list[str]:
    return trace_ids(
        mlflow.search_traces(
            locations=[experiment_id],
            filter_string=filter_string,
            return_type="list",
            include_spans=False,
            **kwargs,
        )
    )


# --------------------------------------------------------------------------------------
# Logging and reading back
# --------------------------------------------------------------------------------------


def test_traced_functions_round_trip(tracking_server, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    trace_id = run_agent(
        "weather",
        tags={"team": "search", "unicode": "ünïcödé ✓"},
        metadata={"env": "prod"},
        session_id="session-7",
        user="carol",
    )
    flush()

    trace = mlflow.get_trace(trace_id)
    check_agent_trace(trace, "weather")
    assert trace.info.experiment_id == experiment_id
    assert trace.info.tags["team"] == "search"
    assert trace.info.tags["unicode"] == "ünïcödé ✓"
    assert trace.info.trace_metadata["env"] == "prod"
    assert trace.info.trace_metadata["mlflow.trace.session"] == "session-7"
    assert trace.info.trace_metadata["mlflow.trace.user"] == "carol"

    [listed] = mlflow.search_traces(locations=[experiment_id], return_type="list")
    check_agent_trace(listed, "weather")
    assert listed.info.to_dict() == trace.info.to_dict()
    assert [s.to_dict() for s in listed.data.spans] == [s.to_dict() for s in trace.data.spans]

    frame = mlflow.search_traces(locations=[experiment_id])
    assert list(frame["trace_id"]) == [trace_id]
    assert list(frame["state"]) == ["OK"]


def test_start_span_and_exception_traces(tracking_server, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_span("manual_root", span_type=SpanType.CHAIN) as root:
        root.set_inputs({"a": 1})
        with mlflow.start_span("manual_child", attributes={"k": "v", "n": 5}) as child:
            child.set_outputs([1, 2, 3])
        root.set_outputs("done")
    manual_id = root.trace_id
    failed_id = run_failing()
    flush()

    manual = mlflow.get_trace(manual_id)
    assert manual.info.state == TraceState.OK
    assert [(s.name, s.span_type) for s in manual.data.spans] == [
        ("manual_root", "CHAIN"),
        ("manual_child", "UNKNOWN"),
    ]
    assert manual.data.spans[1].parent_id == manual.data.spans[0].span_id
    assert manual.data.spans[0].inputs == {"a": 1}
    assert manual.data.spans[0].outputs == "done"
    assert manual.data.spans[1].outputs == [1, 2, 3]
    assert manual.data.spans[1].attributes["n"] == 5
    assert manual.data.spans[1].attributes["k"] == "v"

    failed = mlflow.get_trace(failed_id)
    assert failed.info.state == TraceState.ERROR
    [span] = failed.data.spans
    assert span.name == "failing_tool"
    assert span.span_type == "TOOL"
    assert span.inputs == {"x": 13}
    assert span.status.status_code == SpanStatusCode.ERROR
    assert "bad input 13" in span.status.description
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "bad input 13"

    assert search_ids(experiment_id, "status = 'ERROR'") == [failed_id]
    assert search_ids(experiment_id, "attributes.status = 'OK'") == [manual_id]


# --------------------------------------------------------------------------------------
# Search: filters, order, paging
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searchable(tracking_server, client):
    """Five traces in one experiment, oldest first: (experiment id, [trace ids], [infos])."""
    experiment_id = client.create_experiment(f"trace-search-{time.time_ns()}")
    mlflow.set_experiment(experiment_id=experiment_id)
    ids = [
        run_agent("q0", tags={"kind": "alpha", "rank": "3"}, metadata={"env": "prod"}),
        run_agent("q1", tags={"kind": "beta", "rank": "1"}, session_id="sess-A"),
        run_failing(),
        run_agent("q3", tags={"kind": "alpha", "rank": "2"}, metadata={"env": "dev"}),
    ]
    with mlflow.start_span("special_step", span_type=SpanType.TOOL) as span:
        span.set_inputs({"q": "q4"})
    ids.append(span.trace_id)
    flush()
    infos = [mlflow.get_trace(i).info for i in ids]
    times = [info.request_time for info in infos]
    assert times == sorted(times)
    return experiment_id, ids, infos


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("status = 'ERROR'", [2]),
        ("trace.status = 'OK'", [0, 1, 3, 4]),
        ("tags.kind = 'alpha'", [0, 3]),
        ("tags.kind != 'alpha'", [1]),
        ("tags.kind LIKE 'al%'", [0, 3]),
        ("tags.kind ILIKE 'BETA'", [1]),
        ("tags.`kind` = 'beta'", [1]),
        ("tags.kind = 'alpha' AND request_metadata.env = 'dev'", [3]),
        ("request_metadata.env = 'prod'", [0]),
        ("metadata.env LIKE '%'", [0, 3]),
        ("request_metadata.mlflow.trace.session = 'sess-A'", [1]),
        ("span.name = 'special_step'", [4]),
        ("span.name = 'retrieve'", [0, 1, 3]),
        ("span.type = 'TOOL'", [2, 4]),
        ("span.status = 'ERROR'", [2]),
        ("name = 'failing_tool'", [2]),
        ("tags.mlflow.traceName = 'agent'", [0, 1, 3]),
        ("span.attributes.model LIKE '%m-1%'", [0, 1, 3]),
        ("span.content LIKE '%doc about q1%'", [1]),
    ],
)
def test_search_traces_filters(searchable, filter_string, expected):
    experiment_id, ids, _ = searchable
    found = search_ids(experiment_id, filter_string)
    assert sorted(found) == sorted(ids[i] for i in expected)


@pytest.mark.rivulet_only(
    reason="span.attributes.<attr> = / != compare the attribute's value exactly in Rivulet; "
    "MLflow 3.17.2's '=' never matches"
)
@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("span.attributes.model = 'm-1'", [0, 1, 3]),
        ("span.attributes.`model` = 'm-1'", [0, 1, 3]),
        ("span.attributes.model = 'm-'", []),
        ("span.attributes.model != 'm-1'", []),
        ("span.attributes.model != 'm-2'", [0, 1, 3]),
        ("span.attributes.score = '0.75'", [0, 1, 3]),
        ("span.attributes.mlflow.spanType = 'TOOL'", [2, 4]),
    ],
)
def test_search_traces_span_attribute_equality(searchable, filter_string, expected):
    experiment_id, ids, _ = searchable
    found = search_ids(experiment_id, filter_string)
    assert sorted(found) == sorted(ids[i] for i in expected)


def test_search_traces_timestamp_filters(searchable):
    experiment_id, ids, infos = searchable
    t2 = infos[2].request_time
    assert set(search_ids(experiment_id, f"timestamp_ms >= {t2}")) >= set(ids[2:])
    assert set(search_ids(experiment_id, f"timestamp_ms < {infos[0].request_time}")) == set()
    assert set(search_ids(experiment_id, f"trace.timestamp_ms <= {infos[4].request_time}")) == set(
        ids
    )
    late = [i for i, info in zip(ids, infos) if info.request_time > t2]
    assert sorted(search_ids(experiment_id, f"timestamp_ms > {t2}")) == sorted(late)


def test_search_traces_order_and_paging(searchable, client):
    experiment_id, ids, infos = searchable
    # Default order: newest first (ties broken by request id).
    newest_first = sorted(ids, key=lambda i: (-infos[ids.index(i)].request_time, i))
    assert search_ids(experiment_id) == newest_first
    oldest_first = sorted(ids, key=lambda i: (infos[ids.index(i)].request_time, i))
    assert search_ids(experiment_id, order_by=["timestamp_ms ASC"]) == oldest_first
    assert search_ids(experiment_id, "tags.rank LIKE '%'", order_by=["tags.rank ASC"]) == [
        ids[1],
        ids[3],
        ids[0],
    ]
    # max_results on the fluent API: the first N of the order.
    assert search_ids(experiment_id, max_results=3) == newest_first[:3]

    pages, token = [], None
    while True:
        page = client.search_traces(
            locations=[experiment_id],
            max_results=2,
            order_by=["timestamp_ms ASC"],
            page_token=token,
            include_spans=False,
        )
        pages.append(trace_ids(page))
        token = page.token
        if not token:
            break
        assert len(pages) < 10, "paging does not end"
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == oldest_first


# --------------------------------------------------------------------------------------
# Tags, deletion
# --------------------------------------------------------------------------------------


def test_trace_tags_set_and_delete(tracking_server, client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    trace_id = run_agent("tags", tags={"initial": "1"})
    flush()
    client.set_trace_tag(trace_id, "reviewed", "yes")
    client.set_trace_tag(trace_id, "initial", "2")
    tags = mlflow.get_trace(trace_id).info.tags
    assert tags["reviewed"] == "yes"
    assert tags["initial"] == "2"
    assert search_ids(experiment_id, "tags.reviewed = 'yes'") == [trace_id]

    client.delete_trace_tag(trace_id, "reviewed")
    tags = mlflow.get_trace(trace_id).info.tags
    assert "reviewed" not in tags
    assert tags["initial"] == "2"
    assert search_ids(experiment_id, "tags.reviewed = 'yes'") == []
    with pytest.raises(MlflowException) as exc_info:
        client.delete_trace_tag(trace_id, "never-set")
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_delete_traces_by_timestamp_and_ids(tracking_server, client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    old = [run_agent("old-1"), run_agent("old-2")]
    flush()
    cutoff = max(mlflow.get_trace(i).info.request_time for i in old)
    time.sleep(0.05)
    new = [run_agent("new-1"), run_agent("new-2"), run_agent("new-3")]
    flush()
    assert min(mlflow.get_trace(i).info.request_time for i in new) > cutoff

    assert client.delete_traces(experiment_id, max_timestamp_millis=cutoff) == 2
    assert sorted(search_ids(experiment_id)) == sorted(new)
    assert mlflow.get_trace(old[0], silent=True) is None

    assert client.delete_traces(experiment_id, trace_ids=[new[0], new[2]]) == 2
    assert search_ids(experiment_id) == [new[1]]
    assert client.delete_traces(experiment_id, max_timestamp_millis=cutoff) == 0


# --------------------------------------------------------------------------------------
# Assessments
# --------------------------------------------------------------------------------------


def test_assessments_lifecycle(tracking_server, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    trace_id = run_agent("assess")
    flush()
    human = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="alice@example.com")

    feedback = mlflow.log_feedback(
        trace_id=trace_id,
        name="quality",
        value=0.8,
        source=human,
        rationale="mostly right",
        metadata={"round": "1"},
    )
    assert feedback.assessment_id.startswith("a-")
    expectation = mlflow.log_expectation(
        trace_id=trace_id, name="expected", value={"answer": "42", "sources": [1, 2]}, source=human
    )
    flag = mlflow.log_feedback(trace_id=trace_id, name="safe", value=True)

    got = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert got.name == "quality"
    assert got.value == 0.8
    assert got.rationale == "mostly right"
    assert got.metadata == {"round": "1"}
    assert got.source.source_type == "HUMAN"
    assert got.source.source_id == "alice@example.com"
    assert got.trace_id == trace_id
    assert got.create_time_ms == got.last_update_time_ms
    exp = mlflow.get_assessment(trace_id, expectation.assessment_id)
    assert exp.value == {"answer": "42", "sources": [1, 2]}
    assert mlflow.get_assessment(trace_id, flag.assessment_id).value is True
    assert mlflow.get_assessment(trace_id, flag.assessment_id).source.source_type == "CODE"

    trace = mlflow.get_trace(trace_id)
    assert sorted(a.name for a in trace.info.assessments) == ["expected", "quality", "safe"]

    time.sleep(0.01)
    updated = mlflow.update_assessment(
        trace_id=trace_id,
        assessment_id=feedback.assessment_id,
        assessment=Feedback(name="quality", value=0.9, rationale="better now"),
    )
    assert updated.assessment_id == feedback.assessment_id
    reread = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert reread.value == 0.9
    assert reread.rationale == "better now"
    assert reread.last_update_time_ms > reread.create_time_ms
    assert reread.create_time_ms == got.create_time_ms

    assert search_ids(experiment_id, "feedback.quality > 0.85") == [trace_id]
    assert search_ids(experiment_id, "feedback.quality < 0.85") == []

    mlflow.delete_assessment(trace_id=trace_id, assessment_id=expectation.assessment_id)
    with pytest.raises(MlflowException) as exc_info:
        mlflow.get_assessment(trace_id, expectation.assessment_id)
    assert exc_info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    remaining = mlflow.get_trace(trace_id).info.assessments
    assert sorted(a.name for a in remaining) == ["quality", "safe"]


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


def test_traces_logged_in_a_run_and_linked_to_a_run(tracking_server, client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run() as run:
        in_run = run_agent("in run")
    outside = run_agent("outside")
    other = run_agent("other")
    flush()
    run_id = run.info.run_id

    assert mlflow.get_trace(in_run).info.trace_metadata["mlflow.sourceRun"] == run_id
    assert "mlflow.sourceRun" not in mlflow.get_trace(outside).info.trace_metadata
    assert trace_ids(mlflow.search_traces(run_id=run_id, return_type="list")) == [in_run]

    client.link_traces_to_run([outside], run_id=run_id)
    linked = mlflow.search_traces(run_id=run_id, return_type="list")
    assert sorted(trace_ids(linked)) == sorted([in_run, outside])
    assert other not in trace_ids(linked)
    assert sorted(search_ids(experiment_id, f"run_id = '{run_id}'")) == sorted([in_run, outside])
