"""OTLP ingestion (`POST /v1/traces`, and Rivulet's OTLP/gRPC receiver), read back through the
real mlflow client (`mlflow.search_traces`, `mlflow.get_trace`, `MlflowClient.search_traces`).

Senders:

* the real OpenTelemetry Python SDK with `opentelemetry-exporter-otlp-proto-http`
  (protobuf, gzip) and `opentelemetry-exporter-otlp-proto-grpc` (Rivulet only: MLflow has no
  gRPC receiver);
* hand-written OTLP/JSON posted with `requests` (hex ids, lowerCamelCase field names), including
  one trace delivered in pieces, out of order and with a duplicate.

The helpers `emit_genai_trace` / `check_genai_trace` are shared with test_traces_interop.py.
"""

from __future__ import annotations

import gzip
import json
import os
import time
import zlib
from dataclasses import dataclass, field

import mlflow
import pytest
import requests
from mlflow.entities import SpanStatusCode, TraceState
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status, StatusCode

from compat_server import unique

# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def mlflow_trace_id(otel_trace_id: int) -> str:
    """MLflow's trace id for an OTel trace id: `tr-` + 32 lowercase hex digits."""
    return "tr-" + format(otel_trace_id, "032x")


def span_hex(span_id: int) -> str:
    return format(span_id, "016x")


class RecordingExporter(SpanExporter):
    """Delegates to a real exporter and keeps every export result, so a test can tell
    'the server refused the export' apart from 'the data read back is wrong'."""

    def __init__(self, inner: SpanExporter):
        self.inner = inner
        self.results: list[SpanExportResult] = []

    def export(self, spans):
        result = self.inner.export(spans)
        self.results.append(result)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def http_exporter(base_url: str, headers: dict[str, str]) -> RecordingExporter:
    return RecordingExporter(
        HttpSpanExporter(
            endpoint=f"{base_url}/v1/traces",
            headers=headers,
            compression=Compression.Gzip,
            timeout=30,
        )
    )


def grpc_exporter(
    port: int, headers: dict[str, str], compression: str = "NoCompression"
) -> RecordingExporter:
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )

    return RecordingExporter(
        GrpcSpanExporter(
            endpoint=f"127.0.0.1:{port}",
            insecure=True,
            headers=headers,
            timeout=30,
            compression=getattr(grpc.Compression, compression),
        )
    )


RESOURCE = {"service.name": "compat-agent", "deployment.environment": "compat"}

USER_QUESTION = "What is the weather in Paris?"
ASSISTANT_ANSWER = "Sunny, 21 degrees."
INPUT_MESSAGES = [{"role": "user", "parts": [{"type": "text", "content": USER_QUESTION}]}]
OUTPUT_MESSAGES = [
    {
        "role": "assistant",
        "parts": [{"type": "text", "content": ASSISTANT_ANSWER}],
        "finish_reason": "stop",
    }
]
TOOL_ARGUMENTS = {"city": "Paris", "units": "metric"}
TOOL_RESULT = {"temp_c": 21, "sky": "clear"}
APP_CONFIG = {"temperature": 0.2, "nested": {"k": [1, 2]}, "flag": False}


@dataclass
class EmittedGenAiTrace:
    """What emit_genai_trace sent, for the checks."""

    trace_id: str
    conversation_id: str
    user_id: str
    root_id: str
    chat_id: str
    tool_id: str
    start_ns: dict[str, int] = field(default_factory=dict)
    end_ns: dict[str, int] = field(default_factory=dict)


def emit_genai_trace(
    exporter: SpanExporter,
    *,
    conversation_id: str = "conv-42",
    user_id: str = "alice",
    batch: bool = False,
) -> EmittedGenAiTrace:
    """An OpenTelemetry GenAI-semconv agent trace: `invoke_agent` root, a `chat` child with
    token usage and a tool child, exported through a TracerProvider of its own."""
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("rivulet.compat", "1.0")
    with tracer.start_as_current_span(
        "invoke_agent weather_agent",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "weather_agent",
            "gen_ai.conversation.id": conversation_id,
            "user.id": user_id,
            "gen_ai.input.messages": json.dumps(INPUT_MESSAGES),
            "gen_ai.output.messages": json.dumps(OUTPUT_MESSAGES),
            "app.retries": 3,
            "app.ratio": 0.5,
            "app.enabled": True,
            "app.labels": ["a", "b"],
            "app.config": json.dumps(APP_CONFIG),
            "app.plain": "just text",
            "app.numeric_text": "12345",
        },
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.request.max_tokens": 200,
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.input.messages": json.dumps(INPUT_MESSAGES),
                "gen_ai.output.messages": json.dumps(OUTPUT_MESSAGES),
            },
        ) as chat:
            pass
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.arguments": json.dumps(TOOL_ARGUMENTS),
                "gen_ai.tool.call.result": json.dumps(TOOL_RESULT),
            },
        ) as tool:
            tool.set_status(Status(StatusCode.OK))
    if batch:
        assert provider.force_flush(30_000)
    provider.shutdown()
    emitted = EmittedGenAiTrace(
        trace_id=mlflow_trace_id(root.get_span_context().trace_id),
        conversation_id=conversation_id,
        user_id=user_id,
        root_id=span_hex(root.get_span_context().span_id),
        chat_id=span_hex(chat.get_span_context().span_id),
        tool_id=span_hex(tool.get_span_context().span_id),
    )
    for key, span in (("root", root), ("chat", chat), ("tool", tool)):
        emitted.start_ns[key] = span.start_time
        emitted.end_ns[key] = span.end_time
    return emitted


