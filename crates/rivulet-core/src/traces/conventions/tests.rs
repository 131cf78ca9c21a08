//! Tests for the convention translators, with attribute sets shaped like what real instrumentations send.

use serde_json::{json, Map, Value};

use super::{sanitize_attribute, translate_span};
use crate::traces::digest::digest;
use crate::traces::{keys, Span, SpanEvent, StatusCode};

/// A child span whose attributes went through MLflow's sanitize step, as at ingest.
fn span_named(name: &str, attributes: Value) -> Span {
    let attributes = match attributes {
        Value::Object(map) => map.into_iter().map(|(k, v)| (k, sanitize_attribute(v))).collect(),
        _ => Map::new(),
    };
    Span {
        trace_id: [1; 16],
        span_id: [2; 8],
        parent_span_id: Some([3; 8]),
        name: name.into(),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        status_code: StatusCode::Ok,
        status_message: String::new(),
        attributes,
        events: Vec::new(),
        links: Vec::new(),
        service_name: Some("llamastack".into()),
    }
}

fn translated(name: &str, attributes: Value) -> Map<String, Value> {
    let mut span = span_named(name, attributes);
    translate_span(&mut span);
    span.attributes
}

fn event(name: &str, attributes: Value) -> SpanEvent {
    SpanEvent { name: name.into(), time_unix_nano: 1, attributes: attributes.as_object().cloned().unwrap_or_default() }
}

fn usage(attrs: &Map<String, Value>) -> Value {
    attrs.get(keys::TOKEN_USAGE).cloned().unwrap_or(Value::Null)
}

// ---- sanitize --------------------------------------------------------------------------------

#[test]
fn sanitize_decodes_one_layer_of_json_objects_arrays_and_strings() {
    assert_eq!(sanitize_attribute(json!("{\"q\": 1}")), json!({"q": 1}));
    assert_eq!(sanitize_attribute(json!("  [1, \"a\"]")), json!([1, "a"]));
    assert_eq!(sanitize_attribute(json!("\"LLM\"")), json!("LLM"));
    // Doubly encoded text loses exactly one layer.
    assert_eq!(sanitize_attribute(json!("\"{\\\"a\\\": 1}\"")), json!("{\"a\": 1}"));
}

#[test]
fn sanitize_keeps_plain_and_numeric_looking_strings() {
    for text in ["hello", "42", "4.5", "true", "null", "{oops", "[1, 2", "", "\"unterminated", "{} trailing"] {
        assert_eq!(sanitize_attribute(json!(text)), json!(text), "{text}");
    }
    assert_eq!(sanitize_attribute(json!(7)), json!(7));
    assert_eq!(sanitize_attribute(json!(["{\"a\":1}"])), json!(["{\"a\":1}"]));
    assert_eq!(sanitize_attribute(Value::Null), Value::Null);
    // Nesting past the JSON parser's limit stays text instead of overflowing the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(sanitize_attribute(json!(deep.clone())), json!(deep));
}

// ---- OpenInference ---------------------------------------------------------------------------

#[test]
fn openinference_llm_span_with_flattened_messages_becomes_an_openai_conversation() {
    let attrs = translated(
        "ChatOpenAI",
        json!({
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.provider": "openai",
            "llm.system": "openai",
            "llm.invocation_parameters": "{\"temperature\": 0}",
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "You are helpful.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": "Weather in Paris?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{\"city\": \"Paris\"}",
            "llm.token_count.prompt": "12",
            "llm.token_count.completion": 3,
            "llm.token_count.total": 15,
            "llm.token_count.prompt_details.cache_read": 4,
            "llm.tools.0.tool.json_schema": "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}"
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("LLM"));
    assert_eq!(
        attrs[keys::SPAN_INPUTS],
        json!({"messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Weather in Paris?"}]})
    );
    assert_eq!(
        attrs[keys::SPAN_OUTPUTS],
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
        ]}}]})
    );
    assert_eq!(attrs[keys::MESSAGE_FORMAT], json!("openai"));
    assert_eq!(
        usage(&attrs),
        json!({"input_tokens": 12, "output_tokens": 3, "total_tokens": 15, "cache_read_input_tokens": 4})
    );
    assert_eq!(attrs[keys::LLM_MODEL], json!("gpt-4o-mini-2024-07-18"));
    assert_eq!(attrs[keys::LLM_PROVIDER], json!("openai"));
    assert_eq!(
        attrs[keys::CHAT_TOOLS],
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])
    );
}

