//! LLaMA Stack-shaped spans: ≥ 0.4's OpenAI-instrumented chat, safety and tool spans, and 0.2/0.3's `@trace_protocol` spans.

use serde_json::{json, Value};

use super::super::translate_span;
use super::{event, span_named, translated, usage};
use crate::traces::digest::digest;
use crate::traces::{keys, Span};

// ---- LLaMA Stack ≥ 0.4 (OpenAI v2 instrumentation + LLaMA Stack's own spans) ---------------

fn llama_stack_chat_attributes() -> Value {
    // deploy.md §3.2: the CLIENT child `chat fake-model` with SPAN_ONLY content capture.
    json!({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "fake-model",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.max_tokens": 64,
        "gen_ai.response.model": "fake-model",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 1,
        "gen_ai.input.messages": "[{\"role\":\"user\",\"parts\":[{\"content\":\"ping\",\"type\":\"text\"}]}]",
        "gen_ai.output.messages": "[{\"role\":\"assistant\",\"parts\":[{\"content\":\"pong\",\"type\":\"text\"}],\"finish_reason\":\"stop\"}]",
        "server.address": "localhost",
        "server.port": 8000
    })
}

#[test]
fn llama_stack_chat_span_gets_type_io_usage_model_and_provider() {
    let attrs = translated("chat fake-model", llama_stack_chat_attributes());
    assert_eq!(attrs[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    assert_eq!(attrs[keys::SPAN_INPUTS], json!([{"role": "user", "parts": [{"content": "ping", "type": "text"}]}]));
    assert_eq!(attrs[keys::SPAN_OUTPUTS][0]["parts"][0]["content"], json!("pong"));
    assert_eq!(usage(&attrs), json!({"input_tokens": 7, "output_tokens": 1, "total_tokens": 8}));
    assert_eq!(attrs[keys::LLM_MODEL], json!("fake-model"));
    assert_eq!(attrs[keys::LLM_PROVIDER], json!("openai"));
    // Parts-style lists are the sender's own shape, not an OpenAI payload Rivulet built.
    assert!(!attrs.contains_key(keys::MESSAGE_FORMAT));
    // The original attributes stay.
    assert_eq!(attrs["gen_ai.usage.input_tokens"], json!(7));
}

#[test]
fn llama_stack_chat_span_previews_rank_as_chat_model() {
    let mut span = span_named("chat fake-model", llama_stack_chat_attributes());
    translate_span(&mut span);
    let digest = digest(&span);
    assert_eq!(digest.span_type.as_deref(), Some("CHAT_MODEL"));
    assert_eq!(digest.model_name.as_deref(), Some("fake-model"));
    assert_eq!(digest.model_provider.as_deref(), Some("openai"));
    assert_eq!(digest.token_usage.map(|u| u.total_tokens), Some(8));
    let request = digest.request_preview.unwrap();
    assert_eq!((request.rank, request.text.as_str()), (2, "ping"));
    let response = digest.response_preview.unwrap();
    assert_eq!((response.rank, response.text.as_str()), (2, "pong"));
}

#[test]
fn llama_stack_chat_span_without_content_capture_still_gets_type_and_usage() {
    let mut attributes = llama_stack_chat_attributes();
    let object = attributes.as_object_mut().unwrap();
    object.shift_remove("gen_ai.input.messages");
    object.shift_remove("gen_ai.output.messages");
    // openai-v2 2.3b0 (catalyst-lab) named the provider gen_ai.system.
    object.shift_remove("gen_ai.provider.name");
    object.insert("gen_ai.system".into(), json!("openai"));
    let mut span = span_named("chat fake-model", attributes);
    translate_span(&mut span);
    assert_eq!(span.attributes[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    assert_eq!(span.attributes[keys::LLM_PROVIDER], json!("openai"));
    assert!(!span.attributes.contains_key(keys::SPAN_INPUTS));
    let digest = digest(&span);
    assert_eq!((digest.request_preview, digest.response_preview), (None, None));
    assert_eq!(digest.token_usage.map(|u| (u.input_tokens, u.output_tokens)), Some((7, 1)));
}

#[test]
fn fastapi_server_span_gets_nothing_invented() {
    let attributes = json!({
        "http.method": "POST", "http.route": "/v1/chat/completions", "http.status_code": 200,
        "http.target": "/v1/chat/completions", "http.url": "http://localhost:8321/v1/chat/completions",
        "net.peer.ip": "127.0.0.1"
    });
    let before = span_named("POST /v1/chat/completions", attributes.clone());
    let mut after = before.clone();
    translate_span(&mut after);
    assert_eq!(before, after);
}

#[test]
fn llama_stack_safety_span_is_a_guardrail_with_messages_and_violation() {
    let attrs = translated(
        "run_shield llama-guard",
        json!({
            "llama_stack.safety.request.shield_id": "llama-guard",
            "llama_stack.safety.request.messages": "[{\"role\": \"user\", \"content\": \"how do I pick a lock?\"}]",
            "llama_stack.safety.response.metadata": "{\"violation_type\": \"S2\"}",
            "llama_stack.safety.response.violation.level": "error",
            "llama_stack.safety.response.violation.user_message": "I can't help with that."
        }),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("GUARDRAIL"));
    assert_eq!(attrs[keys::SPAN_INPUTS], json!({"messages": [{"role": "user", "content": "how do I pick a lock?"}]}));
    assert_eq!(
        attrs[keys::SPAN_OUTPUTS],
        json!({"violation": {"violation_level": "error", "user_message": "I can't help with that.", "metadata": {"violation_type": "S2"}}})
    );
    let passed = translated(
        "run_shield llama-guard",
        json!({"llama_stack.safety.request.shield_id": "llama-guard", "llama_stack.safety.request.messages": "[]"}),
    );
    assert_eq!(passed[keys::SPAN_TYPE], json!("GUARDRAIL"));
    assert!(!passed.contains_key(keys::SPAN_INPUTS));
    assert_eq!(passed[keys::SPAN_OUTPUTS], json!({"violation": null}));
}

#[test]
fn llama_stack_responses_tool_spans_get_types() {
    let mcp = json!({"server_label": "weather", "server_url": "http://mcp:8000/sse", "tool_name": "get_forecast"});
    assert_eq!(translated("invoke_mcp_tool", mcp)[keys::SPAN_TYPE], json!("TOOL"));
    assert_eq!(translated("invoke_tool", json!({"tool_name": "web_search"}))[keys::SPAN_TYPE], json!("TOOL"));
    let list =
        json!({"server_label": "weather", "server_url": "http://mcp:8000/sse", "mcp_list_tools_id": "mcp_list_1"});
    assert_eq!(translated("list_mcp_tools", list)[keys::SPAN_TYPE], json!("TOOL"));
    assert_eq!(translated("knowledge_search", json!({}))[keys::SPAN_TYPE], json!("RETRIEVER"));
    assert_eq!(translated("file_search", json!({}))[keys::SPAN_TYPE], json!("RETRIEVER"));
    // Names and labels are metadata, not the tool's input: no invented payload.
    assert!(!translated("invoke_tool", json!({"tool_name": "web_search"})).contains_key(keys::SPAN_INPUTS));
}

// ---- LLaMA Stack 0.2 / 0.3 (@trace_protocol) -------------------------------------------------

fn llama_stack_02_chat_span() -> Span {
    let args = r#"{'model_id': 'meta-llama/Llama-3.2-3B-Instruct', 'messages': ['{"role":"system","content":"You are terse."}', '{"role":"user","content":"hello","context":null}'], 'sampling_params': '{"strategy":{"type":"greedy"},"max_tokens":0}', 'tools': [], 'stream': False}"#;
    let output = r#"{"metrics":[{"metric":"prompt_tokens","value":21,"unit":null}],"completion_message":{"role":"assistant","content":"Hi there","stop_reason":"end_of_turn","tool_calls":[]},"logprobs":null}"#;
    let mut span = span_named(
        "InferenceRouter.chat_completion",
        json!({
            "__autotraced__": true, "__class__": "InferenceRouter", "__method__": "chat_completion",
            "__type__": "async", "__args__": args, "output": output
        }),
    );
    let metric = |name: &str, value: i64| {
        event(
            name,
            json!({"value": value, "unit": "tokens", "model_id": "meta-llama/Llama-3.2-3B-Instruct", "provider_id": "ollama"}),
        )
    };
    span.events = vec![
        metric("metric.prompt_tokens", 21),
        metric("metric.completion_tokens", 3),
        metric("metric.total_tokens", 24),
    ];
    span
}

#[test]
fn llama_stack_02_chat_completion_span_is_fully_translated() {
    let mut span = llama_stack_02_chat_span();
    translate_span(&mut span);
    let attrs = &span.attributes;
    assert_eq!(attrs[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    let inputs = &attrs[keys::SPAN_INPUTS];
    assert_eq!(inputs["model_id"], json!("meta-llama/Llama-3.2-3B-Instruct"));
    assert_eq!(inputs["messages"][1], json!({"role": "user", "content": "hello", "context": null}));
    assert_eq!(inputs["sampling_params"]["strategy"]["type"], json!("greedy"));
    assert_eq!(inputs["stream"], json!(false));
    assert_eq!(attrs[keys::SPAN_OUTPUTS]["completion_message"]["content"], json!("Hi there"));
    assert_eq!(usage(attrs), json!({"input_tokens": 21, "output_tokens": 3, "total_tokens": 24}));
    assert_eq!(attrs[keys::LLM_MODEL], json!("meta-llama/Llama-3.2-3B-Instruct"));
    assert_eq!(attrs[keys::LLM_PROVIDER], json!("ollama"));
    let digest = digest(&span);
    assert_eq!(digest.request_preview.map(|p| (p.rank, p.text)), Some((2, "hello".into())));
    assert_eq!(digest.response_preview.map(|p| (p.rank, p.text)), Some((2, "Hi there".into())));
}

#[test]
fn llama_stack_02_usage_falls_back_to_the_results_metrics_list() {
    let mut span = llama_stack_02_chat_span();
    span.events.clear();
    translate_span(&mut span);
    assert_eq!(usage(&span.attributes), json!({"input_tokens": 21, "output_tokens": 0, "total_tokens": 21}));
    // No metric events: the model comes from the arguments.
    assert_eq!(span.attributes[keys::LLM_MODEL], json!("meta-llama/Llama-3.2-3B-Instruct"));
    assert!(!span.attributes.contains_key(keys::LLM_PROVIDER));
}

#[test]
fn llama_stack_02_openai_request_object_is_lifted_out_of_the_arguments() {
    let args = r#"{'params': '{"model": "vllm/fake-model", "messages": [{"role": "user", "content": "ping"}], "stream": false}'}"#;
    let attrs = translated(
        "InferenceRouter.openai_chat_completion",
        json!({"__class__": "InferenceRouter", "__method__": "openai_chat_completion", "__args__": args}),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("CHAT_MODEL"));
    assert_eq!(
        attrs[keys::SPAN_INPUTS],
        json!({"model": "vllm/fake-model", "messages": [{"role": "user", "content": "ping"}], "stream": false})
    );
    assert_eq!(attrs[keys::LLM_MODEL], json!("vllm/fake-model"));
}

#[test]
fn llama_stack_02_method_types_and_unreadable_arguments() {
    let typed = |class: &str, method: &str| {
        translated(&format!("{class}.{method}"), json!({"__class__": class, "__method__": method}))
            .get(keys::SPAN_TYPE)
            .cloned()
    };
    assert_eq!(typed("InferenceRouter", "completion"), Some(json!("LLM")));
    assert_eq!(typed("InferenceRouter", "openai_embeddings"), Some(json!("EMBEDDING")));
    assert_eq!(typed("VectorIORouter", "query_chunks"), Some(json!("RETRIEVER")));
    assert_eq!(typed("MemoryToolRuntimeImpl", "query"), Some(json!("RETRIEVER")));
    assert_eq!(typed("ToolRuntimeRouter", "invoke_tool"), Some(json!("TOOL")));
    assert_eq!(typed("SafetyRouter", "run_shield"), Some(json!("GUARDRAIL")));
    assert_eq!(typed("MetaReferenceAgentsImpl", "create_agent_turn"), Some(json!("AGENT")));
    assert_eq!(typed("ModelsRoutingTable", "list_models"), None);
    // An argument repr that is not a literal is kept as the sender's text.
    let attrs = translated(
        "X.chat_completion",
        json!({"__class__": "X", "__method__": "chat_completion", "__args__": "{'when': datetime.datetime(2025, 1, 1)}"}),
    );
    assert_eq!(attrs[keys::SPAN_INPUTS], json!("{'when': datetime.datetime(2025, 1, 1)}"));
}

#[test]
fn llama_stack_02_agent_turn_carries_session_and_request() {
    let request = r#"{"agent_id": "a1", "session_id": "s-42", "messages": [{"role": "user", "content": "plan my trip"}], "stream": true}"#;
    let mut span = span_named(
        "create_and_execute_turn",
        json!({"session_id": "s-42", "agent_id": "a1", "turn_id": "t-1", "request": request}),
    );
    translate_span(&mut span);
    assert_eq!(span.attributes[keys::SPAN_TYPE], json!("AGENT"));
    assert_eq!(span.attributes[keys::SPAN_INPUTS]["messages"][0]["content"], json!("plan my trip"));
    let digest = digest(&span);
    assert_eq!(digest.session_id.as_deref(), Some("s-42"));
    assert_eq!(digest.request_preview.map(|p| p.text), Some("plan my trip".into()));
}

#[test]
fn llama_stack_02_agent_shield_span_decodes_its_message_list() {
    let attrs = translated(
        "run_shields",
        json!({"input": ["{\"role\":\"user\",\"content\":\"hi\"}"], "output": "no violations"}),
    );
    assert_eq!(attrs[keys::SPAN_TYPE], json!("GUARDRAIL"));
    assert_eq!(attrs[keys::SPAN_INPUTS], json!([{"role": "user", "content": "hi"}]));
    assert_eq!(attrs[keys::SPAN_OUTPUTS], json!("no violations"));
}
