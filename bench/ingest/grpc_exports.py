"""Concurrent OTLP/gRPC exports against a running server, for the memory and throughput of the
gRPC receiver: WORKERS threads each send PER exports of TRACES traces x 10 spans (gzip), over
one channel each (gRPC's Python core multiplexes channels to one target on one connection, as a
Collector does with its consumers). UNAVAILABLE is retried after 0.5 s, as exporters retry it.

usage: python grpc_exports.py HOST:PORT EXPERIMENT_ID [WORKERS=10] [PER=3] [TRACES=800]
needs: pip install opentelemetry-exporter-otlp-proto-grpc   (grpcio and the OTLP protos)
Prints spans/s of answered exports over the wall time, the encoded export size, status codes
and retries as the last line. Read the server's peak RSS from /proc/PID/status (VmHWM).
"""
import os
import random
import sys
import threading
import time

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2

target, experiment = sys.argv[1], sys.argv[2]
workers, per_worker, traces = (int(a) for a in (sys.argv[3:] + ["10", "3", "800"][len(sys.argv) - 3:])[:3])
WORDS = "the refund policy order customer agent tool search result answer model token latency".split()


def text(n):
    return " ".join(random.choice(WORDS) for _ in range(n // 6))[:n]


def attribute(key, value):
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def build():
    """One export: `traces` traces of a root and nine chat children, ~1.5 KB of messages each."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([attribute("service.name", "grpc-exports")])
    scope_spans = resource_spans.scope_spans.add()
    now = time.time_ns()
    for _ in range(traces):
        trace_id = os.urandom(16)
        span_ids = [os.urandom(8) for _ in range(10)]
        for i in range(10):
            span = scope_spans.spans.add()
            span.trace_id, span.span_id = trace_id, span_ids[i]
            if i:
                span.parent_span_id = span_ids[0]
            span.name = f"chat {i}"
            span.start_time_unix_nano, span.end_time_unix_nano = now + i, now + i + 10**6
            span.attributes.extend([
                attribute("gen_ai.operation.name", "chat"),
                attribute("gen_ai.request.model", "gpt-4o"),
                attribute("gen_ai.input.messages", '[{"role":"user","content":"%s"}]' % text(1024)),
                attribute("gen_ai.output.messages", '[{"role":"assistant","content":"%s"}]' % text(512)),
            ])
    return request


def worker(results):
    channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 512 << 20)], compression=grpc.Compression.Gzip)
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    for _ in range(per_worker):
        request = build()
        for attempt in range(30):
            try:
                stub.Export(request, metadata=[("x-mlflow-experiment-id", experiment)], timeout=120)
                results.append(("OK", request.ByteSize(), attempt))
                break
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == 29:
                    results.append((error.code().name, request.ByteSize(), attempt))
                    break
                time.sleep(0.5)


results = []
threads = [threading.Thread(target=worker, args=(results,)) for _ in range(workers)]
started = time.perf_counter()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
elapsed = time.perf_counter() - started
answered = [r for r in results if r[0] == "OK"]
print(f"{len(answered)}/{len(results)} answered, {len(answered) * traces * 10 / elapsed:.0f} spans/s, "
      f"export {results[0][1] / 1e6:.1f} MB, codes {sorted({r[0] for r in results})}, retries {sum(r[2] for r in results)}")