#[test]
fn openinference_messages_are_ordered_numerically_and_keep_content_parts() {
    let mut attributes = Map::new();
    for index in 0..12 {
        attributes.insert(format!("llm.input_messages.{index}.message.role"), json!("user"));
        attributes.insert(format!("llm.input_messages.{index}.message.content"), json!(format!("m{index}")));
    }
    attributes.insert("llm.input_messages.12.message.role".into(), json!("user"));
    attributes.insert("llm.input_messages.12.message.contents.0.message_content.type".into(), json!("text"));
    attributes.insert("llm.input_messages.12.message.contents.0.message_content.text".into(), json!("look"));
    attributes.insert("llm.input_messages.12.message.contents.1.message_content.type".into(), json!("image"));
    attributes.insert(
        "llm.input_messages.12.message.contents.1.message_content.image.image.url".into(),
        json!("https://x/cat.png"),
    );
    attributes.insert("openinference.span.kind".into(), json!("LLM"));
    let attrs = translated("llm", Value::Object(attributes));
    let messages = attrs[keys::SPAN_INPUTS]["messages"].as_array().unwrap().clone();
    let contents: Vec<Value> = messages.iter().take(12).map(|m| m["content"].clone()).collect();
    assert_eq!(contents, (0..12).map(|i| json!(format!("m{i}"))).collect::<Vec<_>>());
    assert_eq!(
        messages[12]["content"],
        json!([{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}])
    );
}

#[test]
fn openinference_input_value_wins_over_flattened_messages() {
    let attrs = translated(
        "ChatOpenAI",
        json!({
            "openinference.span.kind": "LLM",
            "input.value": "{\"messages\": [{\"role\": \"user\", \"content\": \"raw\"}], \"model\": \"gpt-4o\"}",
            "input.mime_type": "application/json",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "flattened",
            "output.value": "plain answer"
        }),
    );
    assert_eq!(attrs[keys::SPAN_INPUTS]["messages"][0]["content"], json!("raw"));
    assert_eq!(attrs[keys::SPAN_OUTPUTS], json!("plain answer"));
    // Sender payloads, not built ones: no format claimed. The model comes from the payload.
    assert!(!attrs.contains_key(keys::MESSAGE_FORMAT));
    assert_eq!(attrs[keys::LLM_MODEL], json!("gpt-4o"));
}

