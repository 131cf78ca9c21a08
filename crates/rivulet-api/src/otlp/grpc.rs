//! OTLP/gRPC `TraceService/Export`: the same ingest path as `/v1/traces`, with the experiment
//! taken from the same headers sent as gRPC metadata.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use rivulet_core::ErrorCode;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::experiment::{ExperimentSelector, EXPERIMENT_ID_HEADER, EXPERIMENT_NAME_HEADER, RUN_ID_HEADER};
use super::{ingest_export, ExportError, ExportTarget};
use crate::AppState;

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
        // tonic has decoded the message already; its encoded size stands for its bytes.
        let request = request.into_inner();
        let admitted = self.state.export_admission.admit(request.encoded_len()).await.map_err(|error| status_of(error.code, error.message))?;
        match ingest_export(&self.state, &target, request, &limits, admitted).await {
            Ok(outcome) => Ok(Response::new(ExportTraceServiceResponse { partial_success: outcome.partial_success() })),
            Err(ExportError::Rejected(message)) => Err(Status::invalid_argument(message)),
            Err(ExportError::Core(error)) => Err(status_of(error.code, error.message)),
        }
    }
}

/// The gRPC service, accepting gzip and bounded by the same body limit as HTTP.
pub fn trace_service(state: AppState) -> TraceServiceServer<OtlpTraceService> {
    let limit = state.settings.otlp_limits.max_body_bytes;
    TraceServiceServer::new(OtlpTraceService { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
