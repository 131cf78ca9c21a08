//! OTLP ingest end to end through the router and the gRPC service, on a real SQLite store:
//! encodings, split and duplicated delivery, experiment selection, and bad input.

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use rivulet_api::{ApiSettings, AppState};
use rivulet_core::store::{TraceStore, TrackingStore};
use rivulet_core::tracking::NewExperiment;
use rivulet_store::{Store, StoreSettings, StoreUri};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tower::ServiceExt;

mod codings;

struct Harness {
    state: AppState,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn harness(default_experiment: Option<&str>) -> Harness {
    let mut settings = ApiSettings::default();
    settings.otlp_limits.max_body_bytes = 8 * 1024 * 1024;
    settings.otlp_limits.max_attribute_bytes = 1024 * 1024;
    harness_with(default_experiment, settings).await
}

async fn harness_with(default_experiment: Option<&str>, settings: ApiSettings) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let state = AppState::new(store.clone(), default_experiment.map(str::to_string), settings);
    Harness { state, store, _dir: dir }
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }), ..Default::default() }
}

fn otlp_span(trace: u8, id: u8, parent: Option<u8>, start_ms: u64, end_ms: u64) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("span-{id}"),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: 1_764_000_000_000_000_000 + start_ms * 1_000_000,
        end_time_unix_nano: 1_764_000_000_000_000_000 + end_ms * 1_000_000,
        attributes: vec![string_attribute("input.value", "{\"question\": \"why?\"}")],
        status: Some(Status { code: 1, message: String::new() }),
        ..Default::default()
    }
}