#[test]
fn openinference_retriever_span_returns_mlflow_documents() {
    let attrs = translated(
        "retrieve",
        json!({
            "openinference.span.kind": "RETRIEVER",
            "input.value": "what is rivulet?",
            "retrieval.documents.0.document.id": "doc-1",
            "retrieval.documents.0.document.content": "Rivulet is a trace viewer.",
            "retrieval.documents.0.document.score": 0.92,
            "retrieval.documents.0.document.metadata": "{\"doc_uri\": \"s3://docs/1\"}",
            "retrieval.documents.1.document.content": "It replaces MLflow's server."
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("RETRIEVER"));
    assert_eq!(attrs[keys::SPAN_INPUTS], json!("what is rivulet?"));
    assert_eq!(
        attrs[keys::SPAN_OUTPUTS],
        json!([
            {"id": "doc-1", "page_content": "Rivulet is a trace viewer.", "metadata": {"doc_uri": "s3://docs/1"}, "score": 0.92},
            {"page_content": "It replaces MLflow's server.", "metadata": {}}
        ])
    );
}

#[test]
fn openinference_tool_span() {
    let attrs = translated(
        "get_weather",
        json!({
            "openinference.span.kind": "TOOL",
            "tool.name": "get_weather",
            "input.value": "{\"city\": \"Paris\"}",
            "output.value": "sunny, 21°C"
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("TOOL"));
    assert_eq!(attrs[keys::SPAN_INPUTS], json!({"city": "Paris"}));
    assert_eq!(attrs[keys::SPAN_OUTPUTS], json!("sunny, 21°C"));
    assert!(!attrs.contains_key(keys::TOKEN_USAGE));
}

// ---- OTel GenAI semconv ----------------------------------------------------------------------

#[test]
fn genai_system_instructions_lead_the_input_messages() {
    let attrs = translated(
        "chat gpt-4o",
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.system_instructions": "[{\"type\": \"text\", \"content\": \"Be brief.\"}]",
            "gen_ai.input.messages": "[{\"role\": \"user\", \"parts\": [{\"type\": \"text\", \"content\": \"hi\"}]}]"
        }),
    );
    assert_eq!(
        attrs[keys::SPAN_INPUTS],
        json!([
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
        ])
    );
    let only_instructions =
        translated("chat", json!({"gen_ai.operation.name": "chat", "gen_ai.system_instructions": "Be brief."}));
    assert_eq!(
        only_instructions[keys::SPAN_INPUTS],
        json!([{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}])
    );
}

#[test]
fn genai_tool_execution_span() {
    let attrs = translated(
        "execute_tool get_weather",
        json!({
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": "{\"city\": \"Paris\"}",
            "gen_ai.tool.call.result": "{\"forecast\": \"sunny\"}"
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("TOOL"));
    assert_eq!(attrs[keys::SPAN_INPUTS], json!({"city": "Paris"}));
    assert_eq!(attrs[keys::SPAN_OUTPUTS], json!({"forecast": "sunny"}));
}

#[test]
fn genai_operation_names_map_to_mlflow_types() {
    for (operation, expected) in [
        ("chat", "CHAT_MODEL"),
        ("text_completion", "LLM"),
        ("generate_content", "LLM"),
        ("embeddings", "EMBEDDING"),
        ("invoke_agent", "AGENT"),
        ("create_agent", "AGENT"),
        ("execute_tool", "TOOL"),
        ("response", "LLM"),
    ] {
        assert_eq!(translated("op", json!({"gen_ai.operation.name": operation}))[keys::SPAN_TYPE], json!(expected));
    }
}

#[test]
fn genai_cache_tokens_and_tool_definitions() {
    let attrs = translated(
        "chat claude",
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": "100",
            "gen_ai.usage.output_tokens": 20.0,
            "gen_ai.usage.cache_read.input_tokens": 80,
            "gen_ai.usage.cache_creation.input_tokens": "5",
            "gen_ai.tool.definitions": "[{\"type\": \"function\", \"name\": \"search\", \"description\": \"web\", \"parameters\": {\"type\": \"object\"}}]"
        }),
    );
    assert_eq!(
        usage(&attrs),
        json!({"input_tokens": 100, "output_tokens": 20, "total_tokens": 120, "cache_read_input_tokens": 80, "cache_creation_input_tokens": 5})
    );
    assert_eq!(
        attrs[keys::CHAT_TOOLS],
        json!([{"type": "function", "function": {"name": "search", "description": "web", "parameters": {"type": "object"}}}])
    );
}

#[test]
fn genai_old_style_prompts_and_completions_become_an_openai_conversation() {
    let attrs = translated(
        "openai.chat",
        json!({
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "You are terse.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Weather in Paris?",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.tool_calls.0.id": "call_9",
            "gen_ai.completion.0.tool_calls.0.name": "get_weather",
            "gen_ai.completion.0.tool_calls.0.arguments": "{\"city\": \"Paris\"}",
            "gen_ai.usage.prompt_tokens": 30,
            "gen_ai.usage.completion_tokens": 9,
            "llm.usage.total_tokens": 39,
            "llm.request.functions.0.name": "get_weather",
            "llm.request.functions.0.description": "Weather by city",
            "llm.request.functions.0.parameters": "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}"
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    assert_eq!(
        attrs[keys::SPAN_INPUTS],
        json!({"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Weather in Paris?"}]})
    );
    assert_eq!(
        attrs[keys::SPAN_OUTPUTS],
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
        ]}, "finish_reason": "tool_calls"}]})
    );
    assert_eq!(attrs[keys::MESSAGE_FORMAT], json!("openai"));
    assert_eq!(usage(&attrs), json!({"input_tokens": 30, "output_tokens": 9, "total_tokens": 39}));
    assert_eq!(attrs[keys::LLM_MODEL], json!("gpt-4o-2024-08-06"));
    assert_eq!(attrs[keys::LLM_PROVIDER], json!("openai"));
    assert_eq!(attrs[keys::CHAT_TOOLS][0]["function"]["parameters"]["properties"]["city"]["type"], json!("string"));
}

