"""The one scenario every check of the LLaMA Stack end-to-end test reads: a user's two turns.

Owns the session fixture `scenario`: it starts Rivulet on an empty SQLite store, the fake model,
the MCP tool server and LLaMA Stack 0.7.3 exporting OTLP/HTTP straight to Rivulet (no collector,
no rewrite rules, no middleware), then plays a user with the OpenAI SDK —

1. `conversations.create()`;
2. a Responses turn in that conversation with an MCP tool (non-streaming);
3. a streaming Chat Completions turn;

both turns sending `x-session-id: <conversation id>` and `x-user-id`, headers LLaMA Stack's
FastAPI instrumentation records once `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`
names them (LLaMA Stack 0.7.3 puts the `conversation` parameter on no span) — and waits until
both traces are in Rivulet.

Environment: RIVULET_BIN (default target/release/rivulet), LLAMASTACK_WORK_DIR (scratch directory;
run.sh makes one and keeps it when a check fails).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import HERE, REPO, Process, call, free_port, get_trace, http_ok, log_tail, port_open, search_traces

EXPERIMENT = "llama-stack-e2e"
MODEL = "vllm/fake-model"
USER = "alice@example.com"
QUESTION = "What is the weather in Paris?"
CHAT_SYSTEM = "You are a terse weather bot."
CHAT_QUESTION = "Thanks! Will I need an umbrella?"
RESPONSES_ROOT = "POST /v1/responses"
CHAT_ROOT = "POST /v1/chat/completions"
CHAT_SPAN = "chat fake-model"

PROCESSES: list[Process] = []


@dataclass
class Turn:
    trace_id: str = ""
    answer: str = ""
    usage: dict = field(default_factory=dict)


@dataclass
class Scenario:
    rivulet: str
    experiment_id: str
    conversation_id: str
    work: Path
    responses: Turn
    chat: Turn


def _llama_stack_env(rivulet_port: int, fake_model_port: int, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FAKE_MODEL_URL=f"http://127.0.0.1:{fake_model_port}/v1",
        LLAMA_STATE_DIR=str(work / "llama-state"),
        LLAMA_STACK_CONFIG_DIR=str(work / "llama-config"),
        # Straight to Rivulet's /v1/traces (the SDK appends the path); the experiment is named,
        # and created on first use, by the header.
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{rivulet_port}",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_HEADERS=f"x-mlflow-experiment-name={EXPERIMENT}",
        OTEL_SERVICE_NAME="llama-stack",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        # Doubled DB spans otherwise (driver and SQLAlchemy), as LLaMA Stack's image does.
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="sqlite3,asyncpg",
        # Prompts and completions as span attributes (gen_ai.input/output.messages); the legacy
        # `true` puts them in log events, which reach no span.
        OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="x-session-id,x-user-id",
        # The readiness probe would otherwise add a trace per poll.
        OTEL_PYTHON_FASTAPI_EXCLUDED_URLS="v1/health",
        # Export within half a second instead of five, so the test does not sleep.
        OTEL_BSP_SCHEDULE_DELAY="500",
    )
    for var in ("MLFLOW_TRACKING_URI", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        env.pop(var, None)
    return env


def _start(work: Path) -> tuple[str, int, int]:
    """Starts the four processes; returns Rivulet's URL, LLaMA Stack's port and the MCP server's."""
    venv_bin = Path(sys.executable).parent
    rivulet_bin = Path(os.environ.get("RIVULET_BIN") or REPO / "target" / "release" / "rivulet")
    if not rivulet_bin.is_file():
        raise RuntimeError(f"Rivulet binary not found at {rivulet_bin} (build it or set RIVULET_BIN)")
    ports = {name: free_port() for name in ("rivulet", "model", "mcp", "llama")}
    if len(set(ports.values())) < len(ports):
        raise RuntimeError(f"free_port handed out a port twice: {ports}")

    rivulet = Process("rivulet", [
        str(rivulet_bin), "server", "--host", "127.0.0.1", "--port", str(ports["rivulet"]),
        "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
        "--artifacts-destination", str(work / "artifacts"), "--otlp-grpc-port", "0",
    ], work)  # fmt: skip
    PROCESSES.append(rivulet)
    rivulet_url = f"http://127.0.0.1:{ports['rivulet']}"
    rivulet.wait_until(lambda: http_ok(rivulet_url + "/health"), 30, "GET /health")

    model = Process("fake-model", [sys.executable, str(HERE / "fake_model.py"), str(ports["model"])], work)
    PROCESSES.append(model)
    model.wait_until(lambda: http_ok(f"http://127.0.0.1:{ports['model']}/health"), 30, "GET /health")

    mcp = Process("mcp-weather", [sys.executable, str(HERE / "mcp_weather.py"), str(ports["mcp"])], work)
    PROCESSES.append(mcp)
    mcp.wait_until(lambda: port_open(ports["mcp"]), 60, "listening")

    llama = Process("llama-stack", [
        str(venv_bin / "opentelemetry-instrument"), str(venv_bin / "llama"), "stack", "run",
        str(HERE / "llama_stack.yaml"), "--port", str(ports["llama"]),
    ], work, env=_llama_stack_env(ports["rivulet"], ports["model"], work))  # fmt: skip
    PROCESSES.append(llama)
    llama.wait_until(lambda: http_ok(f"http://127.0.0.1:{ports['llama']}/v1/health"), 180, "GET /v1/health")
    return rivulet_url, ports["llama"], ports["mcp"]