fn export(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![string_attribute("service.name", "svc")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

impl Harness {
    async fn post(&self, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, String, Vec<u8>) {
        let mut request = Request::post("/v1/traces");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = rivulet_api::router(self.state.clone()).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, content_type, response.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    async fn post_proto(&self, experiment: &str, request: &ExportTraceServiceRequest) -> (StatusCode, Vec<u8>) {
        let (status, _, body) = self
            .post(&[("content-type", "application/x-protobuf"), ("x-mlflow-experiment-id", experiment)], request.encode_to_vec())
            .await;
        (status, body)
    }

    async fn experiment(&self, name: &str) -> String {
        let new = NewExperiment { name: name.into(), artifact_location: None, tags: vec![] };
        self.store.create_experiment(new).await.unwrap().to_string()
    }

    async fn trace_count(&self) -> usize {
        let ids: Vec<i64> = (0..20).collect();
        let search = rivulet_core::store::TraceSearch { experiment_ids: ids, max_results: 100, ..Default::default() };
        self.store.search_traces(&search).await.unwrap().items.len()
    }
}

fn rpc_message(body: &[u8]) -> String {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    RpcStatus::decode(body).expect("error bodies are google.rpc.Status").message
}

#[tokio::test]
async fn protobuf_gzip_and_json_are_accepted_in_their_own_encoding() {
    let h = harness(None).await;
    let experiment = h.experiment("e").await;
    let request = export(vec![otlp_span(1, 1, None, 0, 100)]);
    let (status, content_type, body) = h
        .post(
            &[("content-type", "application/x-protobuf"), ("content-encoding", "gzip"), ("x-mlflow-experiment-id", &experiment)],
            gzip(&request.encode_to_vec()),
        )
        .await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/x-protobuf"));
    assert_eq!(ExportTraceServiceResponse::decode(body.as_slice()).unwrap().partial_success, None);

    let json = serde_json::to_vec(&export(vec![otlp_span(2, 1, None, 0, 100)])).unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(text.contains("\"traceId\":\"0202"), "OTLP/JSON uses hex ids: {text}");
    let (status, content_type, body) =
        h.post(&[("content-type", "application/json"), ("x-mlflow-experiment-id", &experiment)], json).await;
    assert_eq!((status, content_type.as_str(), body.as_slice()), (StatusCode::OK, "application/json", b"{}".as_slice()));

    let info = h.store.get_trace_info("tr-02020202020202020202020202020202").await.unwrap();
    assert_eq!(info.tags.get("service.name").map(String::as_str), Some("svc"));
    assert_eq!(info.tags.get("mlflow.trace.spansLocation").map(String::as_str), Some("TRACKING_STORE"));
    assert_eq!(h.trace_count().await, 2);
}

#[tokio::test]
async fn every_content_coding_a_collector_sends_is_accepted() {
    let h = harness(None).await;
    let experiment = h.experiment("codings").await;
    for (index, coding) in codings::CODINGS.into_iter().enumerate() {
        let trace = 160 + index as u8;
        let body = codings::encode(&export(vec![otlp_span(trace, 1, None, 0, 100)]).encode_to_vec(), coding);
        let (status, content_type, response) = h
            .post(&[("content-type", "application/x-protobuf"), ("content-encoding", coding), ("x-mlflow-experiment-id", &experiment)], body)
            .await;
        assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/x-protobuf"), "{coding}: {}", rpc_message(&response));
        let trace_id = format!("tr-{}", format!("{trace:02x}").repeat(16));
        assert!(h.store.get_trace_info(&trace_id).await.is_ok(), "{coding}: {trace_id} stored");
    }
    assert_eq!(h.trace_count().await, codings::CODINGS.len());
}

#[tokio::test]
async fn an_unsupported_content_coding_is_415_naming_the_accepted_ones() {
    let h = harness(None).await;
    let experiment = h.experiment("brotli").await;
    let request = Request::post("/v1/traces")
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "br")
        .header("x-mlflow-experiment-id", &experiment)
        .body(Body::from(export(vec![otlp_span(170, 1, None, 0, 100)]).encode_to_vec()))
        .unwrap();
    let response = rivulet_api::router(h.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let accepted = response.headers().get("accept-encoding").expect("a 415 names the accepted codings").to_str().unwrap().to_string();
    for coding in codings::CODINGS {
        assert!(accepted.split(", ").any(|listed| listed == coding), "{coding} in {accepted}");
    }
    let message = rpc_message(&response.into_body().collect().await.unwrap().to_bytes());
    assert!(message.contains("'br'"), "{message}");
    assert_eq!(h.trace_count().await, 0);
}

#[tokio::test]
async fn split_out_of_order_and_duplicated_delivery_make_one_trace() {
    let h = harness(None).await;
    let experiment = h.experiment("e").await;
    let trace_id = "tr-07070707070707070707070707070707";
    // Children first, the root later, and a Collector retry that re-sends a child.
    assert_eq!(h.post_proto(&experiment, &export(vec![otlp_span(7, 3, Some(2), 30, 40)])).await.0, StatusCode::OK);
    let partial = h.store.get_trace_info(trace_id).await.unwrap();
    assert_eq!(partial.state.as_str(), "IN_PROGRESS");
    assert_eq!(h.post_proto(&experiment, &export(vec![otlp_span(7, 2, Some(1), 20, 50)])).await.0, StatusCode::OK);
    assert_eq!(h.post_proto(&experiment, &export(vec![otlp_span(7, 1, None, 10, 90)])).await.0, StatusCode::OK);
    assert_eq!(h.post_proto(&experiment, &export(vec![otlp_span(7, 3, Some(2), 30, 40)])).await.0, StatusCode::OK);
    let info = h.store.get_trace_info(trace_id).await.unwrap();
    assert_eq!(info.state.as_str(), "OK");
    assert_eq!(info.execution_duration_ms, Some(80));
    assert_eq!(info.span_count, Some(3));
    assert_eq!(info.name.as_deref(), Some("span-1"));
    assert_eq!(info.request_preview.as_deref(), Some("{\"question\": \"why?\"}"));
    let spans = h.store.get_spans(trace_id).await.unwrap();
    assert_eq!(spans.len(), 3, "no duplicate spans");
    assert_eq!(spans[0].parent_span_id, None, "the root comes first");
}

#[tokio::test]
async fn experiment_selection() {
    let h = harness(None).await;
    let request = export(vec![otlp_span(9, 1, None, 0, 10)]);
    let body = request.encode_to_vec();
    let (status, _, error) = h.post(&[("content-type", "application/x-protobuf")], body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = rpc_message(&error);
    assert!(message.contains("x-mlflow-experiment-id") && message.contains("--default-trace-experiment"), "{message}");
    assert_eq!(h.trace_count().await, 0, "nothing is filed into the Default experiment");

    let (status, _, error) = h.post(&[("content-type", "application/x-protobuf"), ("x-mlflow-experiment-id", "424242")], body.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(rpc_message(&error).contains("424242"));
    let (status, _, _) = h.post(&[("content-type", "application/x-protobuf"), ("x-mlflow-experiment-id", "abc")], body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _, _) = h.post(&[("content-type", "application/x-protobuf"), ("x-mlflow-experiment-name", "llamastack-traces")], body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let experiment = h.store.get_experiment_by_name("llamastack-traces").await.unwrap();
    let info = h.store.get_trace_info("tr-09090909090909090909090909090909").await.unwrap();
    assert_eq!(info.experiment_id, experiment.experiment_id);

    let deleted = h.experiment("gone").await;
    h.store.delete_experiment(deleted.parse().unwrap()).await.unwrap();
    let other = export(vec![otlp_span(10, 1, None, 0, 10)]);
    let (status, _) = h.post_proto(&deleted, &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "spans for a deleted experiment are refused");

    let with_default = harness(Some("collector-default")).await;
    let (status, _, _) = with_default.post(&[("content-type", "application/x-protobuf")], body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(with_default.store.get_experiment_by_name("collector-default").await.is_ok());
}

#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let h = harness(None).await;
    let experiment = h.experiment("e").await;
    let good = export(vec![otlp_span(1, 1, None, 0, 10)]);
    assert_eq!(h.post_proto(&experiment, &good).await.0, StatusCode::OK);

    let proto = [("content-type", "application/x-protobuf"), ("x-mlflow-experiment-id", experiment.as_str())];
    let (status, _, body) = h.post(&proto, b"\xff\xff\xff garbage".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rpc_message(&body).contains("protobuf"));
    let truncated = good.encode_to_vec();
    assert_eq!(h.post(&proto, truncated[..truncated.len() - 5].to_vec()).await.0, StatusCode::BAD_REQUEST);
    let (status, content_type, _) = h.post(&[("content-type", "text/plain"), ("x-mlflow-experiment-id", &experiment)], b"x".to_vec()).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::BAD_REQUEST, "application/json"));
    let (status, _, body) = h.post(&[("content-type", "application/json"), ("x-mlflow-experiment-id", &experiment)], b"{\"resourceSpans\": [".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("\"code\":3"));

    let mut short_id = otlp_span(3, 1, None, 0, 10);
    short_id.trace_id = vec![3; 5];
    let (status, body) = h.post_proto(&experiment, &export(vec![short_id.clone()])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rpc_message(&body).contains("trace_id must be 16 bytes"), "{}", rpc_message(&body));

    let mut absurd = otlp_span(4, 1, None, 0, 10);
    absurd.start_time_unix_nano = u64::MAX;
    assert_eq!(h.post_proto(&experiment, &export(vec![absurd])).await.0, StatusCode::BAD_REQUEST);

    let mut huge = otlp_span(5, 1, None, 0, 10);
    huge.attributes.push(string_attribute("big", &"x".repeat(2 * 1024 * 1024)));
    let (status, body) = h.post_proto(&experiment, &export(vec![huge])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rpc_message(&body).contains("larger than"));

    let mut nested = AnyValue { value: Some(any_value::Value::StringValue("leaf".into())) };
    for _ in 0..40 {
        nested = AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![nested] })) };
    }
    let mut deep = otlp_span(6, 1, None, 0, 10);
    deep.attributes.push(KeyValue { key: "deep".into(), value: Some(nested), ..Default::default() });
    assert_eq!(h.post_proto(&experiment, &export(vec![deep])).await.0, StatusCode::BAD_REQUEST);

    let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
    let (status, _, _) = h
        .post(&[("content-type", "application/x-protobuf"), ("content-encoding", "gzip"), ("x-mlflow-experiment-id", &experiment)], bomb)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, body) = h.post(&proto, vec![0u8; 9 * 1024 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(rpc_message(&body).contains("exceeds 8388608 bytes"), "an OTLP status says why: {}", rpc_message(&body));

    // A request mixing good and bad spans stores the good ones and reports the rest.
    let mixed = export(vec![otlp_span(8, 1, None, 0, 10), short_id]);
    let (status, body) = h.post_proto(&experiment, &mixed).await;
    assert_eq!(status, StatusCode::OK);
    let partial = ExportTraceServiceResponse::decode(body.as_slice()).unwrap().partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("trace_id"));

    let (status, _, _) = h.post(&proto, ExportTraceServiceRequest::default().encode_to_vec()).await;
    assert_eq!(status, StatusCode::OK, "an empty export is a success");
    assert_eq!(h.trace_count().await, 2, "only the good traces are stored");
    assert_eq!(h.store.get_spans("tr-01010101010101010101010101010101").await.unwrap().len(), 1);
}