def check_genai_trace(trace, emitted: EmittedGenAiTrace) -> None:
    """The trace emit_genai_trace sent, as the mlflow client sees it (MLflow's own behaviour)."""
    info = trace.info
    assert info.trace_id == emitted.trace_id
    assert info.state == TraceState.OK
    assert info.request_time == emitted.start_ns["root"] // 1_000_000
    assert info.execution_duration == emitted.end_ns["root"] // 1_000_000 - info.request_time

    # Session, user and token usage come from span attributes.
    assert info.trace_metadata["mlflow.trace.session"] == emitted.conversation_id
    assert info.trace_metadata["mlflow.trace.user"] == emitted.user_id
    assert json.loads(info.trace_metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 12,
        "output_tokens": 7,
        "total_tokens": 19,
    }
    assert info.token_usage == {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}
    # Resource attributes become trace tags; the spans are in the tracking store.
    assert info.tags["service.name"] == "compat-agent"
    assert info.tags["deployment.environment"] == "compat"
    assert info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert not any(key.startswith("telemetry.sdk.") for key in info.tags)
    assert USER_QUESTION in info.request_preview
    assert ASSISTANT_ANSWER in info.response_preview

    spans = {span.name: span for span in trace.data.spans}
    assert len(trace.data.spans) == 3
    assert set(spans) == {
        "invoke_agent weather_agent",
        "chat gpt-4o-mini",
        "execute_tool get_weather",
    }
    root = spans["invoke_agent weather_agent"]
    chat = spans["chat gpt-4o-mini"]
    tool = spans["execute_tool get_weather"]
    assert trace.data.spans[0].span_id == emitted.root_id  # root first

    # Identity, tree and timing.
    assert (root.span_id, root.parent_id) == (emitted.root_id, None)
    assert (chat.span_id, chat.parent_id) == (emitted.chat_id, emitted.root_id)
    assert (tool.span_id, tool.parent_id) == (emitted.tool_id, emitted.root_id)
    for key, span in (("root", root), ("chat", chat), ("tool", tool)):
        assert span.trace_id == emitted.trace_id
        assert span.start_time_ns == emitted.start_ns[key]
        assert span.end_time_ns == emitted.end_ns[key]
    assert root.status.status_code == SpanStatusCode.UNSET
    assert tool.status.status_code == SpanStatusCode.OK

    # Span types, inputs and outputs derived from the GenAI semantic conventions.
    assert (root.span_type, chat.span_type, tool.span_type) == ("AGENT", "CHAT_MODEL", "TOOL")
    assert root.inputs == INPUT_MESSAGES
    assert root.outputs == OUTPUT_MESSAGES
    assert chat.inputs == INPUT_MESSAGES
    assert chat.outputs == OUTPUT_MESSAGES
    assert tool.inputs == TOOL_ARGUMENTS
    assert tool.outputs == TOOL_RESULT
    assert chat.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 12,
        "output_tokens": 7,
        "total_tokens": 19,
    }
    assert chat.attributes["mlflow.llm.model"] == "gpt-4o-mini"
    assert chat.attributes["mlflow.llm.provider"] == "openai"

    # Attribute values keep their types; JSON text becomes the object it encodes.
    attrs = root.attributes
    assert attrs["app.retries"] == 3 and type(attrs["app.retries"]) is int
    assert attrs["app.ratio"] == 0.5 and type(attrs["app.ratio"]) is float
    assert attrs["app.enabled"] is True
    assert attrs["app.labels"] == ["a", "b"]
    assert attrs["app.config"] == APP_CONFIG
    assert attrs["app.plain"] == "just text"
    assert attrs["app.numeric_text"] == "12345"  # numeric-looking text stays text
    assert attrs["gen_ai.conversation.id"] == emitted.conversation_id
    assert attrs["user.id"] == emitted.user_id
    assert attrs["gen_ai.input.messages"] == INPUT_MESSAGES
    assert attrs["mlflow.traceRequestId"] == emitted.trace_id
    assert chat.attributes["gen_ai.usage.input_tokens"] == 12
    assert chat.attributes["gen_ai.request.max_tokens"] == 200
    assert tool.attributes["gen_ai.tool.name"] == "get_weather"


def search_one(experiment_id: str):
    """The only trace of an experiment, found with mlflow.search_traces(locations=...)."""
    traces = mlflow.search_traces(locations=[experiment_id], return_type="list")
    assert len(traces) == 1, [t.info.trace_id for t in traces]
    return traces[0]


# --------------------------------------------------------------------------------------
# OTLP/JSON helpers
# --------------------------------------------------------------------------------------