def _play_user(llama_port: int, mcp_port: int) -> tuple[str, Turn, Turn]:
    from openai import OpenAI

    client = OpenAI(
        base_url=f"http://127.0.0.1:{llama_port}/v1",
        api_key="unused",
        default_headers={"x-user-id": USER},
        max_retries=0,
        timeout=60,
    )
    conversation = client.conversations.create()
    headers = {"x-session-id": conversation.id}

    response = client.responses.create(
        model=MODEL,
        input=QUESTION,
        conversation=conversation.id,
        tools=[{
            "type": "mcp", "server_label": "weather", "server_url": f"http://127.0.0.1:{mcp_port}/mcp",
            "require_approval": "never",
        }],
        extra_headers=headers,
    )  # fmt: skip
    responses = Turn(
        answer=response.output_text,
        usage={
            "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens,
            "total_tokens": response.usage.total_tokens,
        },
    )

    chat = Turn()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": CHAT_QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=headers,
    )
    for chunk in stream:
        for choice in chunk.choices:
            chat.answer += choice.delta.content or ""
        if chunk.usage:
            chat.usage = {
                "input_tokens": chunk.usage.prompt_tokens,
                "output_tokens": chunk.usage.completion_tokens,
                "total_tokens": chunk.usage.total_tokens,
            }
    return conversation.id, responses, chat


def _wait_for_traces(rivulet: str, responses: Turn, chat: Turn, timeout: float = 60) -> str:
    """Waits until both turns' traces are complete in Rivulet; returns the experiment id.

    Spans reach Rivulet in several export requests; a trace is complete once its root (the
    FastAPI server span, which ends last) and the spans the check needs are stored.
    """
    wanted = {
        RESPONSES_ROOT: (responses, {RESPONSES_ROOT: 1, "list_mcp_tools": 1, "invoke_mcp_tool": 1, CHAT_SPAN: 2}),
        CHAT_ROOT: (chat, {CHAT_ROOT: 1, CHAT_SPAN: 1}),
    }
    deadline = time.monotonic() + timeout
    seen = "nothing"
    while time.monotonic() < deadline:
        for process in PROCESSES:
            process.check_alive()
        try:
            experiment = call(rivulet, "GET", f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={EXPERIMENT}")
        except AssertionError:
            time.sleep(0.5)
            continue
        experiment_id = experiment["experiment"]["experiment_id"]
        traces = search_traces(rivulet, experiment_id)
        seen = {t["trace_id"]: t.get("tags", {}).get("mlflow.traceName") for t in traces}
        for trace in traces:
            name = trace.get("tags", {}).get("mlflow.traceName")
            if name in wanted and not wanted[name][0].trace_id:
                _, spans = get_trace(rivulet, trace["trace_id"])
                names = [s.name for s in spans]
                if all(names.count(n) >= count for n, count in wanted[name][1].items()):
                    wanted[name][0].trace_id = trace["trace_id"]
        if responses.trace_id and chat.trace_id:
            return experiment_id
        time.sleep(0.5)
    raise AssertionError(
        f"LLaMA Stack's traces did not arrive complete in Rivulet within {timeout:.0f}s; "
        f"traces seen (id -> name): {seen}; see the llama-stack log below"
    )


@pytest.fixture(scope="session")
def scenario() -> Iterator[Scenario]:
    configured = os.environ.get("LLAMASTACK_WORK_DIR")
    work = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="rivulet-llamastack-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rivulet, llama_port, mcp_port = _start(work)
        conversation_id, responses, chat = _play_user(llama_port, mcp_port)
        experiment_id = _wait_for_traces(rivulet, responses, chat)
        yield Scenario(rivulet, experiment_id, conversation_id, work, responses, chat)
    finally:
        for process in reversed(PROCESSES):
            process.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for process in PROCESSES:
            report.sections.append((f"{process.name} log ({process.log})", log_tail(process.log, 30)))
