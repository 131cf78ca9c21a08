//! OTLP request bodies: content types, bounded decompression, protobuf and JSON decoding, and
//! conversion of OTLP spans into the domain's spans with per-span validation.

use std::collections::BTreeMap;
use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use prost::Message;
use rivulet_core::traces::conventions::sanitize_attribute;
use rivulet_core::traces::{hex_id, mlflow_trace_id, Span, SpanEvent, SpanLink, StatusCode};
use serde_json::{Map, Value};

/// The two OTLP/HTTP encodings; a response uses the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// A request-level OTLP failure: an HTTP status and a message for `google.rpc.Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpError {
    pub status: u16,
    pub message: String,
}

impl OtlpError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        OtlpError { status: 400, message: message.into() }
    }
}

/// Limits applied to every export request.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest body after decompression (the OTLP spec's default is 64 MiB).
    pub max_body_bytes: usize,
    /// Largest single attribute value, in bytes of its text.
    pub max_attribute_bytes: usize,
    /// Deepest nesting of array/kvlist attribute values.
    pub max_value_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_body_bytes: 64 * 1024 * 1024, max_attribute_bytes: 4 * 1024 * 1024, max_value_depth: 32 }
    }
}

/// Picks the encoding from `Content-Type` (parameters ignored).
pub fn encoding_of(content_type: Option<&str>) -> Result<Encoding, OtlpError> {
    let mime = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        // 400 as MLflow answers (the Collector drops the batch on any 4xx but 429 either way).
        "" => Err(OtlpError::bad_request("Content-Type is missing: send application/x-protobuf or application/json")),
        other => Err(OtlpError {
            status: 400,
            message: format!("unsupported Content-Type '{other}': send application/x-protobuf or application/json"),
        }),
    }
}

/// Reads at most `limit` bytes from a decoder; one byte more means the body is too large, which
/// is found without ever holding more than `limit + 1` bytes (a gzip bomb stops here).
/// Room to reserve for a decompressed body: growing the buffer by doubling cost a tenth of the
/// server's CPU under ingest in reallocations and copies. A hint only: a gzip trailer's size
/// can lie, so the reservation never exceeds the limit or a plausible compression ratio.
fn decompressed_size_hint(body: &[u8], gzip: bool, limit: usize) -> usize {
    const PLAUSIBLE_RATIO: usize = 32;
    let ceiling = limit.saturating_add(1).min(body.len().saturating_mul(PLAUSIBLE_RATIO));
    let stated = match body.len().checked_sub(4) {
        // ISIZE: the last member's uncompressed length mod 2^32, little-endian.
        Some(at) if gzip => u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]) as usize,
        _ => body.len().saturating_mul(4),
    };
    // One byte more than the body, so read_to_end sees the end without growing the buffer.
    stated.saturating_add(1).min(ceiling)
}

fn read_bounded(reader: &mut impl Read, capacity: usize, limit: usize, what: &str) -> Result<Vec<u8>, OtlpError> {
    let mut out = Vec::with_capacity(capacity);
    let read = reader.take(limit as u64 + 1).read_to_end(&mut out);
    match read {
        Ok(_) if out.len() > limit => Err(too_large_decompressed(limit)),
        Ok(_) => Ok(out),
        Err(error) => Err(undecodable(what, error)),
    }
}

fn too_large_decompressed(limit: usize) -> OtlpError {
    OtlpError { status: 413, message: format!("request body exceeds {limit} bytes after decompression") }
}

fn undecodable(what: &str, error: impl std::fmt::Display) -> OtlpError {
    OtlpError::bad_request(format!("cannot decompress the {what} body: {error}"))
}

/// Refuses bytes left after a deflate stream's end: they are not part of any export, and
/// dropping them unread would hide a sender's framing error.
fn ends_with_the_stream(rest: &[u8], what: &str) -> Result<(), OtlpError> {
    match rest.len() {
        0 => Ok(()),
        left => Err(OtlpError::bad_request(format!("{left} bytes follow the end of the {what} stream"))),
    }
}