def any_value(value) -> dict:
    """A Python value as an OTLP/JSON AnyValue."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 as a JSON string, as OTLP/JSON encodes it
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    raise TypeError(value)


def key_values(attributes: dict) -> list[dict]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items()]


def json_span(
    trace_hex: str,
    span_hex_id: str,
    parent_hex: str | None,
    name: str,
    start_ns: int,
    end_ns: int,
    attributes: dict,
    status_code: int = 0,
    status_message: str = "",
    events: list[dict] | None = None,
) -> dict:
    span = {
        "traceId": trace_hex,
        "spanId": span_hex_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "attributes": key_values(attributes),
        "status": {"code": status_code, "message": status_message},
    }
    if parent_hex:
        span["parentSpanId"] = parent_hex
    if events:
        span["events"] = events
    return span


def otlp_json(spans: list[dict], resource: dict | None = None) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource or {"service.name": "json-sender"})},
                "scopeSpans": [{"scope": {"name": "compat-json", "version": "1"}, "spans": spans}],
            }
        ]
    }


def post_otlp_protobuf(
    base_url: str, data: bytes, experiment_id: str, content_encoding: str
) -> requests.Response:
    """An already serialized and compressed protobuf export, as a Collector posts it."""
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": content_encoding,
        "x-mlflow-experiment-id": experiment_id,
    }
    return requests.post(f"{base_url}/v1/traces", data=data, headers=headers, timeout=60)


def post_otlp_json(
    base_url: str,
    body: dict,
    headers: dict[str, str],
    *,
    gzipped: bool = False,
) -> requests.Response:
    data = json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **headers}
    if gzipped:
        data = gzip.compress(data)
        all_headers["Content-Encoding"] = "gzip"
    return requests.post(f"{base_url}/v1/traces", data=data, headers=all_headers, timeout=60)


def random_hex(n_bytes: int) -> str:
    return os.urandom(n_bytes).hex()


# --------------------------------------------------------------------------------------
# OpenTelemetry SDK, OTLP/HTTP protobuf
# --------------------------------------------------------------------------------------


def test_otel_sdk_http_genai_trace_round_trip(tracking_server, client, experiment_id):
    exporter = http_exporter(tracking_server.url, {"x-mlflow-experiment-id": experiment_id})
    emitted = emit_genai_trace(exporter)
    assert exporter.results and set(exporter.results) == {SpanExportResult.SUCCESS}

    listed = search_one(experiment_id)
    check_genai_trace(listed, emitted)
    assert listed.info.experiment_id == experiment_id

    fetched = mlflow.get_trace(emitted.trace_id)
    check_genai_trace(fetched, emitted)
    assert [s.to_dict() for s in fetched.data.spans] == [s.to_dict() for s in listed.data.spans]

    paged = client.search_traces(locations=[experiment_id])
    assert [t.info.trace_id for t in paged] == [emitted.trace_id]
    assert paged.token is None
    check_genai_trace(paged[0], emitted)

    # Without spans (search only): the same info.
    info_only = client.search_traces(locations=[experiment_id], include_spans=False)
    assert info_only[0].info.trace_metadata == listed.info.trace_metadata
    assert info_only[0].info.request_preview == listed.info.request_preview


@pytest.fixture(scope="module")
def searchable_genai(tracking_server, client):
    """One GenAI trace in an experiment of its own: (experiment id, emitted trace)."""
    experiment_id = client.create_experiment(unique("otlp-search"))
    exporter = http_exporter(tracking_server.url, {"x-mlflow-experiment-id": experiment_id})
    return experiment_id, emit_genai_trace(exporter, conversation_id="conv-search")


@pytest.mark.parametrize(
    "filter_string, matches",
    [
        ("span.name = 'chat gpt-4o-mini'", True),
        ("span.name LIKE 'execute_tool%'", True),
        ("span.name = 'chat'", False),
        ("span.attributes.gen_ai.request.model LIKE '%gpt-4o%'", True),
        ("span.attributes.gen_ai.request.model LIKE '%claude%'", False),
        ("span.attributes.gen_ai.request.model ILIKE '%GPT-4O%'", True),
        ("span.attributes.gen_ai.request.model RLIKE 'gpt-4o'", True),
        ("span.attributes.gen_ai.request.model RLIKE 'claude'", False),
        ("span.attributes.app.retries LIKE '%3%'", True),
        ("span.content LIKE '%Paris%'", True),
        ("trace.text LIKE '%Sunny%'", True),
        ("request_metadata.mlflow.trace.session = 'conv-search'", True),
        ("request_metadata.mlflow.trace.user = 'alice'", True),
        ("tags.service.name = 'compat-agent'", True),
        ("status = 'OK'", True),
    ],
)
def test_search_filters_on_otlp_spans(searchable_genai, filter_string, matches):
    experiment_id, emitted = searchable_genai
    found = mlflow.search_traces(
        locations=[experiment_id], filter_string=filter_string, return_type="list"
    )
    assert [t.info.trace_id for t in found] == ([emitted.trace_id] if matches else [])


@pytest.mark.rivulet_only(
    reason="Rivulet stores the translated span type in spans.type, so span.type filters see "
    "types derived from GenAI/OpenInference attributes; MLflow's column keeps the untranslated "
    "(empty) type of OTLP spans (MLflow issue #24237)"
)
@pytest.mark.parametrize("span_type", ["AGENT", "CHAT_MODEL", "TOOL"])
def test_span_type_filter_sees_derived_types(searchable_genai, span_type):
    experiment_id, emitted = searchable_genai
    found = mlflow.search_traces(
        locations=[experiment_id], filter_string=f"span.type = '{span_type}'", return_type="list"
    )
    assert [t.info.trace_id for t in found] == [emitted.trace_id]


@pytest.mark.rivulet_only(
    reason="Rivulet previews the text of the last user/assistant message of GenAI 'parts' "
    "messages; MLflow shows the raw JSON of the message list"
)
def test_genai_parts_messages_preview_as_text(tracking_server, experiment_id):
    exporter = http_exporter(tracking_server.url, {"x-mlflow-experiment-id": experiment_id})
    emitted = emit_genai_trace(exporter)
    trace = mlflow.get_trace(emitted.trace_id)
    assert trace.info.request_preview == USER_QUESTION
    assert trace.info.response_preview == ASSISTANT_ANSWER


@pytest.mark.rivulet_only(
    reason="Rivulet fills previews from the best span (here the chat span) when the root "
    "carries no inputs/outputs; MLflow only looks at the root span"
)
def test_previews_from_chat_span_when_root_has_none(tracking_server, experiment_id):
    exporter = http_exporter(tracking_server.url, {"x-mlflow-experiment-id": experiment_id})
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("rivulet.compat")
    with tracer.start_as_current_span(
        "invoke_agent bare", attributes={"gen_ai.operation.name": "invoke_agent"}
    ) as root:
        with tracer.start_as_current_span(
            "execute_tool lookup",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.call.arguments": json.dumps({"q": "tool input"}),
            },
        ):
            pass
        with tracer.start_as_current_span(
            "chat m",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "m",
                "gen_ai.input.messages": json.dumps(INPUT_MESSAGES),
                "gen_ai.output.messages": json.dumps(OUTPUT_MESSAGES),
            },
        ):
            pass
    provider.shutdown()
    assert set(exporter.results) == {SpanExportResult.SUCCESS}
    trace = mlflow.get_trace(mlflow_trace_id(root.get_span_context().trace_id))
    assert trace.info.request_preview == USER_QUESTION
    assert trace.info.response_preview == ASSISTANT_ANSWER


def test_otel_sdk_openinference_trace_with_error_span(tracking_server, experiment_id):
    """OpenInference attributes, BatchSpanProcessor + force_flush, an ERROR child span with an
    exception event; the trace state follows the root (OK)."""
    exporter = http_exporter(tracking_server.url, {"x-mlflow-experiment-id": experiment_id})
    provider = TracerProvider(resource=Resource.create({"service.name": "oi-app"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("openinference.compat")
    llm_input = {"messages": [{"role": "user", "content": "2+2?"}], "model": "m-1"}
    llm_output = {"choices": [{"message": {"role": "assistant", "content": "4"}}]}
    with tracer.start_as_current_span(
        "qa_chain",
        attributes={
            "openinference.span.kind": "CHAIN",
            "input.value": json.dumps({"question": "2+2?"}),
            "input.mime_type": "application/json",
            "output.value": "four",
            "session.id": "oi-session",
        },
    ) as root:
        root.set_status(Status(StatusCode.OK))
        with tracer.start_as_current_span(
            "retrieve",
            attributes={"openinference.span.kind": "RETRIEVER", "input.value": "2+2?"},
        ) as retriever:
            retriever.record_exception(ValueError("index offline"))
            retriever.set_status(Status(StatusCode.ERROR, "index offline"))
        with tracer.start_as_current_span(
            "llm",
            attributes={
                "openinference.span.kind": "LLM",
                "llm.model_name": "m-1",
                "llm.provider": "acme",
                "llm.token_count.prompt": 5,
                "llm.token_count.completion": 1,
                "llm.token_count.total": 6,
                "input.value": json.dumps(llm_input),
                "output.value": json.dumps(llm_output),
            },
        ):
            pass
    assert provider.force_flush(30_000)
    provider.shutdown()
    assert exporter.results and set(exporter.results) == {SpanExportResult.SUCCESS}

    trace = mlflow.get_trace(mlflow_trace_id(root.get_span_context().trace_id))
    assert trace.info.state == TraceState.OK
    assert trace.info.token_usage == {"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}
    assert trace.info.trace_metadata["mlflow.trace.session"] == "oi-session"
    assert trace.info.request_preview == '{"question": "2+2?"}'
    assert trace.info.response_preview == '"four"'
    assert trace.info.tags["service.name"] == "oi-app"
    spans = {s.name: s for s in trace.data.spans}
    assert len(trace.data.spans) == 3
    assert spans["qa_chain"].span_type == "CHAIN"
    assert spans["qa_chain"].inputs == {"question": "2+2?"}
    assert spans["qa_chain"].outputs == "four"
    assert spans["qa_chain"].status.status_code == SpanStatusCode.OK
    assert spans["retrieve"].span_type == "RETRIEVER"
    assert spans["retrieve"].inputs == "2+2?"
    assert spans["retrieve"].status.status_code == SpanStatusCode.ERROR
    assert spans["retrieve"].status.description == "index offline"
    [event] = spans["retrieve"].events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "index offline"
    assert spans["llm"].span_type == "LLM"
    assert spans["llm"].inputs == llm_input
    assert spans["llm"].outputs == llm_output
    assert spans["llm"].attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 5,
        "output_tokens": 1,
        "total_tokens": 6,
    }
    assert spans["llm"].attributes["llm.token_count.prompt"] == 5
    assert spans["llm"].attributes["mlflow.llm.model"] == "m-1"


def test_root_error_status_makes_the_trace_error(tracking_server, experiment_id):
    exporter = http_exporter(tracking_server.url, {"x-mlflow-experiment-id": experiment_id})
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("compat")
    with tracer.start_as_current_span("failing_root", record_exception=False) as root:
        root.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    assert set(exporter.results) == {SpanExportResult.SUCCESS}
    trace = search_one(experiment_id)
    assert trace.info.trace_id == mlflow_trace_id(root.get_span_context().trace_id)
    assert trace.info.state == TraceState.ERROR
    [span] = trace.data.spans
    assert span.status.status_code == SpanStatusCode.ERROR
    assert span.status.description == "boom"
    assert mlflow.search_traces(
        locations=[experiment_id], filter_string="status = 'ERROR'", return_type="list"
    )[0].info.trace_id == trace.info.trace_id


# --------------------------------------------------------------------------------------
# Rivulet-only senders: OTLP/gRPC and the experiment-name header
# --------------------------------------------------------------------------------------


@pytest.mark.rivulet_only(reason="MLflow has no OTLP/gRPC receiver")
@pytest.mark.parametrize("compression", ["NoCompression", "Gzip", "Deflate"])
def test_otel_sdk_grpc_genai_trace_round_trip(tracking_server, experiment_id, compression):
    exporter = grpc_exporter(
        tracking_server.grpc_port, {"x-mlflow-experiment-id": experiment_id}, compression
    )
    emitted = emit_genai_trace(exporter, conversation_id="conv-grpc", user_id="bob", batch=True)
    assert exporter.results and set(exporter.results) == {SpanExportResult.SUCCESS}
    check_genai_trace(search_one(experiment_id), emitted)
    check_genai_trace(mlflow.get_trace(emitted.trace_id), emitted)


@pytest.mark.rivulet_only(reason="MLflow has no OTLP/gRPC receiver")
def test_grpc_export_without_experiment_fails(tracking_server):
    exporter = grpc_exporter(tracking_server.grpc_port, {})
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("compat").start_as_current_span("nowhere") as span:
        pass
    provider.shutdown()
    assert exporter.results == [SpanExportResult.FAILURE]
    assert mlflow.get_trace(mlflow_trace_id(span.get_span_context().trace_id), silent=True) is None


@pytest.mark.rivulet_only(
    reason="x-mlflow-experiment-name is a Rivulet extension (experiment created on first use)"
)
def test_experiment_name_header_creates_the_experiment_once(tracking_server, client):
    name = unique("otlp-by-name")
    assert client.get_experiment_by_name(name) is None
    first = emit_genai_trace(http_exporter(tracking_server.url, {"x-mlflow-experiment-name": name}))
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None and experiment.lifecycle_stage == "active"
    second = emit_genai_trace(
        http_exporter(tracking_server.url, {"x-mlflow-experiment-name": name}),
        conversation_id="conv-2",
    )
    assert client.get_experiment_by_name(name).experiment_id == experiment.experiment_id
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    assert sorted(t.info.trace_id for t in traces) == sorted([first.trace_id, second.trace_id])
    by_id = {t.info.trace_id: t for t in traces}
    check_genai_trace(by_id[first.trace_id], first)
    check_genai_trace(by_id[second.trace_id], second)


# --------------------------------------------------------------------------------------
# OTLP/JSON with requests
# --------------------------------------------------------------------------------------


def test_otlp_json_attribute_types(tracking_server, experiment_id):
    trace_hex, root_hex, child_hex = random_hex(16), random_hex(8), random_hex(8)
    t0 = time.time_ns()
    body = otlp_json(
        [
            json_span(
                trace_hex,
                root_hex,
                None,
                "json_root",
                t0,
                t0 + 40_000_000,
                {
                    "count": 7,
                    "big": 2**53 + 1,
                    "ratio": 0.25,
                    "ok": False,
                    "list": [1, "two", 3.5],
                    "obj": {"a": 1, "b": ["x", "y"], "c": {"d": True}},
                    "json_text": '{"q": 1}',
                    "text": "hello ✓ ünïcödé",
                    "input.value": json.dumps({"question": "json?"}),
                    "output.value": json.dumps({"answer": "yes"}),
                    "openinference.span.kind": "AGENT",
                },
                status_code=1,
            ),
            json_span(
                trace_hex,
                child_hex,
                root_hex,
                "json_child",
                t0 + 5_000_000,
                t0 + 30_000_000,
                {"openinference.span.kind": "TOOL", "input.value": "tool in"},
                events=[
                    {
                        "timeUnixNano": str(t0 + 6_000_000),
                        "name": "checkpoint",
                        "attributes": key_values({"step": 2, "label": "half"}),
                    }
                ],
            ),
        ],
        resource={"service.name": "json-sender", "service.version": "1.2.3"},
    )
    resp = post_otlp_json(tracking_server.url, body, {"x-mlflow-experiment-id": experiment_id})
    assert resp.status_code == 200, resp.text

    trace = mlflow.get_trace("tr-" + trace_hex)
    assert trace.info.state == TraceState.OK
    assert trace.info.request_time == t0 // 1_000_000
    assert trace.info.execution_duration == (t0 + 40_000_000) // 1_000_000 - t0 // 1_000_000
    assert trace.info.tags["service.name"] == "json-sender"
    assert trace.info.tags["service.version"] == "1.2.3"
    assert trace.info.request_preview == '{"question": "json?"}'
    assert trace.info.response_preview == '{"answer": "yes"}'
    root, child = trace.data.spans
    assert (root.span_id, root.parent_id, root.name) == (root_hex, None, "json_root")
    assert (child.span_id, child.parent_id, child.name) == (child_hex, root_hex, "json_child")
    assert (root.start_time_ns, root.end_time_ns) == (t0, t0 + 40_000_000)
    assert (child.start_time_ns, child.end_time_ns) == (t0 + 5_000_000, t0 + 30_000_000)
    assert root.status.status_code == SpanStatusCode.OK
    assert child.status.status_code == SpanStatusCode.UNSET
    a = root.attributes
    assert a["count"] == 7 and type(a["count"]) is int
    assert a["big"] == 2**53 + 1
    assert a["ratio"] == 0.25
    assert a["ok"] is False
    assert a["list"] == [1, "two", 3.5]
    assert a["obj"] == {"a": 1, "b": ["x", "y"], "c": {"d": True}}
    assert a["json_text"] == {"q": 1}
    assert a["text"] == "hello ✓ ünïcödé"
    assert (root.span_type, child.span_type) == ("AGENT", "TOOL")
    assert root.inputs == {"question": "json?"}
    assert root.outputs == {"answer": "yes"}
    assert child.inputs == "tool in"
    [event] = child.events
    assert (event.name, event.timestamp) == ("checkpoint", t0 + 6_000_000)
    assert event.attributes == {"step": 2, "label": "half"}


@pytest.mark.rivulet_only(
    reason="Rivulet answers an OTLP/JSON request with a JSON body and application/json "
    "(the OTLP/HTTP rule); MLflow answers an empty protobuf body"
)
def test_otlp_json_answer_is_json(tracking_server, experiment_id):
    trace_hex = random_hex(16)
    t0 = time.time_ns()
    body = otlp_json([json_span(trace_hex, random_hex(8), None, "r", t0, t0 + 1000, {})])
    resp = post_otlp_json(tracking_server.url, body, {"x-mlflow-experiment-id": experiment_id})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].split(";")[0].strip() == "application/json"
    answer = resp.json()
    assert isinstance(answer, dict)
    assert not answer.get("partialSuccess", {}).get("rejectedSpans")


def test_otlp_json_split_out_of_order_duplicated_delivery(tracking_server, experiment_id):
    """Child first, then the root (gzip), then the child again: one trace, two spans, OK."""
    trace_hex, root_hex, child_hex = random_hex(16), random_hex(8), random_hex(8)
    trace_id = "tr-" + trace_hex
    headers = {"x-mlflow-experiment-id": experiment_id}
    t0 = time.time_ns() - 1_000_000_000
    child = json_span(
        trace_hex,
        child_hex,
        root_hex,
        "late_parent_child",
        t0 + 10_000_000,
        t0 + 20_000_000,
        {"openinference.span.kind": "TOOL", "input.value": json.dumps({"x": 1}), "n": 1},
        status_code=2,
        status_message="child failed",
    )
    root = json_span(
        trace_hex,
        root_hex,
        None,
        "split_root",
        t0,
        t0 + 50_000_000,
        {
            "openinference.span.kind": "CHAIN",
            "input.value": json.dumps({"q": "split"}),
            "output.value": json.dumps({"a": "joined"}),
        },
    )

    resp = post_otlp_json(tracking_server.url, otlp_json([child]), headers)
    assert resp.status_code == 200, resp.text
    [partial] = mlflow.search_traces(
        locations=[experiment_id], include_spans=False, return_type="list"
    )
    assert partial.info.trace_id == trace_id
    assert partial.info.state == TraceState.IN_PROGRESS

    resp = post_otlp_json(tracking_server.url, otlp_json([root]), headers, gzipped=True)
    assert resp.status_code == 200, resp.text
    resp = post_otlp_json(tracking_server.url, otlp_json([child]), headers)
    assert resp.status_code == 200, resp.text

    trace = search_one(experiment_id)
    assert trace.info.trace_id == trace_id
    assert trace.info.state == TraceState.OK  # from the root; the child's ERROR does not count
    assert trace.info.request_time == t0 // 1_000_000
    assert trace.info.execution_duration == 50
    assert trace.info.request_preview == '{"q": "split"}'
    assert trace.info.response_preview == '{"a": "joined"}'
    assert [(s.name, s.span_id, s.parent_id) for s in trace.data.spans] == [
        ("split_root", root_hex, None),
        ("late_parent_child", child_hex, root_hex),
    ]
    late = trace.data.spans[1]
    assert late.status.status_code == SpanStatusCode.ERROR
    assert late.status.description == "child failed"
    assert late.inputs == {"x": 1}
    assert late.attributes["n"] == 1
    assert len(mlflow.get_trace(trace_id).data.spans) == 2


def test_otlp_json_run_id_header_links_the_trace_to_the_run(tracking_server, client, experiment_id):
    run = client.create_run(experiment_id)
    trace_hex = random_hex(16)
    t0 = time.time_ns()
    body = otlp_json([json_span(trace_hex, random_hex(8), None, "in_run", t0, t0 + 1000, {})])
    headers = {"x-mlflow-experiment-id": experiment_id, "x-mlflow-run-id": run.info.run_id}
    resp = post_otlp_json(tracking_server.url, body, headers)
    assert resp.status_code == 200, resp.text
    other = otlp_json([json_span(random_hex(16), random_hex(8), None, "no_run", t0, t0 + 1000, {})])
    assert post_otlp_json(tracking_server.url, other, {"x-mlflow-experiment-id": experiment_id}).ok

    linked = mlflow.search_traces(
        locations=[experiment_id], run_id=run.info.run_id, return_type="list"
    )
    assert [t.info.trace_id for t in linked] == ["tr-" + trace_hex]


def test_otlp_protobuf_deflate_answer_is_empty_protobuf(tracking_server, experiment_id):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    trace_bytes, span_bytes = os.urandom(16), os.urandom(8)
    t0 = time.time_ns()
    span.trace_id, span.span_id, span.name = trace_bytes, span_bytes, "raw_protobuf"
    span.start_time_unix_nano, span.end_time_unix_nano = t0, t0 + 5_000_000
    attribute = span.attributes.add()
    attribute.key, attribute.value.int_value = "k", 5
    data = zlib.compress(request.SerializeToString())
    resp = post_otlp_protobuf(tracking_server.url, data, experiment_id, "deflate")
    assert resp.status_code == 200, resp.content
    assert resp.headers["Content-Type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(resp.content)
    assert not answer.HasField("partial_success")

    trace = mlflow.get_trace("tr-" + trace_bytes.hex())
    [read] = trace.data.spans
    assert (read.name, read.span_id, read.attributes["k"]) == ("raw_protobuf", span_bytes.hex(), 5)
    assert trace.info.state == TraceState.OK


def test_otlp_gzip_body_of_two_members_is_read_whole(tracking_server, experiment_id):
    """RFC 1952 lets a gzip body hold several members; Python's gzip reads them all, as MLflow
    does. The protobuf is cut in the middle, so reading the first member alone cannot pass."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    trace_bytes, t0 = os.urandom(16), time.time_ns()
    for index in range(4):
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name = trace_bytes, os.urandom(8), f"member_{index}"
        span.start_time_unix_nano, span.end_time_unix_nano = t0 + index, t0 + 5_000_000
    data = request.SerializeToString()
    half = len(data) // 2
    members = gzip.compress(data[:half]) + gzip.compress(data[half:])
    resp = post_otlp_protobuf(tracking_server.url, members, experiment_id, "gzip")
    assert resp.status_code == 200, resp.content
    spans = mlflow.get_trace("tr-" + trace_bytes.hex()).data.spans
    assert sorted(s.name for s in spans) == [f"member_{index}" for index in range(4)]