#[test]
fn genai_old_style_completion_text_gives_a_response_preview() {
    let mut span = span_named(
        "openai.completion",
        json!({
            "llm.request.type": "completion",
            "gen_ai.prompt.0.user": "Once upon a time",
            "gen_ai.completion.0.content": " there was a trace."
        }),
    );
    translate_span(&mut span);
    assert_eq!(span.attributes[keys::SPAN_TYPE], json!("LLM"));
    assert_eq!(
        span.attributes[keys::SPAN_INPUTS],
        json!({"messages": [{"role": "user", "content": "Once upon a time"}]})
    );
    let digest = digest(&span);
    assert_eq!(digest.response_preview.map(|p| (p.rank, p.text)), Some((2, " there was a trace.".into())));
}

#[test]
fn message_content_that_only_looks_like_json_goes_back_to_text() {
    let attrs = translated(
        "openai.chat",
        json!({
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "[{\"type\": \"text\", \"text\": \"parts stay parts\"}]",
            "gen_ai.completion.0.content": "{\"answer\": 42}"
        }),
    );
    assert_eq!(
        attrs[keys::SPAN_INPUTS]["messages"][0]["content"],
        json!([{"type": "text", "text": "parts stay parts"}])
    );
    assert_eq!(attrs[keys::SPAN_OUTPUTS]["choices"][0]["message"]["content"], json!("{\"answer\":42}"));
}

// ---- Traceloop and the smaller conventions ---------------------------------------------------

