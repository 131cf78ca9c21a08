"""MLflow 3.17.2's own SQL store reads the traces the server ingested.

The server under test takes traces through `POST /v1/traces` (OpenTelemetry SDK) and through
the mlflow client (async span logging + StartTraceV3), plus tags and an assessment through the
REST API. Then ``MlflowClient(tracking_uri=<the server's database URI>)`` - MLflow's
SqlAlchemyStore on the same database - must see the same traces, spans, span types,
inputs/outputs, tags, metadata and assessments as the client going through the server.
"""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient
from mlflow.entities import SpanStatusCode, TraceState

from compat_server import unique
from test_traces_client import check_agent_trace, flush, run_agent, run_failing
from test_traces_otlp import check_genai_trace, emit_genai_trace, http_exporter


def trace_view(trace) -> dict:
    """A trace as plain data, for comparing two readers."""
    info = trace.info.to_dict()
    info["assessments"] = sorted(info.get("assessments", []), key=lambda a: a["assessment_id"])
    return {"info": info, "spans": [span.to_dict() for span in trace.data.spans]}


def test_mlflow_store_reads_ingested_traces(tracking_server, client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's store may create ./mlruns
    experiment_id = client.create_experiment(unique("trace-interop"))
    conversation = unique("conv")

    # Through /v1/traces (OpenTelemetry SDK, protobuf + gzip).
    emitted = emit_genai_trace(
        http_exporter(tracking_server.url, {"x-mlflow-experiment-id": experiment_id}),
        conversation_id=conversation,
        user_id="interop-user",
    )
    # Through the mlflow client.
    mlflow.set_experiment(experiment_id=experiment_id)
    agent_id = run_agent("interop", tags={"team": "interop"}, metadata={"env": "ci"})
    failed_id = run_failing()
    flush()
    client.set_trace_tag(agent_id, "reviewed", "yes")
    feedback = mlflow.log_feedback(trace_id=agent_id, name="quality", value=0.5, rationale="ok")

    served = {
        t.info.trace_id: t
        for t in mlflow.search_traces(locations=[experiment_id], return_type="list")
    }
    assert set(served) == {emitted.trace_id, agent_id, failed_id}

    direct = MlflowClient(tracking_uri=tracking_server.backend_uri)  # MLflow's SqlAlchemyStore
    stored = {t.info.trace_id: t for t in direct.search_traces(locations=[experiment_id])}
    assert set(stored) == set(served)

    # What MLflow's store reads is what was sent ...
    check_genai_trace(stored[emitted.trace_id], emitted)
    check_genai_trace(direct.get_trace(emitted.trace_id), emitted)
    for trace in (stored[agent_id], direct.get_trace(agent_id)):
        check_agent_trace(trace, "interop")
        assert trace.info.tags["team"] == "interop"
        assert trace.info.tags["reviewed"] == "yes"
        assert trace.info.trace_metadata["env"] == "ci"
        [assessment] = trace.info.assessments
        assert assessment.assessment_id == feedback.assessment_id
        assert (assessment.name, assessment.value, assessment.rationale) == ("quality", 0.5, "ok")
    failed = direct.get_trace(failed_id)
    assert failed.info.state == TraceState.ERROR
    [span] = failed.data.spans
    assert (span.name, span.span_type, span.inputs) == ("failing_tool", "TOOL", {"x": 13})
    assert span.status.status_code == SpanStatusCode.ERROR

    # ... and exactly what the server answers.
    for trace_id, trace in served.items():
        assert trace_view(stored[trace_id]) == trace_view(trace), trace_id
        assert trace_view(direct.get_trace(trace_id)) == trace_view(trace), trace_id

    # MLflow's store searches the server's rows like its own.
    def direct_ids(filter_string=None, order_by=None):
        return [
            t.info.trace_id
            for t in direct.search_traces(
                locations=[experiment_id],
                filter_string=filter_string,
                order_by=order_by,
                include_spans=False,
            )
        ]

    def served_ids(filter_string=None, order_by=None):
        return [
            t.info.trace_id
            for t in client.search_traces(
                locations=[experiment_id],
                filter_string=filter_string,
                order_by=order_by,
                include_spans=False,
            )
        ]

    cases = {
        "tags.reviewed = 'yes'": [agent_id],
        "status = 'ERROR'": [failed_id],
        f"request_metadata.mlflow.trace.session = '{conversation}'": [emitted.trace_id],
        "request_metadata.mlflow.trace.user = 'interop-user'": [emitted.trace_id],
        "span.name = 'execute_tool get_weather'": [emitted.trace_id],
        "tags.service.name = 'compat-agent'": [emitted.trace_id],
        "feedback.quality > 0.4": [agent_id],
        "feedback.quality = '0.5'": [agent_id],
    }
    for filter_string, expected in cases.items():
        assert direct_ids(filter_string) == expected, filter_string
        assert served_ids(filter_string) == expected, filter_string
    by_time = direct_ids(order_by=["timestamp_ms ASC"])
    assert sorted(by_time) == sorted(served)
    assert served_ids(order_by=["timestamp_ms ASC"]) == by_time