def _compressed(coding: str, data: bytes) -> bytes:
    import cramjam
    import lz4.frame
    import zstandard

    return {
        "zlib": zlib.compress,
        "zstd": zstandard.ZstdCompressor(level=3).compress,
        "lz4": lz4.frame.compress,
        "snappy": lambda raw: bytes(cramjam.snappy.compress_raw(raw)),
        "x-snappy-framed": lambda raw: bytes(cramjam.snappy.compress(raw)),
    }[coding](data)


@pytest.mark.rivulet_only(
    reason="Rivulet reads every compression a Collector's otlphttp exporter can be set to "
    "(deploy.md 2.1); MLflow reads gzip and deflate only"
)
@pytest.mark.parametrize("coding", ["zlib", "zstd", "lz4", "snappy", "x-snappy-framed"])
def test_otlp_protobuf_in_each_collector_compression(tracking_server, experiment_id, coding):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    trace_bytes, span_bytes = os.urandom(16), os.urandom(8)
    t0 = time.time_ns()
    span.trace_id, span.span_id, span.name = trace_bytes, span_bytes, f"sent_as_{coding}"
    span.start_time_unix_nano, span.end_time_unix_nano = t0, t0 + 5_000_000
    attribute = span.attributes.add()
    attribute.key, attribute.value.string_value = "output.value", "a long answer " * 500
    data = request.SerializeToString()
    body = _compressed(coding, data)
    assert len(body) < len(data) / 4
    resp = post_otlp_protobuf(tracking_server.url, body, experiment_id, coding)
    assert resp.status_code == 200, resp.content
    [read] = mlflow.get_trace("tr-" + trace_bytes.hex()).data.spans
    assert (read.name, read.outputs) == (f"sent_as_{coding}", "a long answer " * 500)


