//! `POST /v1/traces`: OTLP/HTTP with protobuf or JSON, in any content coding a Collector sends;
//! answers in the request's encoding, errors as `google.rpc.Status`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::admission::{ExportAdmission, ReceivedBody};
use super::decode::{decode_request, decompress, encoding_of, Encoding, OtlpError, ACCEPTED_CONTENT_ENCODINGS};
use super::experiment::{ExperimentSelector, EXPERIMENT_ID_HEADER, EXPERIMENT_NAME_HEADER, RUN_ID_HEADER};
use super::{ingest_export, ExportError, ExportTarget};
use crate::AppState;

/// `google.rpc.Status`, the body of OTLP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC code names for an HTTP status, as `google.rpc.Status.code` carries them.
fn rpc_code(status: u16) -> i32 {
    match status {
        400 | 415 => 3,  // INVALID_ARGUMENT
        401 => 16,       // UNAUTHENTICATED
        403 => 7,        // PERMISSION_DENIED
        404 => 5,        // NOT_FOUND
        413 | 429 => 8,  // RESOURCE_EXHAUSTED
        503 => 14,       // UNAVAILABLE
        _ => 13,         // INTERNAL
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn error_response(encoding: Encoding, status: u16, message: &str) -> Response {
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if status >= 500 {
        tracing::warn!(status, message, "OTLP export failed");
    } else {
        tracing::info!(status, message, "OTLP export refused");
    }
    let rpc = RpcStatus { code: rpc_code(status), message: message.to_string() };
    let body = match encoding {
        Encoding::Protobuf => rpc.encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": rpc.code, "message": rpc.message}).to_string().into_bytes(),
    };
    let mut response = (status_code, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    if status == 503 || status == 429 {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    // The one 415 is an unsupported content coding (RFC 9110 §15.5.16).
    if status == 415 {
        response.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static(ACCEPTED_CONTENT_ENCODINGS));
    }
    response
}

/// A body that could not be read: too large (413), or the connection failed (400).
fn body_error(encoding: Encoding, error: &(dyn std::error::Error + 'static), limit: usize) -> Response {
    let mut cause = Some(error);
    let mut too_large = false;
    while let Some(error) = cause {
        too_large |= error.is::<http_body_util::LengthLimitError>();
        cause = error.source();
    }
    if too_large {
        too_large_response(encoding, limit)
    } else {
        error_response(encoding, 400, &format!("cannot read the request body: {error}"))
    }
}

fn too_large_response(encoding: Encoding, limit: usize) -> Response {
    error_response(encoding, 413, &format!("request body exceeds {limit} bytes"))
}

/// Reads an export's body, at most `limit` bytes, holding room in the receive budget for what
/// has arrived (all of a declared `Content-Length` before reading any of it).
async fn receive_body(admission: &ExportAdmission, headers: &HeaderMap, body: Body, limit: usize, encoding: Encoding) -> Result<(Bytes, ReceivedBody), Response> {
    let declared = header_text(headers, header::CONTENT_LENGTH.as_str()).and_then(|length| length.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large_response(encoding, limit));
    }
    let mut body = http_body_util::Limited::new(body, limit);
    let mut received = ReceivedBody::default();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut length = 0;
    let mut room = match declared {
        Some(length) => admission.hold_received(&mut received, length).await,
        None => Ok(()),
    };
    while room.is_ok() {
        let Some(frame) = body.frame().await else { break };
        let frame = frame.map_err(|error| body_error(encoding, error.as_ref(), limit))?;
        if let Ok(chunk) = frame.into_data() {
            length += chunk.len();
            room = admission.hold_received(&mut received, length).await;
            chunks.push(chunk);
        }
    }
    if let Err(error) = room {
        // No room in time. The rest of the body is read and dropped before answering, so the
        // sender, still writing it, gets the 503 to retry rather than a broken connection.
        drop((chunks, received));
        while let Some(Ok(_)) = body.frame().await {}
        return Err(error_response(encoding, error.code.http_status(), &error.message));
    }
    // Most bodies arrive as one chunk, which is kept as it is.
    let body = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut joined = BytesMut::with_capacity(length);
            for chunk in chunks {
                joined.extend_from_slice(&chunk);
            }
            joined.freeze()
        }
    };
    Ok((body, received))
}

pub async fn export_traces(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let content_type = header_text(&headers, header::CONTENT_TYPE.as_str());
    let encoding = match encoding_of(content_type.as_deref()) {
        Ok(encoding) => encoding,
        Err(error) => return error_response(Encoding::Json, error.status, &error.message),
    };
    let limits = state.settings.otlp_limits;
    let (body, received) = match receive_body(&state.export_admission, &headers, body, limits.max_body_bytes, encoding).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    // Only a few exports decompress at a time, and keep their turn until they have room in the
    // budget: the others wait holding their compressed bodies alone (see `ExportAdmission`).
    // The turn is taken after the body has arrived, so a slow sender holds nothing but its room
    // in the receive budget.
    let turn = match state.export_admission.start_decompressing().await {
        Ok(turn) => turn,
        Err(error) => return error_response(encoding, error.code.http_status(), &error.message),
    };
    let bytes = decompress(&body, header_text(&headers, header::CONTENT_ENCODING.as_str()).as_deref(), limits.max_body_bytes);
    drop((body, received));
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(OtlpError { status, message }) => return error_response(encoding, status, &message),
    };
    // Room is taken before decoding: a decoded request is several times its bytes, and exports
    // waiting for room should hold no more than those bytes.
    let admitted = match state.export_admission.admit(bytes.len()).await {
        Ok(admitted) => admitted,
        Err(error) => return error_response(encoding, error.code.http_status(), &error.message),
    };
    drop(turn);
    let decoded = decode_request(&bytes, encoding);
    drop(bytes);
    let request = match decoded {
        Ok(request) => request,
        Err(OtlpError { status, message }) => return error_response(encoding, status, &message),
    };
    let target = ExportTarget {
        selector: ExperimentSelector {
            experiment_id: header_text(&headers, EXPERIMENT_ID_HEADER),
            experiment_name: header_text(&headers, EXPERIMENT_NAME_HEADER),
        },
        run_id: header_text(&headers, RUN_ID_HEADER).filter(|r| !r.is_empty()),
    };
    match ingest_export(&state, &target, request, &limits, admitted).await {
        Ok(outcome) => {
            let response = ExportTraceServiceResponse { partial_success: outcome.partial_success() };
            let body = match encoding {
                Encoding::Protobuf => response.encode_to_vec(),
                // An unset partial_success is omitted, not written as null.
                Encoding::Json => match &response.partial_success {
                    None => b"{}".to_vec(),
                    Some(_) => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
                },
            };
            let mut http = (StatusCode::OK, body).into_response();
            http.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
            http
        }
        Err(ExportError::Rejected(message)) => error_response(encoding, 400, &message),
        Err(ExportError::Core(error)) => error_response(encoding, error.code.http_status(), &error.message),
    }
}