/// LZ4 frames one after another, read as one stream as the format allows: `FrameDecoder`
/// ends at each frame's end mark, which would drop the frames after the first (and any bytes
/// that are no frame at all) unread.
struct Lz4Frames<'a>(lz4_flex::frame::FrameDecoder<&'a [u8]>);

impl Read for Lz4Frames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // Each round reads a block or starts the next frame, consuming input, or fails.
            let read = self.0.read(buf)?;
            if read > 0 || buf.is_empty() || self.0.get_ref().is_empty() {
                return Ok(read);
            }
        }
    }
}

/// The content codings `decompress` undoes, as a `415` names them in `Accept-Encoding`: every
/// `compression` an OpenTelemetry Collector's HTTP exporter can be set to.
pub const ACCEPTED_CONTENT_ENCODINGS: &str = "gzip, deflate, zlib, zstd, snappy, x-snappy-framed, lz4, identity";

/// The largest zstd window a body may ask for, 32 MiB: what a Collector's zstd encoder uses at
/// its best-compression level (4-16 MiB at the others). libzstd's default, 128 MiB, would let
/// one body make the decoder hold twice the body limit.
const ZSTD_WINDOW_LOG_MAX: u32 = 25;

/// What every snappy framed stream starts with: a stream identifier chunk (type 0xff, length 6)
/// holding "sNaPpY".
const SNAPPY_STREAM_IDENTIFIER: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Undoes `Content-Encoding`. Besides gzip and deflate (zlib-wrapped or raw, as MLflow reads
/// it), the codings a Collector can be set to send: `zlib`, `zstd`, `lz4` (frame format),
/// `snappy` (block format; the framed format, which Collectors before the block format sent
/// under this name, is told by its stream identifier) and `x-snappy-framed`.
pub fn decompress(body: &[u8], content_encoding: Option<&str>, limit: usize) -> Result<Vec<u8>, OtlpError> {
    let encoding = content_encoding.unwrap_or_default().trim().to_ascii_lowercase();
    let capacity = decompressed_size_hint(body, encoding == "gzip" || encoding == "x-gzip", limit);
    match encoding.as_str() {
        "" | "identity" | "none" => {
            if body.len() > limit {
                return Err(OtlpError { status: 413, message: format!("request body exceeds {limit} bytes") });
            }
            Ok(body.to_vec())
        }
        // Every member: RFC 1952 lets a body hold several, and the first alone would be a
        // silently shortened export. Bytes that are no member fail as one.
        "gzip" | "x-gzip" => read_bounded(&mut flate2::bufread::MultiGzDecoder::new(body), capacity, limit, "gzip"),
        "deflate" | "zlib" => {
            let mut zlib = flate2::bufread::ZlibDecoder::new(body);
            match read_bounded(&mut zlib, capacity, limit, &encoding) {
                Ok(bytes) => ends_with_the_stream(zlib.get_ref(), &encoding).map(|()| bytes),
                Err(error) if error.status == 413 => Err(error),
                // Raw deflate, which MLflow also reads under this name.
                Err(_) => {
                    let mut raw = flate2::bufread::DeflateDecoder::new(body);
                    let bytes = read_bounded(&mut raw, capacity, limit, &encoding)?;
                    ends_with_the_stream(raw.get_ref(), &encoding).map(|()| bytes)
                }
            }
        }
        "zstd" => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(|error| undecodable("zstd", error))?;
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|error| undecodable("zstd", error))?;
            read_bounded(&mut decoder, capacity, limit, "zstd")
        }
        "lz4" => read_bounded(&mut Lz4Frames(lz4_flex::frame::FrameDecoder::new(body)), capacity, limit, "lz4"),
        "x-snappy-framed" => read_bounded(&mut snap::read::FrameDecoder::new(body), capacity, limit, "snappy framed"),
        "snappy" if body.starts_with(SNAPPY_STREAM_IDENTIFIER) => {
            read_bounded(&mut snap::read::FrameDecoder::new(body), capacity, limit, "snappy framed")
        }
        "snappy" => {
            // A block states its length up front: checked before anything is allocated for it.
            let stated = snap::raw::decompress_len(body).map_err(|error| undecodable("snappy", error))?;
            if stated > limit {
                return Err(too_large_decompressed(limit));
            }
            snap::raw::Decoder::new().decompress_vec(body).map_err(|error| undecodable("snappy", error))
        }
        // RFC 9110 §15.5.16: an unsupported content coding is 415, with the codings that would
        // have been accepted in `Accept-Encoding` (the HTTP handler adds it).
        other => Err(OtlpError {
            status: 415,
            message: format!("unsupported Content-Encoding '{other}': send one of {ACCEPTED_CONTENT_ENCODINGS}, or no encoding"),
        }),
    }
}

