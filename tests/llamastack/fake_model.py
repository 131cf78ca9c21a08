"""A deterministic OpenAI-compatible model server that LLaMA Stack's remote::vllm provider can call.

Owns the model side of the LLaMA Stack end-to-end test: `GET /v1/models`, `GET /health` and
`POST /v1/chat/completions` (JSON, or server-sent events when `stream` is true), always with
token usage, so the trace LLaMA Stack exports has real numbers in it.

Behaviour the test relies on:
* When the request offers tools and no tool result is in the conversation yet, the model calls
  the first tool (arguments from `FAKE_TOOL_ARGUMENTS`, JSON) — this drives LLaMA Stack's
  Responses loop through a server-side tool.
* After a tool result, or without tools, it answers `pong: <last user text>` (plus the tool
  result, if there was one), so assertions can recognise the answer.
* Token counts are word counts: stable across runs, so the test can assert exact numbers.

Standard library only: it runs in whatever Python starts it. Usage: `fake_model.py PORT`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_ID = "fake-model"
TOOL_ARGUMENTS = os.environ.get("FAKE_TOOL_ARGUMENTS", '{"city": "Paris"}')


def text_of(content) -> str:
    """Message content as plain text (OpenAI allows a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def words(text: str) -> int:
    return len(text.split())


def reply_for(request: dict) -> dict:
    """The assistant message for a chat request, and its usage."""
    messages = request.get("messages") or []
    prompt_tokens = sum(words(text_of(m.get("content"))) for m in messages)
    tool_results = [text_of(m.get("content")) for m in messages if m.get("role") == "tool"]
    last_user = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    tools = request.get("tools") or []
    if tools and not tool_results:
        name = tools[0].get("function", {}).get("name", "tool")
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": TOOL_ARGUMENTS}}
            ],
        }
        finish, completion_tokens = "tool_calls", words(TOOL_ARGUMENTS) + 1
    else:
        answer = f"pong: {last_user}".strip()
        if tool_results:
            answer += f" (tool said: {tool_results[-1]})"
        message = {"role": "assistant", "content": answer}
        finish, completion_tokens = "stop", words(answer)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return {"message": message, "finish_reason": finish, "usage": usage}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one line per request on stderr, for the test's log
        sys.stderr.write("fake-model: " + (fmt % args) + "\n")

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/health", ""):
            self._json(200, {"status": "ok"})
        elif path == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rivulet-test"}
            ]})  # fmt: skip
        else:
            self._json(404, {"error": {"message": f"no route {path}"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as exc:
            self._json(400, {"error": {"message": f"bad JSON: {exc}"}})
            return
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        sys.stderr.write("fake-model: request " + json.dumps(request)[:2000] + "\n")
        reply = reply_for(request)
        completion_id = f"chatcmpl-fake-{time.monotonic_ns()}"
        model = request.get("model") or MODEL_ID
        if request.get("stream"):
            self._stream(completion_id, model, reply, request)
            return
        self._json(200, {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": reply["message"], "finish_reason": reply["finish_reason"]}],
            "usage": reply["usage"],
        })  # fmt: skip

    def _stream(self, completion_id: str, model: str, reply: dict, request: dict) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        # No content-length: the stream ends when the connection closes.
        self.send_header("connection", "close")
        self.end_headers()
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

        def send(choices, usage=None):
            chunk = dict(base, choices=choices)
            if usage is not None:
                chunk["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()

        message = reply["message"]
        send([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if message.get("tool_calls"):
            for i, call in enumerate(message["tool_calls"]):
                send([{"index": 0, "delta": {"tool_calls": [dict(call, index=i)]}, "finish_reason": None}])
        else:
            # Two content chunks, so a consumer has to assemble the answer as with a real server.
            text = message["content"]
            half = len(text) // 2
            for piece in (text[:half], text[half:]):
                send([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
        send([{"index": 0, "delta": {}, "finish_reason": reply["finish_reason"]}])
        if (request.get("stream_options") or {}).get("include_usage"):
            send([], usage=reply["usage"])
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    sys.stderr.write(f"fake-model: listening on 127.0.0.1:{port}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
