//! OTLP/gRPC `TraceService/Export`: the same ingest path as `/v1/traces`, with the experiment
//! taken from the same headers sent as gRPC metadata.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use rivulet_core::ErrorCode;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::experiment::{ExperimentSelector, EXPERIMENT_ID_HEADER, EXPERIMENT_NAME_HEADER, RUN_ID_HEADER};
use super::admission::{ExportAdmission, ReceiveTurn};
use super::{ingest_export, ExportError, ExportTarget};
use crate::AppState;

/// Longest an export may hold its receive turn: reading, decompressing and decoding its message,
/// then waiting for budget. A sender that trickles its message is cut off here, so it cannot
/// keep other gRPC exports from being read.
const RECEIVE_DEADLINE: Duration = Duration::from_secs(30);

pub struct OtlpTraceService {
    state: AppState,
}

fn metadata_text(request: &Request<ExportTraceServiceRequest>, name: &str) -> Option<String> {
    request.metadata().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn status_of(code: ErrorCode, message: String) -> Status {
    match code {
        ErrorCode::InvalidParameterValue | ErrorCode::BadRequest | ErrorCode::InvalidState => Status::invalid_argument(message),
        ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => Status::not_found(message),
        ErrorCode::ResourceAlreadyExists => Status::already_exists(message),
        ErrorCode::PermissionDenied => Status::permission_denied(message),
        ErrorCode::Unauthenticated => Status::unauthenticated(message),
        ErrorCode::ResourceExhausted | ErrorCode::RequestLimitExceeded => Status::resource_exhausted(message),
        ErrorCode::TemporarilyUnavailable => Status::unavailable(message),
        ErrorCode::NotImplemented => Status::unimplemented(message),
        ErrorCode::InternalError => Status::internal(message),
    }
}

#[tonic::async_trait]
impl TraceService for OtlpTraceService {
    async fn export(&self, request: Request<ExportTraceServiceRequest>) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let target = ExportTarget {
            selector: ExperimentSelector {
                experiment_id: metadata_text(&request, EXPERIMENT_ID_HEADER),
                experiment_name: metadata_text(&request, EXPERIMENT_NAME_HEADER),
            },
            run_id: metadata_text(&request, RUN_ID_HEADER).filter(|r| !r.is_empty()),
        };
        let limits = self.state.settings.otlp_limits;
        let turn = request.extensions().get::<HeldTurn>().cloned();
        // tonic has decoded the message already; its encoded size stands for its bytes.
        let request = request.into_inner();
        let admitted = self.state.export_admission.admit(request.encoded_len()).await.map_err(|error| status_of(error.code, error.message))?;
        if let Some(turn) = turn {
            turn.give_back();
        }
        match ingest_export(&self.state, &target, request, &limits, admitted).await {
            Ok(outcome) => Ok(Response::new(ExportTraceServiceResponse { partial_success: outcome.partial_success() })),
            Err(ExportError::Rejected(message)) => Err(Status::invalid_argument(message)),
            Err(ExportError::Core(error)) => Err(status_of(error.code, error.message)),
        }
    }
}

/// The gRPC service, accepting gzip, zstd (a Collector's settings) and deflate (the OpenTelemetry
/// SDKs' other setting), bounded by the same body limit as HTTP, with a receive turn taken
/// before each message is read. (A Collector's gRPC exporter can also send snappy, which tonic
/// does not read; its HTTP exporter's snappy is accepted on `/v1/traces`.)
pub fn trace_service(state: AppState) -> Around<TraceServiceServer<OtlpTraceService>, ReceiveTurns> {
    let limit = state.settings.otlp_limits.max_body_bytes;
    let admission = state.export_admission.clone();
    let service = TraceServiceServer::new(OtlpTraceService { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Deflate)
        .send_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    Around::new(service, ReceiveTurns { admission, deadline: RECEIVE_DEADLINE })
}

/// A receive turn as the handler finds it in the request's extensions (which must be `Clone`):
/// the handler gives it back once its export is admitted; dropping the request gives it back too.
#[derive(Clone)]
struct HeldTurn(Arc<Mutex<Option<Holding>>>);

/// The turn, and the sender whose drop tells `ReceiveTurns` that it was given back.
struct Holding {
    _turn: ReceiveTurn,
    _given_back: tokio::sync::oneshot::Sender<()>,
}

impl HeldTurn {
    fn give_back(&self) {
        // Dropping the sender tells `ReceiveTurns` that the export no longer holds a turn.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    }
}

/// A step a gRPC call takes around its service, such as authentication or a receive turn: it
/// gets the request and the service that was polled ready, and answers for both.
pub trait AroundCall<S: tower::Service<axum::http::Request<B>>, B>: Clone {
    fn around(&self, request: axum::http::Request<B>, inner: S) -> BoxFuture<'static, Result<S::Response, S::Error>>;
}

/// A gRPC service with a step around each call; tonic serves it under the service's name.
#[derive(Clone)]
pub struct Around<S, A> {
    inner: S,
    step: A,
}

impl<S, A> Around<S, A> {
    pub fn new(inner: S, step: A) -> Around<S, A> {
        Around { inner, step }
    }
}

impl<S: tonic::server::NamedService, A> tonic::server::NamedService for Around<S, A> {
    const NAME: &'static str = S::NAME;
}

impl<S, A, B> tower::Service<axum::http::Request<B>> for Around<S, A>
where
    S: tower::Service<axum::http::Request<B>> + Clone,
    A: AroundCall<S, B>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        // The clone takes the place of the service that was polled ready, which serves this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        self.step.around(request, inner)
    }
}