#[test]
fn traceloop_workflow_span() {
    let attrs = translated(
        "joke_workflow.workflow",
        json!({
            "traceloop.span.kind": "workflow",
            "traceloop.workflow.name": "joke_workflow",
            "traceloop.entity.input": "{\"inputs\": {\"topic\": \"otters\"}, \"tags\": [], \"metadata\": {}, \"kwargs\": {}}",
            "traceloop.entity.output": "{\"outputs\": \"Why did the otter...\"}",
            "traceloop.association.properties.user_id": "u-7"
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("WORKFLOW"));
    assert_eq!(attrs[keys::SPAN_INPUTS]["inputs"]["topic"], json!("otters"));
    assert_eq!(attrs[keys::SPAN_OUTPUTS], json!({"outputs": "Why did the otter..."}));
}

#[test]
fn smaller_conventions_give_types_and_payloads() {
    let vercel = translated(
        "ai.generateText",
        json!({"ai.operationId": "ai.generateText", "ai.prompt": "{\"prompt\": \"hi\"}", "ai.response.text": "hello",
               "ai.usage.promptTokens": 4, "ai.usage.completionTokens": 2, "ai.model.id": "gpt-4o", "ai.model.provider": "openai.chat"}),
    );
    assert_eq!(vercel[keys::SPAN_TYPE], json!("LLM"));
    assert_eq!(
        (vercel[keys::SPAN_INPUTS].clone(), vercel[keys::SPAN_OUTPUTS].clone()),
        (json!({"prompt": "hi"}), json!("hello"))
    );
    assert_eq!(usage(&vercel), json!({"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}));
    assert_eq!(
        (vercel[keys::LLM_MODEL].clone(), vercel[keys::LLM_PROVIDER].clone()),
        (json!("gpt-4o"), json!("openai.chat"))
    );
    let laminar =
        translated("step", json!({"lmnr.span.type": "EXECUTOR", "lmnr.span.input": "[1]", "lmnr.span.output": "2"}));
    assert_eq!((laminar[keys::SPAN_TYPE].clone(), laminar[keys::SPAN_INPUTS].clone()), (json!("AGENT"), json!([1])));
    let langfuse =
        translated("gen", json!({"langfuse.observation.type": "generation", "langfuse.observation.output": "ok"}));
    assert_eq!((langfuse[keys::SPAN_TYPE].clone(), langfuse[keys::SPAN_OUTPUTS].clone()), (json!("LLM"), json!("ok")));
    let adk = translated(
        "call_llm",
        json!({"gcp.vertex.agent.llm_request": "{\"contents\": []}", "gcp.vertex.agent.llm_response": "{\"x\": 1}"}),
    );
    assert_eq!(adk[keys::SPAN_OUTPUTS], json!({"x": 1}));
    let voltagent = translated("agent", json!({"entity.type": "agent", "input": "question"}));
    assert_eq!(
        (voltagent[keys::SPAN_TYPE].clone(), voltagent[keys::SPAN_INPUTS].clone()),
        (json!("AGENT"), json!("question"))
    );
}

// ---- Span events -----------------------------------------------------------------------------

#[test]
fn genai_content_events_become_an_openai_conversation() {
    let mut span = span_named("chat gpt-4o", json!({"gen_ai.operation.name": "chat"}));
    span.events = vec![
        event("gen_ai.system.message", json!({"content": "Be brief."})),
        event("gen_ai.user.message", json!({"content": "hi"})),
        event("gen_ai.choice", json!({"index": 0, "finish_reason": "stop", "message": {"content": "hello!"}})),
    ];
    translate_span(&mut span);
    assert_eq!(
        span.attributes[keys::SPAN_INPUTS],
        json!({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})
    );
    assert_eq!(
        span.attributes[keys::SPAN_OUTPUTS],
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "hello!"}, "finish_reason": "stop"}]})
    );
    assert_eq!(span.attributes[keys::MESSAGE_FORMAT], json!("openai"));
}

#[test]
fn spring_ai_events_carry_whole_payloads() {
    let mut span = span_named("chat", json!({"gen_ai.operation.name": "chat"}));
    span.events = vec![
        event("gen_ai.content.prompt", json!({"gen_ai.prompt": "Tell me a joke"})),
        event("gen_ai.content.completion", json!({"gen_ai.completion": "No."})),
    ];
    translate_span(&mut span);
    assert_eq!(
        (span.attributes[keys::SPAN_INPUTS].clone(), span.attributes[keys::SPAN_OUTPUTS].clone()),
        (json!("Tell me a joke"), json!("No."))
    );
}

// ---- What the sender set, and what nobody set ------------------------------------------------

