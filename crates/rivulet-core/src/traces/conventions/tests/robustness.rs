//! Odd types, huge values and fuzzed attribute sets: translation and digest never panic.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::super::{sanitize_attribute, translate_span};
use super::{event, span_named, translated};
use crate::traces::digest::digest;
use crate::traces::keys;

// ---- Robustness ------------------------------------------------------------------------------

#[test]
fn odd_types_and_huge_values_do_not_panic() {
    let huge = "x".repeat(2_000_000);
    let attrs = translated(
        "odd",
        json!({
            "openinference.span.kind": ["LLM"],
            "gen_ai.operation.name": 42,
            "gen_ai.input.messages": {"not": "a list"},
            "gen_ai.system_instructions": 7,
            "llm.input_messages.18446744073709551615.message.role": "user",
            "llm.input_messages.18446744073709551615.message.content": huge.clone(),
            "llm.input_messages.99999999999999999999999.message.content": "index too big for u64",
            "llm.input_messages.x.message.content": "not an index",
            "llm.input_messages.": "empty",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": {"deep": [[[[1]]]]},
            "gen_ai.completion.0.tool_calls.zz.name": null,
            "llm.token_count.prompt": {"a": 1},
            "gen_ai.usage.input_tokens": [1, 2],
            "gen_ai.tool.definitions": "[1, \"two\", null, {\"nameless\": true}]",
            "llm.tools.0.tool.json_schema": 3,
            "__class__": 5,
            "__method__": ["chat_completion"],
            "__args__": "{'a': [" ,
            "retrieval.documents.0.document.metadata": "[not json",
            "session.id": {"id": 1}
        }),
    );
    assert_eq!(attrs[keys::SPAN_INPUTS]["messages"][0]["content"].as_str().map(str::len), Some(huge.len()));
    assert_eq!(
        attrs[keys::SPAN_OUTPUTS]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        json!("{\"deep\":[[[[1]]]]}")
    );
    assert!(!attrs.contains_key(keys::CHAT_TOOLS));
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        Just(json!("{\"role\": \"user\", \"content\": \"x\"}")),
        Just(json!("[{\"role\": \"assistant\", \"parts\": [{\"type\": \"text\", \"content\": \"y\"}]}]")),
        Just(json!("{'a': [1, (2,), {3}], 'b': b'\\x00'}")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FUZZED_KEYS: &[&str] = &[
    "openinference.span.kind",
    "input.value",
    "output.value",
    "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.content",
    "llm.input_messages.1.message.contents.0.message_content.text",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    "retrieval.documents.0.document.metadata",
    "retrieval.documents.0.document.content",
    "llm.token_count.prompt",
    "llm.tools.0.tool.json_schema",
    "gen_ai.operation.name",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.usage.input_tokens",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.0.tool_calls.0.arguments",
    "llm.request.functions.0.parameters",
    "traceloop.entity.input",
    "__class__",
    "__method__",
    "__args__",
    "output",
    "input",
    "llama_stack.safety.request.shield_id",
    "llama_stack.safety.request.messages",
    "mlflow.spanType",
    "mlflow.spanInputs",
    "mlflow.spanOutputs",
    "mlflow.chat.tokenUsage",
    "mlflow.traceTag.x",
    "session.id",
    "user.id",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn translation_and_digest_never_panic(
        values in prop::collection::vec((0..FUZZED_KEYS.len(), any_json()), 0..12),
        event_values in prop::collection::vec(any_json(), 0..3),
        root in any::<bool>(),
    ) {
        let mut span = span_named("fuzz", json!({}));
        for (key_index, value) in values {
            span.attributes.insert(FUZZED_KEYS[key_index].to_string(), sanitize_attribute(value));
        }
        let names = ["gen_ai.choice", "gen_ai.user.message", "metric.prompt_tokens"];
        span.events = event_values
            .into_iter()
            .enumerate()
            .map(|(i, attributes)| event(names[i % names.len()], attributes))
            .collect();
        if root {
            span.parent_span_id = None;
        }
        translate_span(&mut span);
        let once = span.clone();
        // Translating twice adds nothing new: everything derived is now "set by the sender".
        translate_span(&mut span);
        prop_assert_eq!(&once, &span);
        let digest = digest(&span);
        for preview in [digest.request_preview, digest.response_preview].into_iter().flatten() {
            prop_assert!(preview.text.chars().count() <= 1000);
            prop_assert!(!preview.text.is_empty());
        }
    }
}
