#!/usr/bin/env python3
"""Send one trace the way the Collector's otlp_http exporter does: protobuf, gzip, POST
<endpoint>/v1/traces, with the configured headers. Standard library only.

Usage: otlp_export.py ENDPOINT [--header 'Name: value' ...]
Prints the trace id (32 hex digits) on success; exits 1 with a message otherwise.
"""

import argparse
import gzip
import os
import sys
import time
import urllib.error
import urllib.request

# --- a minimal protobuf writer (wire types 0 = varint, 1 = fixed64, 2 = length-delimited) ---


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_fixed64(number, value):
    return varint(number << 3 | 1) + value.to_bytes(8, "little")


def any_value(value):
    # AnyValue: string_value = 1, int_value = 3
    if isinstance(value, int):
        return field_varint(3, value)
    return field_bytes(1, value.encode())


def key_value(key, value):
    # KeyValue: key = 1, value = 2
    return field_bytes(1, key.encode()) + field_bytes(2, any_value(value))


def span(trace_id, span_id, parent_id, name, kind, start, end, attributes):
    # Span: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, kind = 6,
    # start_time_unix_nano = 7, end_time_unix_nano = 8, attributes = 9, status = 15 (code = 3)
    out = field_bytes(1, trace_id) + field_bytes(2, span_id)
    if parent_id:
        out += field_bytes(4, parent_id)
    out += field_bytes(5, name.encode()) + field_varint(6, kind)
    out += field_fixed64(7, start) + field_fixed64(8, end)
    for k, v in attributes.items():
        out += field_bytes(9, key_value(k, v))
    out += field_bytes(15, field_varint(3, 1))  # STATUS_CODE_OK
    return out


def export_request(service_name):
    """ExportTraceServiceRequest with one LLaMA Stack-shaped trace: server span + chat span."""
    trace_id, root_id, chat_id = os.urandom(16), os.urandom(8), os.urandom(8)
    now = time.time_ns()
    root = span(trace_id, root_id, None, "POST /v1/chat/completions", 2, now - 900_000_000, now,
                {"http.method": "POST", "http.route": "/v1/chat/completions", "http.status_code": 200})
    chat = span(trace_id, chat_id, root_id, "chat fake-model", 3, now - 800_000_000, now - 100_000_000, {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "fake-model",
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 1,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"ping"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"pong"}],"finish_reason":"stop"}]',
    })
    scope = field_bytes(1, b"deploy-test")  # InstrumentationScope.name
    scope_spans = field_bytes(1, scope) + field_bytes(2, root) + field_bytes(2, chat)
    resource = field_bytes(1, key_value("service.name", service_name))
    resource_spans = field_bytes(1, resource) + field_bytes(2, scope_spans)
    return field_bytes(1, resource_spans), trace_id.hex()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--service-name", default="llamastack")
    args = parser.parse_args()
    body, trace_id = export_request(args.service_name)
    request = urllib.request.Request(args.endpoint.rstrip("/") + "/v1/traces", data=gzip.compress(body), method="POST")
    # What the otlp_http exporter sends (collector exporter/otlphttpexporter).
    request.add_header("Content-Type", "application/x-protobuf")
    request.add_header("Content-Encoding", "gzip")
    request.add_header("User-Agent", "OpenTelemetry Collector Contrib/0.146.1 (linux/amd64)")
    for header in args.header:
        name, value = header.split(":", 1)
        request.add_header(name.strip(), value.strip())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            content_type = response.headers.get("Content-Type", "")
            payload = response.read()
    except urllib.error.HTTPError as error:
        sys.exit(f"otlp_export: HTTP {error.code}: {error.read()[:300]!r}")
    # The exporter parses a 2xx body by its exact Content-Type; a protobuf partial_success
    # (field 1) would mean rejected spans.
    if content_type not in ("application/x-protobuf", ""):
        sys.exit(f"otlp_export: response Content-Type {content_type!r}, expected application/x-protobuf")
    # Empty, or an empty partial_success (field 1, length 0): full success.
    if payload not in (b"", b"\x0a\x00"):
        sys.exit(f"otlp_export: ExportTraceServiceResponse reports a partial success: {payload!r}")
    print(trace_id)


if __name__ == "__main__":
    main()
