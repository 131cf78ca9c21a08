//! Token usage, model, provider and tool definitions from each convention's attributes.

use serde_json::{json, Map, Value};

use super::{count, is_meaningful, key, llama_stack, messages, structured, text_of};
use crate::traces::{Span, TokenUsage};

// ---------------------------------------------------------------------------------------------
// Token usage

/// One convention's token keys, each list in order of preference.
struct TokenKeys {
    input: &'static [&'static str],
    output: &'static [&'static str],
    total: &'static [&'static str],
    cache_read: &'static [&'static str],
    cache_creation: &'static [&'static str],
}

const TOKEN_CONVENTIONS: &[TokenKeys] = &[
    // OpenInference
    TokenKeys {
        input: &["llm.token_count.prompt"],
        output: &["llm.token_count.completion"],
        total: &["llm.token_count.total"],
        cache_read: &["llm.token_count.prompt_details.cache_read"],
        cache_creation: &["llm.token_count.prompt_details.cache_write"],
    },
    // OTel GenAI semconv
    TokenKeys {
        input: &["gen_ai.usage.input_tokens"],
        output: &["gen_ai.usage.output_tokens"],
        // Not in the semconv, but some SDKs send it. Traceloop's `llm.usage.total_tokens` is not
        // listed: alone it would make this convention match a Traceloop span with no counts.
        total: &["gen_ai.usage.total_tokens"],
        cache_read: &["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"],
        cache_creation: &[
            "gen_ai.usage.cache_write.input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
        ],
    },
    // Traceloop / older GenAI semconv
    TokenKeys {
        input: &["gen_ai.usage.prompt_tokens"],
        output: &["gen_ai.usage.completion_tokens"],
        total: &["llm.usage.total_tokens"],
        cache_read: &["gen_ai.usage.cache_read_input_tokens"],
        cache_creation: &["gen_ai.usage.cache_creation_input_tokens"],
    },
    // Vercel AI SDK (v4 and v5 names)
    TokenKeys {
        input: &["ai.usage.inputTokens", "ai.usage.promptTokens"],
        output: &["ai.usage.outputTokens", "ai.usage.completionTokens"],
        total: &["ai.usage.totalTokens"],
        cache_read: &["ai.usage.cachedInputTokens"],
        cache_creation: &[],
    },
    // VoltAgent
    TokenKeys {
        input: &["usage.prompt_tokens", "usage.input_tokens", "llm.usage.prompt_tokens"],
        output: &["usage.completion_tokens", "usage.output_tokens", "llm.usage.completion_tokens"],
        total: &["usage.total_tokens"],
        cache_read: &[],
        cache_creation: &[],
    },
];

/// Every key in [`TOKEN_CONVENTIONS`] contains this (a test checks): a span none of whose
/// attribute keys does follows none of them, and skips their lookups.
const TOKEN_KEY_MARK: &str = "oken";

pub(super) fn token_usage(span: &Span, outputs: Option<&Value>) -> Option<TokenUsage> {
    let attrs = &span.attributes;
    // Most spans carry no token counts; scanning their few keys once is cheaper than the
    // two dozen hashed lookups of the conventions' keys.
    let may_have_counts = attrs.keys().any(|key| key.contains(TOKEN_KEY_MARK));
    TOKEN_CONVENTIONS
        .iter()
        .filter(|_| may_have_counts)
        .find_map(|convention| {
            let read = |names: &[&str]| names.iter().find_map(|name| attrs.get(*name).and_then(count));
            let (input, output, total) = (read(convention.input), read(convention.output), read(convention.total));
            // Cache counts alone make no usage: skip their lookups (each hashes its key) for the
            // conventions a span does not follow, which are most of them.
            if input.is_none() && output.is_none() && total.is_none() {
                return None;
            }
            usage_from_counts(input, output, total, read(convention.cache_read), read(convention.cache_creation))
        })
        .or_else(|| llama_stack::usage(span, outputs))
        .or_else(|| outputs.and_then(usage_in_payload))
}

/// MLflow's rule: any of input, output or total makes a usage; a missing total is their sum.
pub(super) fn usage_from_counts(
    input: Option<i64>,
    output: Option<i64>,
    total: Option<i64>,
    cache_read: Option<i64>,
    cache_creation: Option<i64>,
) -> Option<TokenUsage> {
    if input.is_none() && output.is_none() && total.is_none() {
        return None;
    }
    let (input, output) = (input.unwrap_or(0), output.unwrap_or(0));
    Some(TokenUsage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: total.unwrap_or_else(|| input.saturating_add(output)),
        cache_read_input_tokens: cache_read,
        cache_creation_input_tokens: cache_creation,
    })
}