/// Decodes an `ExportTraceServiceRequest` in either encoding.
pub fn decode_request(bytes: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest, OtlpError> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes)
            .map_err(|error| OtlpError::bad_request(format!("invalid OTLP protobuf: {error}"))),
        Encoding::Json => {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(ExportTraceServiceRequest::default());
            }
            serde_json::from_slice(bytes).map_err(|error| OtlpError::bad_request(format!("invalid OTLP JSON: {error}")))
        }
    }
}

/// Spans of a request that passed validation (as `Span`s, or what each was turned into), and
/// why the others did not.
#[derive(Debug)]
pub struct ConvertedSpans<T = Span> {
    pub spans: Vec<T>,
    /// Resource attributes per MLflow trace id, as MLflow turns them into trace tags.
    pub resource_tags: BTreeMap<String, Vec<(String, String)>>,
    pub rejected: Vec<String>,
}

const MAX_TIMESTAMP_NANOS: u64 = 7_258_118_400_000_000_000; // 2200-01-01

fn value_text_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        other => compact_json_len(other),
    }
}

/// The length of `value`'s compact JSON text, counted without writing it: serialising every
/// structured attribute (parsed chat messages, mostly) just to measure it cost about a twelfth
/// of the server's CPU under ingest.
fn compact_json_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(number) => number.to_string().len(),
        Value::String(text) => quoted_len(text),
        Value::Array(items) => 2 + items.len().saturating_sub(1) + items.iter().map(compact_json_len).sum::<usize>(),
        Value::Object(map) => {
            let members: usize = map.iter().map(|(key, item)| quoted_len(key) + 1 + compact_json_len(item)).sum();
            2 + map.len().saturating_sub(1) + members
        }
    }
}

/// A JSON string's length with quotes and escapes: `"` and `\` and the short control escapes
/// take two bytes, other control characters six (`\u00XX`). Counted 64 bytes at a time with
/// branch-free folds the compiler vectorises, skipping the chunks (most, in model text) with
/// nothing to escape: a byte-by-byte `match` made this a fourteenth of the decoding path's CPU
/// (benches/otlp_request.rs).
fn quoted_len(text: &str) -> usize {
    let extra: usize = text
        .as_bytes()
        .chunks(64)
        .map(|chunk| {
            if !chunk.iter().fold(false, |any, &byte| any | (byte < 0x20) | (byte == b'"') | (byte == b'\\')) {
                return 0;
            }
            // At most 5 per byte: a 64-byte chunk's sum fits in a u16.
            let extra = chunk.iter().fold(0u16, |sum, &byte| {
                let control = u16::from(byte < 0x20);
                let short_control = u16::from(matches!(byte, b'\n' | b'\r' | b'\t' | 0x08 | 0x0c));
                let quote_or_backslash = u16::from(byte == b'"' || byte == b'\\');
                sum + control * 5 - short_control * 4 + quote_or_backslash
            });
            usize::from(extra)
        })
        .sum();
    2 + text.len() + extra
}