#[test]
fn sender_values_are_never_overwritten() {
    let attrs = translated(
        "chat",
        json!({
            "mlflow.spanType": "\"RETRIEVER\"",
            "mlflow.spanInputs": "{\"query\": \"mine\"}",
            "mlflow.chat.tokenUsage": "{\"input_tokens\": 1, \"output_tokens\": 1, \"total_tokens\": 2}",
            "mlflow.llm.model": "\"my-model\"",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "other-model",
            "gen_ai.input.messages": "[{\"role\": \"user\", \"parts\": []}]",
            "gen_ai.usage.input_tokens": 50
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("RETRIEVER"));
    assert_eq!(attrs[keys::SPAN_INPUTS], json!({"query": "mine"}));
    assert_eq!(usage(&attrs)["total_tokens"], json!(2));
    assert_eq!(attrs[keys::LLM_MODEL], json!("my-model"));
}

#[test]
fn unknown_or_blank_span_type_is_filled() {
    for current in [json!("\"UNKNOWN\""), json!(""), Value::Null] {
        let attrs = translated("chat", json!({"mlflow.spanType": current, "gen_ai.operation.name": "chat"}));
        assert_eq!(attrs[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    }
    // A convention's own "unknown" yields to a better one.
    let attrs = translated("x", json!({"openinference.span.kind": "UNKNOWN", "gen_ai.operation.name": "chat"}));
    assert_eq!(attrs[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    let attrs = translated("x", json!({"openinference.span.kind": "unknown"}));
    assert_eq!(attrs[keys::SPAN_TYPE], json!("UNKNOWN"));
    // Case differences between senders do not matter.
    assert_eq!(translated("x", json!({"openinference.span.kind": "llm"}))[keys::SPAN_TYPE], json!("LLM"));
}

#[test]
fn fallback_types_from_content_when_no_kind_is_given() {
    assert_eq!(translated("call", json!({"gen_ai.request.model": "m"}))[keys::SPAN_TYPE], json!("LLM"));
    assert_eq!(translated("call", json!({"gen_ai.prompt.0.content": "hi"}))[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    assert_eq!(
        translated("call", json!({"retrieval.documents.0.document.content": "d"}))[keys::SPAN_TYPE],
        json!("RETRIEVER")
    );
    assert_eq!(translated("call", json!({"embedding.model_name": "e5"}))[keys::SPAN_TYPE], json!("EMBEDDING"));
    assert_eq!(translated("call", json!({"gen_ai.tool.name": "t"}))[keys::SPAN_TYPE], json!("TOOL"));
    assert!(
        !translated("SELECT", json!({"db.system": "sqlite", "db.statement": "SELECT 1"})).contains_key(keys::SPAN_TYPE)
    );
}

#[test]
fn token_counts_accept_ints_floats_and_numeric_text_only() {
    let read = |value: Value| {
        usage(&translated("chat", json!({"gen_ai.usage.input_tokens": value, "gen_ai.usage.output_tokens": 1})))
    };
    assert_eq!(read(json!(5))["input_tokens"], json!(5));
    assert_eq!(read(json!("5"))["input_tokens"], json!(5));
    assert_eq!(read(json!(" 5 "))["input_tokens"], json!(5));
    assert_eq!(read(json!("5.0"))["input_tokens"], json!(5));
    assert_eq!(read(json!(7.9))["input_tokens"], json!(7));
    assert_eq!(read(json!(u64::MAX))["input_tokens"], json!(i64::MAX));
    assert_eq!(read(json!(u64::MAX))["total_tokens"], json!(i64::MAX));
    // Not a count: ignored, the output alone still makes a usage.
    assert_eq!(read(json!("many")), json!({"input_tokens": 0, "output_tokens": 1, "total_tokens": 1}));
    assert_eq!(read(json!(true)), json!({"input_tokens": 0, "output_tokens": 1, "total_tokens": 1}));
    assert_eq!(usage(&translated("chat", json!({"gen_ai.usage.input_tokens": "NaN"}))), Value::Null);
}

#[test]
fn usage_is_read_from_a_provider_response_kept_as_outputs() {
    let output = json!({"id": "chatcmpl-1", "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "prompt_tokens_details": {"cached_tokens": 4}}});
    let attrs =
        translated("ChatCompletion", json!({"openinference.span.kind": "LLM", "output.value": output.to_string()}));
    assert_eq!(
        usage(&attrs),
        json!({"input_tokens": 9, "output_tokens": 2, "total_tokens": 11, "cache_read_input_tokens": 4})
    );
    assert_eq!(attrs[keys::LLM_MODEL], json!("gpt-4o"));
}

mod llama_stack;
mod robustness;