/// The `usage` block of a provider response kept as outputs (OpenAI, Anthropic, Responses API).
fn usage_in_payload(outputs: &Value) -> Option<TokenUsage> {
    let outputs = structured(outputs);
    let usage = outputs.get("usage")?.as_object()?;
    let read = |names: &[&str]| names.iter().find_map(|name| usage.get(*name).and_then(count));
    let cached = usage
        .get("prompt_tokens_details")
        .or_else(|| usage.get("input_tokens_details"))
        .and_then(|details| details.get("cached_tokens"))
        .and_then(count);
    usage_from_counts(
        read(&["prompt_tokens", "input_tokens"]),
        read(&["completion_tokens", "output_tokens"]),
        read(&["total_tokens"]),
        read(&["cache_read_input_tokens"]).or(cached),
        read(&["cache_creation_input_tokens"]),
    )
}

// ---------------------------------------------------------------------------------------------
// Model, provider, tools

/// Response model before request model: the resolved name is what was actually billed.
const MODEL_KEYS: &[&str] = &[
    "llm.response.model_name",
    "llm.model_name",
    "llm.request.model_name",
    "embedding.model_name",
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.request.model",
    "ai.response.model",
    "ai.model.id",
];

const PROVIDER_KEYS: &[&str] =
    &["llm.provider", "llm.system", "gen_ai.provider.name", "gen_ai.system", "ai.model.provider"];

pub(super) fn model(span: &Span, inputs: Option<&Value>, outputs: Option<&Value>) -> Option<String> {
    let attrs = &span.attributes;
    MODEL_KEYS.iter().find_map(|key| attrs.get(*key).and_then(text_of)).or_else(|| llama_stack::model(span)).or_else(
        || {
            [inputs, outputs].into_iter().flatten().find_map(|payload| {
                // `model_id` is how LLaMA Stack 0.2's native API names it.
                let payload = structured(payload);
                ["model", "model_id"].iter().find_map(|k| payload.get(*k).and_then(text_of))
            })
        },
    )
}

pub(super) fn provider(span: &Span) -> Option<String> {
    let attrs = &span.attributes;
    PROVIDER_KEYS.iter().find_map(|key| attrs.get(*key).and_then(text_of)).or_else(|| llama_stack::provider(span))
}

/// Tool definitions as OpenAI tools, from GenAI semconv, OpenInference or Traceloop.
pub(super) fn tool_definitions(attrs: &Map<String, Value>) -> Option<Value> {
    let entries = || attrs.iter().map(|(k, v)| (k.as_str(), v));
    let mut tools: Vec<Value> = Vec::new();
    if let Some(definitions) = attrs.get(key::GENAI_TOOL_DEFINITIONS) {
        match structured(definitions).into_owned() {
            Value::Array(items) => tools.extend(items.iter().filter_map(openai_tool)),
            single => tools.extend(openai_tool(&single)),
        }
    }
    if tools.is_empty() {
        let groups = messages::indexed(entries(), "llm.tools.");
        tools.extend(groups.values().filter_map(|g| messages::field(g, "tool.json_schema")).filter_map(openai_tool));
    }
    if tools.is_empty() {
        for group in messages::indexed(entries(), "llm.request.functions.").values() {
            let field = |name: &str| messages::field(group, name);
            let Some(name) = field("name").and_then(text_of) else {
                continue;
            };
            let mut function = Map::new();
            function.insert("name".into(), Value::String(name));
            if let Some(description) = field("description").filter(|v| is_meaningful(v)) {
                function.insert("description".into(), description.clone());
            }
            if let Some(parameters) = field("parameters").filter(|v| is_meaningful(v)) {
                function.insert("parameters".into(), structured(parameters).into_owned());
            }
            tools.push(json!({ "type": "function", "function": function }));
        }
    }
    (!tools.is_empty()).then_some(Value::Array(tools))
}

/// One tool definition in OpenAI's shape; `None` for anything that names no tool.
fn openai_tool(definition: &Value) -> Option<Value> {
    let definition = structured(definition);
    let object = definition.as_object()?;
    if object.get("function").is_some_and(Value::is_object) {
        return Some(definition.into_owned());
    }
    let name = object.get("name").and_then(text_of)?;
    let mut function = Map::new();
    function.insert("name".into(), Value::String(name));
    if let Some(description) = object.get("description").filter(|v| is_meaningful(v)) {
        function.insert("description".into(), description.clone());
    }
    let parameters = ["parameters", "input_schema", "inputSchema"].iter().find_map(|k| object.get(*k));
    if let Some(parameters) = parameters.filter(|v| is_meaningful(v)) {
        function.insert("parameters".into(), structured(parameters).into_owned());
    }
    Some(json!({ "type": "function", "function": function }))
}

#[cfg(test)]
mod tests {
    use super::{TOKEN_CONVENTIONS, TOKEN_KEY_MARK};

    /// `token_usage` skips spans whose keys lack the mark, so a key without it would never be read.
    #[test]
    fn every_token_key_carries_the_mark() {
        for convention in TOKEN_CONVENTIONS {
            let keys = [convention.input, convention.output, convention.total, convention.cache_read, convention.cache_creation];
            for key in keys.iter().flat_map(|names| names.iter()) {
                assert!(key.contains(TOKEN_KEY_MARK), "{key} lacks {TOKEN_KEY_MARK:?}");
            }
        }
    }
}
