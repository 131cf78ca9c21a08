//! Tests for the span digest and the preview rule.

use serde_json::{json, Map, Value};

use super::{digest, preview_text, PreviewRole, RANK_CHAT_MODEL, RANK_OTHER, RANK_ROOT};
use crate::traces::{Span, StatusCode, TokenUsage};

fn span(parent: Option<[u8; 8]>, attributes: Value) -> Span {
    Span {
        trace_id: [1; 16],
        span_id: [2; 8],
        parent_span_id: parent,
        name: "s".into(),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        attributes: attributes.as_object().cloned().unwrap_or_else(Map::new),
        events: Vec::new(),
        links: Vec::new(),
        service_name: None,
    }
}

const CHILD: Option<[u8; 8]> = Some([9; 8]);

fn request(value: Value) -> String {
    preview_text(&value, PreviewRole::Request)
}

fn response(value: Value) -> String {
    preview_text(&value, PreviewRole::Response)
}

// ---- preview_text ----------------------------------------------------------------------------

#[test]
fn openai_chat_request_and_completion() {
    let messages = json!({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "image_url", "image_url": {"url": "u"}}]}
    ]});
    assert_eq!(request(messages), "second");
    let completion = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "answer"}}, {"index": 1, "message": {"role": "assistant", "content": "other"}}]});
    assert_eq!(response(completion), "answer");
    assert_eq!(response(json!({"choices": [{"text": "completed", "index": 0}]})), "completed");
}

#[test]
fn responses_api_input_and_output_lists() {
    assert_eq!(
        request(
            json!({"model": "gpt-4o", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hey"}]}]})
        ),
        "hey"
    );
    assert_eq!(request(json!({"model": "gpt-4o", "input": "bare string"})), "bare string");
    let output = json!({"output": [
        {"type": "function_call", "name": "f", "arguments": "{}"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done", "annotations": []}]}
    ]});
    assert_eq!(response(output), "done");
}

#[test]
fn request_wrapper_and_other_shapes() {
    assert_eq!(request(json!({"request": {"messages": [{"role": "user", "content": "wrapped"}]}})), "wrapped");
    // GenAI semconv parts-style lists.
    let genai = json!([
        {"role": "system", "parts": [{"type": "text", "content": "sys"}]},
        {"role": "user", "parts": [{"type": "text", "content": "ping"}, {"type": "blob", "mime_type": "image/png"}]}
    ]);
    assert_eq!(request(genai), "ping");
    assert_eq!(
        response(
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "pong"}], "finish_reason": "stop"}])
        ),
        "pong"
    );
    // Gemini, Anthropic, LangChain, LLaMA Stack.
    assert_eq!(request(json!({"contents": [{"role": "user", "parts": [{"text": "g-in"}]}]})), "g-in");
    assert_eq!(
        response(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "g-out"}]}}]})),
        "g-out"
    );
    assert_eq!(
        response(
            json!({"role": "assistant", "content": [{"type": "text", "text": "claude"}], "stop_reason": "end_turn"})
        ),
        "claude"
    );
    assert_eq!(request(json!({"messages": [{"type": "human", "content": "lc"}]})), "lc");
    assert_eq!(
        response(
            json!({"completion_message": {"role": "assistant", "content": "llama", "stop_reason": "end_of_turn"}})
        ),
        "llama"
    );
}

#[test]
fn non_chat_values_are_json_text() {
    // A plain string output appears JSON-quoted, as in MLflow.
    assert_eq!(response(json!("answer text")), "\"answer text\"");
    assert_eq!(request(json!({"x": 3, "y": [1, 2.5]})), "{\"x\": 3, \"y\": [1, 2.5]}");
    assert_eq!(request(json!(42)), "42");
    // A conversation without the wanted role, or with no text in it, falls back to JSON too.
    let tool_calls_only =
        json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [{"id": "c"}]}}]});
    assert_eq!(response(tool_calls_only.clone()), super::python_dumps(&tool_calls_only));
    assert_eq!(
        request(json!({"messages": [{"role": "system", "content": "only system"}]})),
        "{\"messages\": [{\"role\": \"system\", \"content\": \"only system\"}]}"
    );
}

#[test]
fn previews_are_truncated_to_1000_characters() {
    let long = "é".repeat(1500);
    let text = request(json!({"messages": [{"role": "user", "content": long}]}));
    assert_eq!(text.chars().count(), 1000);
    assert!(text.ends_with("..."));
    assert_eq!(text.chars().filter(|c| *c == 'é').count(), 997);
    let exact = "a".repeat(1000);
    assert_eq!(request(json!({"messages": [{"role": "user", "content": exact.clone()}]})), exact);
    assert_eq!(request(json!("b".repeat(5000))).chars().count(), 1000);
}

/// A value that is no conversation previews as the head of its JSON text, written only as far
/// as the preview needs, and is the same as cutting the whole text.
#[test]
fn large_values_preview_as_the_head_of_their_text() {
    let whole_cut = |value: &serde_json::Value| {
        let text = crate::traces::json::python_dumps(value);
        match text.char_indices().nth(1000) {
            None => text,
            Some(_) => format!("{}...", text.chars().take(997).collect::<String>()),
        }
    };
    let documents: Vec<serde_json::Value> =
        (0..2_000).map(|n| json!({"id": n, "text": format!("€ document {n} \"quoted\"\n").repeat(20)})).collect();
    // Dumps text of exactly 1000 and 1001 characters: `["` + n chars + `"]`, multibyte or not.
    let sized = |n: usize, c: char| json!([c.to_string().repeat(n - 4)]);
    for value in [json!(documents), sized(1000, 'é'), sized(1001, 'é'), sized(1000, 'a'), sized(1001, '€'), json!({"k": "\u{1}".repeat(900)})] {
        assert_eq!(request(value.clone()), whole_cut(&value));
    }
}