/// An OTLP AnyValue as a JSON value, taking its strings rather than copying them; strings
/// holding JSON are decoded one layer (MLflow's sanitize step), so `input.value = '{"q":1}'` is
/// stored as the object.
fn any_value(value: AnyValue, depth: usize, limits: &DecodeLimits) -> Result<Value, String> {
    if depth > limits.max_value_depth {
        return Err(format!("attribute value nested deeper than {} levels", limits.max_value_depth));
    }
    Ok(match value.value {
        // A string-table index only means something inside OTLP profiles; spans never use it.
        None | Some(OtlpValue::StringValueStrindex(_)) => Value::Null,
        Some(OtlpValue::StringValue(s)) => sanitize_attribute(Value::String(s)),
        Some(OtlpValue::BoolValue(b)) => Value::Bool(b),
        Some(OtlpValue::IntValue(i)) => Value::from(i),
        Some(OtlpValue::DoubleValue(d)) => serde_json::Number::from_f64(d).map_or_else(|| Value::String(d.to_string()), Value::Number),
        Some(OtlpValue::BytesValue(bytes)) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Some(OtlpValue::ArrayValue(array)) => {
            Value::Array(array.values.into_iter().map(|v| any_value(v, depth + 1, limits)).collect::<Result<_, _>>()?)
        }
        Some(OtlpValue::KvlistValue(list)) => Value::Object(key_values(list.values, depth + 1, limits, Strings::Decoded)?),
    })
}

/// How a top-level string attribute is kept: span and resource attributes have JSON text
/// decoded (MLflow's sanitize step); event and link attributes stay as sent, as MLflow keeps
/// them. Nested strings are decoded either way.
#[derive(Clone, Copy, PartialEq)]
enum Strings {
    Decoded,
    AsSent,
}

fn key_values(values: Vec<KeyValue>, depth: usize, limits: &DecodeLimits, strings: Strings) -> Result<Map<String, Value>, String> {
    let mut map = Map::with_capacity(values.len());
    for kv in values {
        let value = match kv.value {
            Some(AnyValue { value: Some(OtlpValue::StringValue(s)) }) if strings == Strings::AsSent => Value::String(s),
            Some(v) => any_value(v, depth, limits)?,
            None => Value::Null,
        };
        if value_text_len(&value) > limits.max_attribute_bytes {
            return Err(format!(
                "attribute '{}' is larger than {} bytes",
                kv.key.chars().take(100).collect::<String>(),
                limits.max_attribute_bytes
            ));
        }
        map.insert(kv.key, value);
    }
    Ok(map)
}

fn fixed_id<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    let id: [u8; N] = bytes.try_into().map_err(|_| format!("{what} must be {N} bytes, got {}", bytes.len()))?;
    if id.iter().all(|b| *b == 0) {
        return Err(format!("{what} is all zeros"));
    }
    Ok(id)
}

fn attribute_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => rivulet_core::traces::json::python_dumps(other),
    }
}

/// Converts and validates every span of a request, consuming it: its strings move into the
/// spans instead of being copied, and nothing of the decoded request outlives the conversion
/// (an export waiting for its commit holds only its prepared spans). A span with a bad id, an
/// impossible timestamp or an oversized or over-deep attribute is rejected on its own, with
/// the reason.
pub fn convert_request(request: ExportTraceServiceRequest, limits: &DecodeLimits) -> ConvertedSpans {
    convert_request_with(request, limits, |span| span)
}

