//! Property tests for the OTLP decoders: arbitrary bytes, arbitrary JSON and arbitrary spans
//! never panic, and every span that is accepted satisfies the invariants the store relies on.
//! Case counts are fixed, so the run is bounded (raise PROPTEST_CASES to search longer).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;
use prost::Message;
use rivulet_api::otlp::decode::{convert_request, decode_request, decompress, DecodeLimits, Encoding};
use rivulet_core::traces::prepare::prepare_span;

mod codings;
use codings::{encode, CODINGS};

fn limits() -> DecodeLimits {
    DecodeLimits { max_body_bytes: 1 << 20, max_attribute_bytes: 4096, max_value_depth: 8 }
}

fn any_value_strategy() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        any::<String>().prop_map(any_value::Value::StringValue),
        any::<bool>().prop_map(any_value::Value::BoolValue),
        any::<i64>().prop_map(any_value::Value::IntValue),
        any::<f64>().prop_map(any_value::Value::DoubleValue),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(any_value::Value::BytesValue),
        Just("{\"role\": \"user\", \"content\": \"hi\"}".to_string()).prop_map(any_value::Value::StringValue),
        Just("[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"ok\"}]}]".to_string()).prop_map(any_value::Value::StringValue),
    ]
    .prop_map(|value| AnyValue { value: Some(value) });
    leaf.prop_recursive(12, 64, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|values| AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values })) }),
            proptest::collection::vec(("[a-z.]{1,12}", inner), 0..4).prop_map(|pairs| AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: pairs.into_iter().map(|(key, value)| KeyValue { key, value: Some(value), ..Default::default() }).collect(),
                })),
            }),
        ]
    })
}

fn attribute_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("gen_ai.operation.name".to_string()),
        Just("gen_ai.input.messages".to_string()),
        Just("gen_ai.usage.input_tokens".to_string()),
        Just("openinference.span.kind".to_string()),
        Just("input.value".to_string()),
        Just("llm.input_messages.0.message.content".to_string()),
        Just("mlflow.spanType".to_string()),
        Just("session.id".to_string()),
        "[a-z._]{1,20}",
    ]
}

fn span_strategy() -> impl Strategy<Value = Span> {
    (
        proptest::collection::vec(any::<u8>(), 0..20),
        proptest::collection::vec(any::<u8>(), 0..10),
        proptest::collection::vec(any::<u8>(), 0..10),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec((attribute_key(), any_value_strategy()), 0..6),
        any::<String>(),
    )
        .prop_map(|(trace_id, span_id, parent_span_id, start, end, attributes, name)| Span {
            trace_id,
            span_id,
            parent_span_id,
            name,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: attributes.into_iter().map(|(key, value)| KeyValue { key, value: Some(value), ..Default::default() }).collect(),
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            if let Ok(request) = decode_request(&bytes, encoding) {
                let _ = convert_request(request, &limits());
            }
        }
        for content_encoding in CODINGS {
            let _ = decompress(&bytes, Some(content_encoding), 1 << 16);
        }
    }

    /// A valid stream with one byte changed gets past each decoder's header checks, where
    /// arbitrary bytes rarely do: it is refused or decoded, within the limit, never a panic.
    #[test]
    fn corrupted_compressed_bodies_never_panic(
        body in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b' '), any::<u8>()], 1..4096),
        coding in 0..CODINGS.len(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let coding = CODINGS[coding];
        let mut encoded = encode(&body, coding);
        let at = at.index(encoded.len());
        encoded[at] = byte;
        if let Ok(decoded) = decompress(&encoded, Some(coding), 1 << 16) {
            prop_assert!(decoded.len() <= 1 << 16);
        }
    }

    #[test]
    fn arbitrary_json_text_never_panics(text in ".{0,512}") {
        if let Ok(request) = decode_request(text.as_bytes(), Encoding::Json) {
            let _ = convert_request(request, &limits());
        }
    }

    #[test]
    fn accepted_spans_satisfy_store_invariants(spans in proptest::collection::vec(span_strategy(), 0..6)) {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans { scope_spans: vec![ScopeSpans { spans: spans.clone(), ..Default::default() }], ..Default::default() }],
        };
        // The protobuf round trip must give the same result as the decoded message.
        let decoded = decode_request(&request.encode_to_vec(), Encoding::Protobuf).unwrap();
        prop_assert_eq!(&decoded, &request);
        let converted = convert_request(decoded, &limits());
        prop_assert_eq!(converted.spans.len() + converted.rejected.len(), spans.len());
        for span in converted.spans {
            prop_assert!(span.start_time_unix_nano > 0);
            prop_assert!(span.end_time_unix_nano == 0 || span.end_time_unix_nano >= span.start_time_unix_nano);
            let prepared = prepare_span(span);
            prop_assert_eq!(prepared.trace_id.len(), 35);
            prop_assert_eq!(prepared.span_id.len(), 16);
            prop_assert!(prepared.start_time_unix_nano >= 0);
            let content: serde_json::Value = serde_json::from_str(&prepared.content).unwrap();
            prop_assert!(content["attributes"].is_object());
            if let Some(preview) = &prepared.digest.request_preview {
                prop_assert!(preview.text.chars().count() <= 1000);
            }
        }
    }
}