// ---- digest ----------------------------------------------------------------------------------

#[test]
fn root_span_previews_rank_highest() {
    let root = span(
        None,
        json!({"mlflow.spanType": "CHAIN", "mlflow.spanInputs": {"question": "q"}, "mlflow.spanOutputs": "a"}),
    );
    let digest = digest(&root);
    assert_eq!(digest.request_preview.map(|p| (p.rank, p.text)), Some((RANK_ROOT, "{\"question\": \"q\"}".into())));
    assert_eq!(digest.response_preview.map(|p| (p.rank, p.text)), Some((RANK_ROOT, "\"a\"".into())));
}

#[test]
fn chat_model_spans_rank_above_other_spans() {
    let chat = json!({"messages": [{"role": "user", "content": "hi"}]});
    let llm = digest(&span(CHILD, json!({"mlflow.spanType": "CHAT_MODEL", "mlflow.spanInputs": chat.clone()})));
    assert_eq!(llm.request_preview.map(|p| (p.rank, p.text)), Some((RANK_CHAT_MODEL, "hi".into())));
    let tool = digest(&span(CHILD, json!({"mlflow.spanType": "TOOL", "mlflow.spanInputs": chat})));
    assert_eq!(tool.request_preview.map(|p| (p.rank, p.text)), Some((RANK_OTHER, "hi".into())));
    // An LLM span whose payload is not a conversation is an ordinary source.
    let raw = digest(&span(CHILD, json!({"mlflow.spanType": "LLM", "mlflow.spanInputs": "prompt text"})));
    assert_eq!(raw.request_preview.map(|p| p.rank), Some(RANK_OTHER));
}

#[test]
fn empty_values_are_not_previews() {
    for empty in [json!(""), json!("   "), json!({}), json!([]), Value::Null] {
        let digest = digest(&span(None, json!({"mlflow.spanInputs": empty.clone(), "mlflow.spanOutputs": empty})));
        assert_eq!((digest.request_preview, digest.response_preview), (None, None));
    }
    assert_eq!(digest(&span(None, json!({}))), super::SpanDigest::default());
}

#[test]
fn columns_usage_session_and_user() {
    let digest = digest(&span(
        CHILD,
        json!({
            "mlflow.spanType": "CHAT_MODEL",
            "mlflow.llm.model": "gpt-4o",
            "mlflow.llm.provider": "openai",
            "mlflow.chat.tokenUsage": {"input_tokens": 3, "output_tokens": "4", "total_tokens": 7, "cache_read_input_tokens": 1},
            "gen_ai.conversation.id": "conv-1",
            "enduser.id": "alice"
        }),
    ));
    assert_eq!(digest.span_type.as_deref(), Some("CHAT_MODEL"));
    assert_eq!((digest.model_name.as_deref(), digest.model_provider.as_deref()), (Some("gpt-4o"), Some("openai")));
    assert_eq!(
        digest.token_usage,
        Some(TokenUsage {
            input_tokens: 3,
            output_tokens: 4,
            total_tokens: 7,
            cache_read_input_tokens: Some(1),
            cache_creation_input_tokens: None
        })
    );
    assert_eq!(digest.session_id.as_deref(), Some("conv-1"));
    assert_eq!(digest.user_id.as_deref(), Some("alice"));
    // Usage left as JSON text by a sender is read too.
    let text_usage =
        super::digest(&span(CHILD, json!({"mlflow.chat.tokenUsage": "{\"input_tokens\": 1, \"output_tokens\": 2}"})));
    assert_eq!(text_usage.token_usage.map(|u| u.total_tokens), Some(3));
}

#[test]
fn session_keys_in_order_and_limits() {
    let session = |attrs: Value| digest(&span(CHILD, attrs)).session_id;
    assert_eq!(session(json!({"session.id": "s1", "gen_ai.conversation.id": "c1"})), Some("s1".into()));
    assert_eq!(session(json!({"traceloop.association.properties.session_id": "t1"})), Some("t1".into()));
    assert_eq!(session(json!({"http.request.header.x_session_id": ["h1"]})), Some("h1".into()));
    assert_eq!(session(json!({"session.id": 12345})), Some("12345".into()));
    assert_eq!(session(json!({"session.id": "x".repeat(250)})).map(|s| s.len()), Some(250));
    assert_eq!(session(json!({"session.id": "x".repeat(251)})), None);
    assert_eq!(session(json!({"session.id": ""})), None);
    // A bare `session_id` counts only beside LLaMA Stack's agent-turn attributes.
    assert_eq!(session(json!({"session_id": "web-cookie"})), None);
    assert_eq!(session(json!({"session_id": "turn-s", "turn_id": "t"})), Some("turn-s".into()));
}

#[test]
fn trace_tags_come_from_the_root_span_only() {
    let attrs = json!({
        "mlflow.traceTag.mlflow.traceName": "my trace",
        "mlflow.traceTag.team": "search",
        "mlflow.traceTag.count": 3,
        "mlflow.traceTag.meta": {"a": [1]},
        "mlflow.traceTag.": "no key",
        "other": "x"
    });
    let tags = digest(&span(None, attrs.clone())).trace_tags;
    assert_eq!(
        tags,
        vec![
            ("mlflow.traceName".to_string(), "my trace".to_string()),
            ("team".to_string(), "search".to_string()),
            ("count".to_string(), "3".to_string()),
            ("meta".to_string(), "{\"a\": [1]}".to_string()),
        ]
    );
    assert!(digest(&span(CHILD, attrs)).trace_tags.is_empty());
}