@pytest.mark.rivulet_only(
    reason="Rivulet answers an unknown content coding 415 with Accept-Encoding (RFC 9110 "
    "15.5.16); MLflow answers 400"
)
def test_unknown_content_coding_is_415_with_accept_encoding(tracking_server, experiment_id):
    _, body = _one_span_body()
    headers = {"Content-Encoding": "br", "x-mlflow-experiment-id": experiment_id}
    resp = post_otlp_json(tracking_server.url, body, headers)
    assert resp.status_code == 415, resp.text
    assert "zstd" in resp.headers["Accept-Encoding"].split(", ")
    assert "'br'" in resp.json()["message"]
    assert mlflow.search_traces(locations=[experiment_id], return_type="list") == []


def test_otlp_json_uppercase_ids_and_unknown_fields(tracking_server, experiment_id):
    trace_hex, span_hex_id = random_hex(16).upper(), random_hex(8).upper()
    t0 = time.time_ns()
    span = json_span(trace_hex, span_hex_id, None, "upper", t0, t0 + 1000, {"a": 1})
    span.update({"droppedAttributesCount": 0, "flags": 256, "aFieldFromTheFuture": {"x": 1}})
    body = otlp_json([span])
    body["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.30.0"
    body["somethingNew"] = [1, 2]
    resp = post_otlp_json(tracking_server.url, body, {"x-mlflow-experiment-id": experiment_id})
    assert resp.status_code == 200, resp.text
    trace = mlflow.get_trace("tr-" + trace_hex.lower())
    assert [(s.span_id, s.name, s.attributes["a"]) for s in trace.data.spans] == [
        (span_hex_id.lower(), "upper", 1)
    ]


def test_otlp_json_without_spans_stores_nothing(tracking_server, experiment_id):
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": []}]}]}
    resp = post_otlp_json(tracking_server.url, body, {"x-mlflow-experiment-id": experiment_id})
    assert resp.status_code == 200, resp.text
    assert mlflow.search_traces(locations=[experiment_id], return_type="list") == []


@pytest.mark.rivulet_only(
    reason="an empty OTLP request is a success (OTLP spec, deploy.md 2.7); MLflow answers 400 "
    "'no spans found'"
)
@pytest.mark.parametrize("body", [{}, {"resourceSpans": []}])
def test_empty_otlp_request_is_a_success(tracking_server, experiment_id, body):
    resp = post_otlp_json(tracking_server.url, body, {"x-mlflow-experiment-id": experiment_id})
    assert resp.status_code == 200, resp.text
    assert mlflow.search_traces(locations=[experiment_id], return_type="list") == []


@pytest.mark.rivulet_only(
    reason="Rivulet accepts Content-Encoding: identity (tracing.md 7.6); MLflow answers 400"
)
def test_identity_content_encoding_is_accepted(tracking_server, experiment_id):
    trace_hex, body = _one_span_body()
    headers = {"Content-Encoding": "identity", "x-mlflow-experiment-id": experiment_id}
    resp = post_otlp_json(tracking_server.url, body, headers)
    assert resp.status_code == 200, resp.text
    assert len(mlflow.get_trace("tr-" + trace_hex).data.spans) == 1


# --------------------------------------------------------------------------------------
# Refused exports
# --------------------------------------------------------------------------------------


def _one_span_body() -> tuple[str, dict]:
    trace_hex = random_hex(16)
    t0 = time.time_ns()
    return trace_hex, otlp_json([json_span(trace_hex, random_hex(8), None, "x", t0, t0 + 1, {})])


def test_export_to_unknown_experiment_is_404(tracking_server):
    trace_hex, body = _one_span_body()
    resp = post_otlp_json(tracking_server.url, body, {"x-mlflow-experiment-id": "987654321"})
    assert resp.status_code == 404, resp.text
    assert mlflow.get_trace("tr-" + trace_hex, silent=True) is None


def test_export_with_non_integer_experiment_id_is_400(tracking_server):
    trace_hex, body = _one_span_body()
    resp = post_otlp_json(tracking_server.url, body, {"x-mlflow-experiment-id": "abc"})
    assert resp.status_code == 400, resp.text


def test_export_with_unsupported_content_type_is_400(tracking_server, experiment_id):
    _, body = _one_span_body()
    resp = requests.post(
        f"{tracking_server.url}/v1/traces",
        data=json.dumps(body),
        headers={"Content-Type": "text/plain", "x-mlflow-experiment-id": experiment_id},
        timeout=30,
    )
    assert resp.status_code == 400, resp.text


def test_export_of_malformed_json_is_400(tracking_server, experiment_id):
    resp = requests.post(
        f"{tracking_server.url}/v1/traces",
        data=b'{"resourceSpans": [',
        headers={"Content-Type": "application/json", "x-mlflow-experiment-id": experiment_id},
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    assert mlflow.search_traces(locations=[experiment_id], return_type="list") == []


def test_export_without_experiment_header_is_refused(tracking_server):
    trace_hex, body = _one_span_body()
    resp = post_otlp_json(tracking_server.url, body, {})
    assert 400 <= resp.status_code < 500, resp.text
    assert mlflow.get_trace("tr-" + trace_hex, silent=True) is None


@pytest.mark.rivulet_only(
    reason="Rivulet answers 400 with an OTLP error body naming the headers; MLflow answers "
    "422 (FastAPI validation error)"
)
def test_export_without_experiment_header_is_400(tracking_server):
    _, body = _one_span_body()
    resp = post_otlp_json(tracking_server.url, body, {})
    assert resp.status_code == 400, resp.text
    assert resp.headers["Content-Type"].split(";")[0].strip() == "application/json"
    assert "x-mlflow-experiment-id" in resp.json()["message"]


@pytest.mark.parametrize(
    "content_encoding, data",
    [(None, b"\x00garbage"), ("gzip", b"not gzip at all")],
)
def test_malformed_protobuf_export_is_400(
    tracking_server, experiment_id, content_encoding, data
):
    headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    if content_encoding:
        headers["Content-Encoding"] = content_encoding
    resp = requests.post(f"{tracking_server.url}/v1/traces", data=data, headers=headers, timeout=30)
    assert resp.status_code == 400, resp.content
    assert mlflow.search_traces(locations=[experiment_id], return_type="list") == []


@pytest.mark.rivulet_only(
    reason="Rivulet answers a refused protobuf export with a protobuf google.rpc.Status body "
    "(OTLP spec); MLflow answers FastAPI JSON"
)
def test_refused_protobuf_export_has_a_google_rpc_status_body(tracking_server, experiment_id):
    from google.rpc.status_pb2 import Status as RpcStatus

    resp = requests.post(
        f"{tracking_server.url}/v1/traces",
        data=b"\x00garbage",
        headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id},
        timeout=30,
    )
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == "application/x-protobuf"
    status = RpcStatus.FromString(resp.content)
    assert status.code == 3  # INVALID_ARGUMENT
    assert status.message
