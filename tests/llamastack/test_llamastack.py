"""What Rivulet must make of real LLaMA Stack 0.7.3 telemetry, checked through the REST API and the UI.

Owns the assertions of the LLaMA Stack end-to-end test (the scenario is in conftest.py): MLflow
span types, chat messages, token usage, session and user, previews — each derived by Rivulet
from what LLaMA Stack sends, with nothing in between.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (
    CHAT_QUESTION,
    CHAT_ROOT,
    CHAT_SPAN,
    CHAT_SYSTEM,
    EXPERIMENT,
    QUESTION,
    RESPONSES_ROOT,
    USER,
    Scenario,
)
from harness import HERE, REPO, Span, call, get_trace, search_traces

USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")


def by_name(spans: list[Span], name: str) -> list[Span]:
    found = [s for s in spans if s.name == name]
    assert found, f"no span named {name!r}; spans: {spans}"
    return found


def messages(payload) -> list[tuple[str, str]]:
    """(role, text) of each message of a span's inputs or outputs, parts-style or OpenAI-style."""
    if isinstance(payload, dict):
        payload = payload.get("messages") or [c.get("message", {}) for c in payload.get("choices", [])]
    out = []
    for message in payload or []:
        parts = message.get("parts")
        if parts is None:
            content = message.get("content")
            parts = [{"type": "text", "content": content}] if isinstance(content, str) else content or []
        texts = []
        for part in parts:
            if part.get("type") == "text":
                texts.append(part.get("content") or part.get("text") or "")
            elif part.get("type") == "tool_call_response":
                texts.append(json.dumps(part.get("response")))
        out.append((message.get("role"), " ".join(t for t in texts if t)))
    return out


def tool_calls(payload) -> list[str]:
    """Names of the tool calls in a span's outputs (GenAI parts)."""
    names = []
    for message in payload or []:
        for part in message.get("parts") or []:
            if part.get("type") == "tool_call":
                names.append(part.get("name"))
    return names


def usage_of(text_or_dict) -> dict:
    usage = json.loads(text_or_dict) if isinstance(text_or_dict, str) else text_or_dict
    return {k: usage.get(k) for k in USAGE_KEYS}


def test_traces_arrive_as_sent(scenario: Scenario):
    """One trace per LLaMA Stack request, in the experiment the exporter's header named."""
    experiment = call(scenario.rivulet, "GET", f"/api/2.0/mlflow/experiments/get?experiment_id={scenario.experiment_id}")
    assert experiment["experiment"]["name"] == EXPERIMENT
    names = [t.get("tags", {}).get("mlflow.traceName") for t in search_traces(scenario.rivulet, scenario.experiment_id)]
    # Creating the conversation is a request, and a trace, of its own.
    for name in (RESPONSES_ROOT, CHAT_ROOT, "POST /v1/conversations"):
        assert names.count(name) == 1, f"expected one trace named {name!r}: {names}"
    # OTEL_PYTHON_FASTAPI_EXCLUDED_URLS keeps the readiness probe out (the flood of probe traces
    # a deployment sees otherwise).
    assert "GET /v1/health" not in names, names
    for turn in (scenario.responses, scenario.chat):
        info, _ = get_trace(scenario.rivulet, turn.trace_id)
        assert info["state"] == "OK", info
        assert info["tags"].get("service.name") == "llama-stack", info["tags"]


def test_responses_turn_span_types(scenario: Scenario):
    """The agent loop of one Responses turn: tools listed, model, tool call, model."""
    _, spans = get_trace(scenario.rivulet, scenario.responses.trace_id)
    (root,) = by_name(spans, RESPONSES_ROOT)
    assert root.parent_id is None
    chats = by_name(spans, CHAT_SPAN)
    assert len(chats) == 2, spans
    assert [s.span_type for s in chats] == ["CHAT_MODEL", "CHAT_MODEL"], chats
    (listing,) = by_name(spans, "list_mcp_tools")
    (invocation,) = by_name(spans, "invoke_mcp_tool")
    assert listing.span_type == "TOOL", listing.attributes
    assert invocation.span_type == "TOOL", invocation.attributes
    assert invocation.attributes.get("tool_name") == "get_weather"
    for span in (*chats, listing, invocation):
        assert span.parent_id == root.span_id, f"{span} is not a child of the root"
    for chat in chats:
        assert chat.attributes.get("mlflow.llm.model") == "fake-model", chat.attributes


def test_responses_turn_chat_messages(scenario: Scenario):
    _, spans = get_trace(scenario.rivulet, scenario.responses.trace_id)
    first, second = sorted(by_name(spans, CHAT_SPAN), key=lambda s: int(s.raw["start_time_unix_nano"]))

    assert messages(first.attributes.get("mlflow.spanInputs")) == [("user", QUESTION)], first.attributes
    assert tool_calls(first.attributes.get("mlflow.spanOutputs")) == ["get_weather"], first.attributes

    inputs = messages(second.attributes.get("mlflow.spanInputs"))
    assert [role for role, _ in inputs] == ["user", "assistant", "tool"], inputs
    assert "Sunny and 18C in Paris" in inputs[2][1], inputs
    assert messages(second.attributes.get("mlflow.spanOutputs")) == [("assistant", scenario.responses.answer)]
    assert "Sunny and 18C in Paris" in scenario.responses.answer