/// Takes a receive turn for each export before tonic reads its message, and answers
/// `UNAVAILABLE` (which exporters retry) when none comes free in time or a turn is held past
/// its deadline ([`RECEIVE_DEADLINE`]).
#[derive(Clone)]
pub struct ReceiveTurns {
    admission: Arc<ExportAdmission>,
    deadline: Duration,
}

impl<S, B> AroundCall<S, B> for ReceiveTurns
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<tonic::body::Body>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    fn around(&self, mut request: axum::http::Request<B>, mut inner: S) -> BoxFuture<'static, Result<S::Response, S::Error>> {
        let (admission, deadline) = (self.admission.clone(), self.deadline);
        Box::pin(async move {
            let turn = match admission.start_receiving_grpc().await {
                Ok(turn) => turn,
                Err(error) => return Ok(status_of(error.code, error.message).into_http()),
            };
            let (given_back, turn_returned) = tokio::sync::oneshot::channel();
            request.extensions_mut().insert(HeldTurn(Arc::new(Mutex::new(Some(Holding { _turn: turn, _given_back: given_back })))));
            let call = inner.call(request);
            tokio::pin!(call);
            tokio::select! {
                response = &mut call => return response,
                _ = turn_returned => {}
                _ = tokio::time::sleep(deadline) => {
                    tracing::info!(seconds = deadline.as_secs_f64(), "a gRPC export was not received and admitted in time; dropped it");
                    return Ok(Status::unavailable(format!(
                        "the export was not received and admitted within {} s; retry later",
                        deadline.as_secs_f64()
                    ))
                    .into_http());
                }
            }
            call.await
        })
    }
}

/// The gRPC server for [`trace_service`]. Its HTTP/2 windows are sized so that streams waiting
/// for a receive turn cannot starve the ones holding one: a waiting stream's unread data stays
/// in the connection's window, and with the defaults (1 MiB for both) a single waiting export
/// stalled every other export on its connection until it timed out. Here each open stream may
/// hold at most its own window, and the connection's window has room for all of them and one more.
pub fn server() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .initial_stream_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(STREAM_WINDOW_BYTES * (MAX_STREAMS_PER_CONNECTION + 1))
}

/// Exports one connection may have in flight; a client queues the rest itself.
const MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Bytes a stream may send before the server reads them. 256 KiB moved 8,000-span exports as
/// fast as 1 MiB on a local link; the connection's window is then 16.25 MiB.
const STREAM_WINDOW_BYTES: u32 = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Service, ServiceExt};

    type Inner = tower::util::BoxCloneService<axum::http::Request<()>, axum::http::Response<tonic::body::Body>, std::convert::Infallible>;

    fn turns(inner: Inner) -> Around<Inner, ReceiveTurns> {
        Around::new(inner, ReceiveTurns { admission: Arc::new(ExportAdmission::new(1 << 20)), deadline: Duration::from_millis(50) })
    }

    fn grpc_status(response: &axum::http::Response<tonic::body::Body>) -> Option<&str> {
        response.headers().get("grpc-status").map(|value| value.to_str().unwrap())
    }

    #[tokio::test]
    async fn an_export_holding_its_turn_past_the_deadline_is_unavailable_and_gives_the_turn_back() {
        // Stands for a sender that never finishes its message: the turn is never given back.
        let stalled = tower::service_fn(|request: axum::http::Request<()>| async move {
            let _reading = request;
            std::future::pending::<()>().await;
            Ok::<_, std::convert::Infallible>(axum::http::Response::new(tonic::body::Body::empty()))
        });
        let mut service = turns(tower::util::BoxCloneService::new(stalled));
        let response = service.ready().await.unwrap().call(axum::http::Request::new(())).await.unwrap();
        assert_eq!(grpc_status(&response), Some("14"), "UNAVAILABLE, which exporters retry");
        assert_eq!(service.step.admission.receiving_grpc(), 0, "the dropped export's turn is free again");
    }

    #[tokio::test]
    async fn an_admitted_export_is_not_held_to_the_deadline() {
        // Gives the turn back as the handler does once admitted, then takes longer than the
        // deadline (as a commit may) before answering.
        let admitted = tower::service_fn(|request: axum::http::Request<()>| async move {
            request.extensions().get::<HeldTurn>().expect("the turn travels with the request").give_back();
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok::<_, std::convert::Infallible>(axum::http::Response::new(tonic::body::Body::empty()))
        });
        let mut service = turns(tower::util::BoxCloneService::new(admitted));
        let admission = service.step.admission.clone();
        let call = service.ready().await.unwrap().call(axum::http::Request::new(()));
        let response = call.await.unwrap();
        assert_eq!(grpc_status(&response), None, "answered by the service, not cut off");
        assert_eq!(admission.receiving_grpc(), 0);
    }
}