/// A protobuf export whose body arrives from `chunks`, with `length` declared as its size.
fn streamed_export(
    experiment: &str,
    length: usize,
    chunks: impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
) -> Request<Body> {
    Request::post("/v1/traces")
        .header("content-type", "application/x-protobuf")
        .header("content-length", length)
        .header("x-mlflow-experiment-id", experiment)
        .body(Body::from_stream(chunks))
        .unwrap()
}

#[tokio::test]
async fn exports_share_an_in_flight_budget() {
    let h = harness_with(None, ApiSettings { otlp_in_flight_bytes: 64 * 1024, ..ApiSettings::default() }).await;
    let experiment = h.experiment("e").await;

    // Larger than the whole budget: runs alone rather than never.
    let mut big = otlp_span(1, 1, None, 0, 10);
    big.attributes.push(string_attribute("output.value", &"y".repeat(200 * 1024)));
    assert_eq!(h.post_proto(&experiment, &export(vec![big])).await.0, StatusCode::OK);
    assert_eq!(h.state.export_admission.available_bytes(), 64 * 1024, "an answered export gives its room back");

    // With the budget taken, an export waits, then is told to retry; nothing of it is stored.
    let held = h.state.export_admission.admit(usize::MAX).await.unwrap();
    let metrics = rivulet_api::router(h.state.clone()).oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    let metrics = String::from_utf8(metrics.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(metrics.contains("rivulet_otlp_in_flight_bytes 65536\n"), "the held budget shows in /metrics:\n{metrics}");
    let request = Request::post("/v1/traces")
        .header("content-type", "application/x-protobuf")
        .header("x-mlflow-experiment-id", &experiment)
        .body(Body::from(export(vec![otlp_span(2, 1, None, 0, 10)]).encode_to_vec()))
        .unwrap();
    // Meanwhile, with the receive budget taken too, a body waits unread for room, then is read
    // to its end and dropped, so its sender gets the 503 rather than a broken connection.
    let mut receive_room = rivulet_api::otlp::ReceivedBody::default();
    h.state.export_admission.hold_received(&mut receive_room, usize::MAX).await.unwrap();
    let unread = bytes::Bytes::from(export(vec![otlp_span(3, 1, None, 0, 10)]).encode_to_vec());
    let unread_length = unread.len();
    let drained = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let last_chunk_read = drained.clone();
    let halves = [(unread.slice(..unread_length / 2), false), (unread.slice(unread_length / 2..), true)];
    let halves = futures::StreamExt::map(futures::stream::iter(halves), move |(half, last)| {
        last_chunk_read.store(last, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::io::Error>(half)
    });
    let waiting_unread = streamed_export(&experiment, unread_length, halves);
    let (response, unread_response) =
        tokio::join!(rivulet_api::router(h.state.clone()).oneshot(request), rivulet_api::router(h.state.clone()).oneshot(waiting_unread));
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("2"), "the Collector retries 503");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(rpc_message(&body).contains("overloaded"), "{}", rpc_message(&body));
    let unread_response = unread_response.unwrap();
    assert_eq!(unread_response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(drained.load(std::sync::atomic::Ordering::SeqCst), "the refused body was read to its end");
    assert_eq!(h.trace_count().await, 1);
    drop(receive_room);
    assert_eq!(h.state.export_admission.received_bytes(), 0);

    drop(held);
    assert_eq!(h.post_proto(&experiment, &export(vec![otlp_span(2, 1, None, 0, 10)])).await.0, StatusCode::OK);
    assert_eq!(h.trace_count().await, 2);
}

#[tokio::test]
async fn compressed_bodies_wait_within_a_receive_budget() {
    // A 64 KiB decoded budget gives compressed bodies 256 KiB of room.
    let h = harness_with(None, ApiSettings { otlp_in_flight_bytes: 64 * 1024, ..ApiSettings::default() }).await;
    let experiment = h.experiment("e").await;
    let export_of = |trace: u8, value_bytes: usize| {
        let mut span = otlp_span(trace, 1, None, 0, 10);
        span.attributes.push(string_attribute("output.value", &"v".repeat(value_bytes)));
        export(vec![span]).encode_to_vec()
    };
    // Sends `bytes` with its length declared, the first `sent` of them at once and the rest
    // when the returned sender is dropped.
    let post_streamed = |bytes: Vec<u8>, sent: usize| {
        let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
        let length = bytes.len();
        let first = bytes::Bytes::copy_from_slice(&bytes[..sent]);
        let rest = bytes::Bytes::copy_from_slice(&bytes[sent..]);
        let stream = futures::StreamExt::chain(futures::stream::iter([Ok::<_, std::io::Error>(first)]), futures::stream::once(async move {
            let _ = receiver.await;
            Ok(rest)
        }));
        let answer = tokio::spawn(rivulet_api::router(h.state.clone()).oneshot(streamed_export(&experiment, length, stream)));
        (sender, answer)
    };
    let wait_for_received = |bytes: usize| {
        let admission = h.state.export_admission.clone();
        async move {
            for _ in 0..200 {
                if admission.received_bytes() == bytes {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            panic!("received bytes stayed at {} instead of {bytes}", admission.received_bytes());
        }
    };

    // A declared length over the body limit is refused before any of the body is read.
    let request = streamed_export(&experiment, 100 * 1024 * 1024, futures::stream::pending());
    let refused = tokio::time::timeout(std::time::Duration::from_secs(5), rivulet_api::router(h.state.clone()).oneshot(request)).await;
    assert_eq!(refused.expect("answered without waiting for the body").unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h.state.export_admission.received_bytes(), 0);

    // A slow body holds room for all it declared while it arrives.
    let slow = export_of(1, 200 * 1024);
    let slow_length = slow.len();
    let (finish_slow, slow_answer) = post_streamed(slow, 1000);
    wait_for_received(slow_length.div_ceil(1024) * 1024).await;
    let metrics = rivulet_api::router(h.state.clone()).oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    let metrics = String::from_utf8(metrics.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(metrics.contains(&format!("rivulet_otlp_received_bytes {}\n", slow_length.div_ceil(1024) * 1024)), "{metrics}");
    // A small export still fits beside it; one that does not waits for the slow one's room.
    assert_eq!(h.post_proto(&experiment, &export(vec![otlp_span(2, 1, None, 0, 10)])).await.0, StatusCode::OK);
    let whole = export_of(3, 100 * 1024);
    let whole_length = whole.len();
    let (send_rest, waiting) = post_streamed(whole, whole_length);
    drop(send_rest);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "no room: the second large body waits");
    drop(finish_slow);
    assert_eq!(slow_answer.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(waiting.await.unwrap().unwrap().status(), StatusCode::OK);
    wait_for_received(0).await;
    assert_eq!(h.trace_count().await, 3);
}

/// Serves the harness's state over gRPC as the binary does, and connects a client (its clones
/// share one HTTP/2 connection).
async fn grpc_client(h: &Harness) -> TraceServiceClient<tonic::transport::Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = rivulet_api::otlp::grpc::trace_service(h.state.clone());
    tokio::spawn(async move {
        rivulet_api::otlp::grpc::server()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    TraceServiceClient::connect(format!("http://{address}")).await.unwrap()
}

fn grpc_export(experiment: &str, request: ExportTraceServiceRequest) -> tonic::Request<ExportTraceServiceRequest> {
    let mut request = tonic::Request::new(request);
    request.metadata_mut().insert("x-mlflow-experiment-id", experiment.parse().unwrap());
    request
}

#[tokio::test]
async fn grpc_export_uses_the_same_path() {
    let h = harness(None).await;
    let experiment = h.experiment("grpc").await;
    let mut client = grpc_client(&h).await.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let mut request = tonic::Request::new(export(vec![otlp_span(11, 1, None, 0, 10)]));
    request.metadata_mut().insert("x-mlflow-experiment-id", experiment.parse().unwrap());
    let response = client.export(request).await.unwrap().into_inner();
    assert_eq!(response.partial_success, None);
    assert!(h.store.get_trace_info("tr-0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b").await.is_ok());

    let missing = tonic::Request::new(export(vec![otlp_span(12, 1, None, 0, 10)]));
    let status = client.export(missing).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("x-mlflow-experiment-name"));
}

#[tokio::test]
async fn grpc_exports_hold_a_receive_turn_until_admitted() {
    let h = harness(None).await;
    let experiment = h.experiment("grpc-turns").await;
    let client = grpc_client(&h).await;
    let admission = h.state.export_admission.clone();

    // With the budget taken, the first exports take the receive turns and wait for room
    // holding them; the next waits for a turn with its message unread. All are told to retry.
    let held = admission.admit(usize::MAX).await.unwrap();
    let waiting: Vec<_> = (0..3u8)
        .map(|trace| {
            let mut client = client.clone();
            let request = grpc_export(&experiment, export(vec![otlp_span(40 + trace, 1, None, 0, 10)]));
            tokio::spawn(async move { client.export(request).await })
        })
        .collect();
    let started = std::time::Instant::now();
    while admission.receiving_grpc() < 2 {
        assert!(started.elapsed() < std::time::Duration::from_secs(4), "exports take the receive turns while they wait for budget");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let metrics = rivulet_api::router(h.state.clone()).oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    let metrics = String::from_utf8(metrics.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(metrics.contains("rivulet_otlp_grpc_receiving 2\n"), "the held turns show in /metrics:\n{metrics}");
    for export in waiting {
        let status = export.await.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(status.message().contains("overloaded"), "{}", status.message());
    }
    assert_eq!(admission.receiving_grpc(), 0, "turns come back with the answers");
    assert_eq!(h.trace_count().await, 0, "nothing of a refused export is stored");

    drop(held);
    client.clone().export(grpc_export(&experiment, export(vec![otlp_span(40, 1, None, 0, 10)]))).await.unwrap();
    assert_eq!(h.trace_count().await, 1);
}

#[tokio::test]
async fn large_grpc_exports_sharing_a_connection_all_get_through() {
    // Exports larger than HTTP/2's default windows, more of them than there are receive turns,
    // on one connection: the ones waiting for a turn must not hold the connection's window
    // that the turn holders need to finish reading their messages.
    let h = harness(None).await;
    let experiment = h.experiment("grpc-windows").await;
    let client = grpc_client(&h).await;
    let exports: Vec<_> = (0..12u8)
        .map(|trace| {
            let spans = (1..=6u8)
                .map(|id| {
                    let mut span = otlp_span(60 + trace, id, (id > 1).then_some(1), 0, 10);
                    let filler: String = (0..250_000u32).map(|i| char::from(b'a' + ((i * 7 + u32::from(id)) % 26) as u8)).collect();
                    span.attributes.push(string_attribute("output.value", &filler));
                    span
                })
                .collect();
            let mut client = client.clone();
            let request = grpc_export(&experiment, export(spans));
            tokio::spawn(async move { client.export(request).await })
        })
        .collect();
    for export in exports {
        let response = export.await.unwrap().expect("every export is read and stored, none times out waiting");
        assert_eq!(response.into_inner().partial_success, None);
    }
    assert_eq!(h.trace_count().await, 12);
    assert_eq!((h.state.export_admission.receiving_grpc(), h.state.export_admission.in_flight_bytes()), (0, 0));
}

#[tokio::test]
async fn a_grpc_gzip_bomb_is_refused_at_the_body_limit() {
    // 16 MiB of one letter compresses to a few KiB; the harness's body limit is 8 MiB.
    let h = harness(None).await;
    let experiment = h.experiment("grpc-bomb").await;
    let mut client = grpc_client(&h).await.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let mut span = otlp_span(80, 1, None, 0, 10);
    span.attributes.push(string_attribute("output.value", &"a".repeat(16 * 1024 * 1024)));
    let status = client.export(grpc_export(&experiment, export(vec![span]))).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("size limit"), "{}", status.message());
    assert_eq!(h.trace_count().await, 0);
    assert_eq!(h.state.export_admission.receiving_grpc(), 0, "the refused export's turn is free again");
    client.export(grpc_export(&experiment, export(vec![otlp_span(81, 1, None, 0, 10)]))).await.expect("the server still takes exports");
    assert_eq!(h.trace_count().await, 1);
}

#[tokio::test]
async fn grpc_accepts_zstd_and_deflate_and_stops_a_zstd_bomb_at_the_body_limit() {
    use tonic::codec::CompressionEncoding::{Deflate, Zstd};
    let h = harness(None).await;
    let experiment = h.experiment("grpc-zstd").await;
    let mut deflate_client = grpc_client(&h).await.send_compressed(Deflate).accept_compressed(Deflate);
    deflate_client.export(grpc_export(&experiment, export(vec![otlp_span(89, 1, None, 0, 10)]))).await.unwrap();
    assert!(h.store.get_trace_info("tr-59595959595959595959595959595959").await.is_ok());
    let mut client = grpc_client(&h).await.send_compressed(Zstd).accept_compressed(Zstd);
    let response = client.export(grpc_export(&experiment, export(vec![otlp_span(90, 1, None, 0, 10)]))).await.unwrap();
    assert_eq!(response.into_inner().partial_success, None);
    assert!(h.store.get_trace_info("tr-5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a").await.is_ok());

    // 16 MiB of one letter is a few KiB of zstd; the harness's body limit is 8 MiB.
    let mut span = otlp_span(91, 1, None, 0, 10);
    span.attributes.push(string_attribute("output.value", &"a".repeat(16 * 1024 * 1024)));
    let status = client.export(grpc_export(&experiment, export(vec![span]))).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert_eq!(h.trace_count().await, 2);
}