/// [`convert_request`], passing each valid span through `each` as soon as it is converted: the
/// ingest path prepares spans here, so a large export never holds all its spans as parsed JSON
/// values at once.
pub fn convert_request_with<T>(request: ExportTraceServiceRequest, limits: &DecodeLimits, mut each: impl FnMut(Span) -> T) -> ConvertedSpans<T> {
    let mut converted = ConvertedSpans { spans: Vec::new(), resource_tags: BTreeMap::new(), rejected: Vec::new() };
    for resource_spans in request.resource_spans {
        let resource = match resource_spans.resource.map(|r| key_values(r.attributes, 0, limits, Strings::Decoded)).transpose() {
            Ok(resource) => resource.unwrap_or_default(),
            Err(reason) => {
                let n: usize = resource_spans.scope_spans.iter().map(|s| s.spans.len()).sum();
                converted.rejected.extend(std::iter::repeat_n(format!("resource: {reason}"), n));
                continue;
            }
        };
        let service_name = resource.get("service.name").map(attribute_text);
        let resource_tags: Vec<(String, String)> = resource.iter().map(|(k, v)| (k.clone(), attribute_text(v))).collect();
        for scope_spans in resource_spans.scope_spans {
            for otlp in scope_spans.spans {
                let label_id: Option<[u8; 8]> = otlp.span_id.as_slice().try_into().ok();
                match convert_span(otlp, limits, service_name.clone()) {
                    Ok(span) => {
                        if !resource_tags.is_empty() {
                            let tags = converted.resource_tags.entry(mlflow_trace_id(&span.trace_id)).or_default();
                            if tags.is_empty() {
                                tags.extend(resource_tags.iter().cloned());
                            }
                        }
                        converted.spans.push(each(span));
                    }
                    Err(reason) => {
                        let label = match label_id {
                            Some(id) => hex_id(&id),
                            None => format!("#{}", converted.rejected.len()),
                        };
                        converted.rejected.push(format!("span {label}: {reason}"));
                    }
                }
            }
        }
    }
    converted
}