def test_chat_turn_messages_and_type(scenario: Scenario):
    _, spans = get_trace(scenario.rivulet, scenario.chat.trace_id)
    (chat,) = by_name(spans, CHAT_SPAN)
    assert chat.span_type == "CHAT_MODEL", chat.attributes
    assert messages(chat.attributes.get("mlflow.spanInputs")) == [("system", CHAT_SYSTEM), ("user", CHAT_QUESTION)]
    assert messages(chat.attributes.get("mlflow.spanOutputs")) == [("assistant", scenario.chat.answer)]
    assert scenario.chat.answer == f"pong: {CHAT_QUESTION}"


@pytest.mark.parametrize("turn", ["responses", "chat"])
def test_token_usage(scenario: Scenario, turn: str):
    """Per model call from the GenAI attributes, per trace summed — and equal to what LLaMA Stack billed."""
    sent = getattr(scenario, turn)
    info, spans = get_trace(scenario.rivulet, sent.trace_id)
    total = dict.fromkeys(USAGE_KEYS, 0)
    for chat in by_name(spans, CHAT_SPAN):
        usage = chat.attributes.get("mlflow.chat.tokenUsage")
        assert usage, f"{chat} has no mlflow.chat.tokenUsage; attributes: {chat.attributes}"
        usage = usage_of(usage)
        assert usage["input_tokens"] == chat.attributes["gen_ai.usage.input_tokens"]
        assert usage["output_tokens"] == chat.attributes["gen_ai.usage.output_tokens"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        for key in USAGE_KEYS:
            total[key] += usage[key]
    metadata = info.get("trace_metadata", {})
    assert "mlflow.trace.tokenUsage" in metadata, metadata
    assert usage_of(metadata["mlflow.trace.tokenUsage"]) == total
    assert total == sent.usage, f"trace total {total} differs from the usage LLaMA Stack returned {sent.usage}"


def test_session_and_user(scenario: Scenario):
    for turn in (scenario.responses, scenario.chat):
        info, _ = get_trace(scenario.rivulet, turn.trace_id)
        metadata = info.get("trace_metadata", {})
        assert metadata.get("mlflow.trace.session") == scenario.conversation_id, metadata
        assert metadata.get("mlflow.trace.user") == USER, metadata
    # The session is searchable as MLflow's UI searches it.
    body = {
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": scenario.experiment_id}}],
        "filter": f"metadata.`mlflow.trace.session` = '{scenario.conversation_id}'",
    }
    found = call(scenario.rivulet, "POST", "/api/3.0/mlflow/traces/search", body).get("traces", [])
    assert sorted(t["trace_id"] for t in found) == sorted([scenario.responses.trace_id, scenario.chat.trace_id])


def test_previews(scenario: Scenario):
    """The last user message in, the final answer out — though the root span carries neither."""
    for turn, question in ((scenario.responses, QUESTION), (scenario.chat, CHAT_QUESTION)):
        info, _ = get_trace(scenario.rivulet, turn.trace_id)
        assert info.get("request_preview") == question, info
        assert info.get("response_preview") == turn.answer, info


def test_ui_shows_the_trace(scenario: Scenario):
    """The same facts in Chromium: span types, chat, tokens, session, previews (ui_check.cjs)."""
    node = shutil.which("node")
    assert node, "node is needed for the UI check (run.sh installs it)"
    info, spans = get_trace(scenario.rivulet, scenario.responses.trace_id)
    first, second = sorted(by_name(spans, CHAT_SPAN), key=lambda s: int(s.raw["start_time_unix_nano"]))
    expect = {
        "url": scenario.rivulet,
        "traceId": scenario.responses.trace_id,
        "chatTraceId": scenario.chat.trace_id,
        "session": scenario.conversation_id,
        "user": USER,
        "question": QUESTION,
        "answer": scenario.responses.answer,
        "chatQuestion": CHAT_QUESTION,
        "chatAnswer": scenario.chat.answer,
        "usage": usage_of(info["trace_metadata"]["mlflow.trace.tokenUsage"]),
        "lastCallUsage": usage_of(second.attributes["mlflow.chat.tokenUsage"]),
        "firstCallSpanId": first.hex_id,
        "spanCount": len(spans),
        "requestPreview": info["request_preview"],
        "responsePreview": info["response_preview"],
    }
    env = dict(os.environ)
    env.setdefault("LLAMASTACK_SCREENSHOTS", str(REPO / "target" / "llamastack-screenshots"))
    # playwright-core comes from the browser suite's install (run.sh makes sure it is there).
    env["NODE_PATH"] = str(REPO / "tests" / "ui" / "node_modules")
    result = subprocess.run(
        [node, str(HERE / "ui_check.cjs"), json.dumps(expect)],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, f"UI check failed:\n{result.stdout}\n{result.stderr}"
    assert Path(env["LLAMASTACK_SCREENSHOTS"], "llamastack-trace-chat.png").is_file()