fn convert_span(
    otlp: opentelemetry_proto::tonic::trace::v1::Span,
    limits: &DecodeLimits,
    service_name: Option<String>,
) -> Result<Span, String> {
    let trace_id = fixed_id::<16>(&otlp.trace_id, "trace_id")?;
    let span_id = fixed_id::<8>(&otlp.span_id, "span_id")?;
    let parent_span_id = if otlp.parent_span_id.is_empty() || otlp.parent_span_id.iter().all(|b| *b == 0) {
        None
    } else {
        Some(fixed_id::<8>(&otlp.parent_span_id, "parent_span_id")?)
    };
    let start = otlp.start_time_unix_nano;
    let end = otlp.end_time_unix_nano;
    if start == 0 || start > MAX_TIMESTAMP_NANOS {
        return Err(format!("start_time_unix_nano {start} is not a plausible time"));
    }
    if end != 0 && (end < start || end > MAX_TIMESTAMP_NANOS) {
        return Err(format!("end_time_unix_nano {end} is before the start or not a plausible time"));
    }
    let attributes = key_values(otlp.attributes, 0, limits, Strings::Decoded)?;
    let events = otlp
        .events
        .into_iter()
        .map(|event| {
            let attributes = key_values(event.attributes, 0, limits, Strings::AsSent)?;
            Ok(SpanEvent { name: event.name, time_unix_nano: event.time_unix_nano, attributes })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let links = otlp
        .links
        .into_iter()
        .filter_map(|link| {
            let trace_id: [u8; 16] = link.trace_id.as_slice().try_into().ok()?;
            let span_id: [u8; 8] = link.span_id.as_slice().try_into().ok()?;
            Some(key_values(link.attributes, 0, limits, Strings::AsSent).map(|attributes| SpanLink { trace_id, span_id, attributes }))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (status_code, status_message) = match otlp.status {
        Some(status) => (status.code, status.message),
        None => (0, String::new()),
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        name: otlp.name,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        status_code: StatusCode::from_otlp(status_code),
        status_message,
        attributes,
        events,
        links,
        service_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn encodings_and_types() {
        assert_eq!(encoding_of(Some("application/x-protobuf")).unwrap(), Encoding::Protobuf);
        assert_eq!(encoding_of(Some("application/json; charset=utf-8")).unwrap(), Encoding::Json);
        assert_eq!(encoding_of(Some("text/plain")).unwrap_err().status, 400);
        assert_eq!(encoding_of(None).unwrap_err().status, 400);
    }

    #[test]
    fn gzip_bomb_is_stopped_at_the_limit() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 50 * 1024 * 1024]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 100 * 1024);
        let error = decompress(&bomb, Some("gzip"), 1024 * 1024).unwrap_err();
        assert_eq!(error.status, 413);
        let error = decompress(b"not gzip", Some("gzip"), 1024).unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(decompress(b"abc", Some("br"), 1024).unwrap_err().status, 415);
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            // Long enough to span several of quoted_len's 64-byte chunks, clean and not.
            "[a-z \"\\\\\\n\\r\\t\u{1}\u{8}\u{c}\u{1f}\u{7f}é🙂]{0,16}".prop_map(Value::from),
            "[a-z ]{0,90}[a-z \"\\\\\\n\u{1}é]{0,3}[a-z ]{0,90}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z\"\u{2}]{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn compact_json_len_counts_what_serde_json_writes(value in any_json()) {
            proptest::prop_assert_eq!(compact_json_len(&value), value.to_string().len());
        }
    }

    #[test]
    fn decompressed_size_hint_trusts_the_gzip_trailer_only_within_bounds() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&b"the refund policy ".repeat(100)).unwrap();
        let body = encoder.finish().unwrap();
        assert_eq!(decompressed_size_hint(&body, true, 1 << 20), 1801, "the stated size, plus one to see the end");
        assert_eq!(decompressed_size_hint(&body, true, 1000), 1001, "never past the limit");
        let mut lying = body.clone();
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decompressed_size_hint(&lying, true, 1 << 30), body.len() * 32, "a lying trailer gets a plausible ratio");
        assert_eq!(decompressed_size_hint(&[], true, 1 << 20), 0);
        assert_eq!(decompress(&body, Some("gzip"), 1 << 20).unwrap().len(), 1800);
    }

    #[test]
    fn span_attributes_are_decoded_and_event_and_link_attributes_kept_as_sent() {
        use opentelemetry_proto::tonic::common::v1::KeyValueList;
        use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span as OtlpSpan, Status};
        let text = |s: &str| Some(AnyValue { value: Some(OtlpValue::StringValue(s.into())) });
        let kv = |key: &str, value: Option<AnyValue>| KeyValue { key: key.into(), value, ..Default::default() };
        let nested = Some(AnyValue {
            value: Some(OtlpValue::KvlistValue(KeyValueList { values: vec![kv("inner", text(r#"{"q":2}"#))] })),
        });
        let otlp = OtlpSpan {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "answer".into(),
            start_time_unix_nano: 1_764_000_000_000_000_000,
            end_time_unix_nano: 1_764_000_000_100_000_000,
            attributes: vec![kv("input.value", text(r#"{"q":1}"#))],
            events: vec![span::Event {
                name: "retry".into(),
                attributes: vec![kv("payload", text(r#"{"q":1}"#)), kv("nested", nested)],
                ..Default::default()
            }],
            links: vec![span::Link { trace_id: vec![3; 16], span_id: vec![4; 8], attributes: vec![kv("why", text("[1]"))], ..Default::default() }],
            status: Some(Status { code: 2, message: "boom".into() }),
            ..Default::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans { scope_spans: vec![ScopeSpans { spans: vec![otlp], ..Default::default() }], ..Default::default() }],
        };
        let converted = convert_request(request, &DecodeLimits::default());
        let span = &converted.spans[0];
        assert_eq!((span.name.as_str(), span.status_message.as_str()), ("answer", "boom"));
        assert_eq!(span.attributes["input.value"], serde_json::json!({"q": 1}), "span attributes holding JSON are decoded");
        let event = &span.events[0].attributes;
        assert_eq!(event["payload"], Value::String(r#"{"q":1}"#.into()), "event attributes stay as sent");
        assert_eq!(event["nested"], serde_json::json!({"inner": {"q": 2}}), "nested strings are decoded either way");
        assert_eq!(span.links[0].attributes["why"], Value::String("[1]".into()));
    }

    #[test]
    fn deflate_accepts_zlib_and_raw() {
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(b"hello").unwrap();
        assert_eq!(decompress(&zlib.finish().unwrap(), Some("deflate"), 100).unwrap(), b"hello");
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(b"hello").unwrap();
        assert_eq!(decompress(&raw.finish().unwrap(), Some("DEFLATE"), 100).unwrap(), b"hello");
    }
}
