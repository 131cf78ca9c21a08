//! Per-trace roll-ups kept correct as spans arrive in any order, over any number of requests,
//! possibly twice: time range, state, previews from the best source, name, session, user and
//! tree-aware token totals.

use std::collections::{HashMap, HashSet};

use super::digest::Preview;
use super::model::{PreparedSpan, TraceState};
use super::TokenUsage;

/// What Rivulet keeps about a trace between batches (MLflow's `trace_info` columns plus the
/// preview ranks and token-carrying spans in Rivulet's own roll-up table).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRollup {
    pub experiment_id: i64,
    pub timestamp_ms: i64,
    /// `timestamp_ms + execution_time_ms`, when any span has ended.
    pub end_ms: Option<i64>,
    pub state: TraceState,
    pub request_preview: Option<Preview>,
    pub response_preview: Option<Preview>,
    pub name: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// Spans that carry token usage: (span id, usage).
    pub usage_spans: Vec<(String, TokenUsage)>,
    /// Set once StartTraceV3 supplied the trace's times and state: spans no longer move them.
    pub finalized: bool,
    /// The service of the trace's first batch (its root span's, when that batch has it), fixed
    /// when the trace is first stored. A span is attributed to it unless the span's own
    /// service says otherwise, so the store records services only where they differ.
    pub service_name: Option<String>,
}

impl TraceRollup {
    pub fn execution_time_ms(&self) -> Option<i64> {
        self.end_ms.map(|end| (end - self.timestamp_ms).max(0))
    }
}

fn better(current: &Option<Preview>, candidate: &Option<Preview>) -> bool {
    match (current, candidate) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(current), Some(candidate)) => candidate.rank > current.rank,
    }
}

/// Folds a trace's newly arrived spans into what was stored before (`None` for a new trace).
pub fn merge_spans(existing: Option<TraceRollup>, experiment_id: i64, spans: &[&PreparedSpan]) -> TraceRollup {
    let is_new = existing.is_none();
    let mut rollup = existing.unwrap_or(TraceRollup {
        experiment_id,
        timestamp_ms: i64::MAX,
        end_ms: None,
        state: TraceState::InProgress,
        request_preview: None,
        response_preview: None,
        name: None,
        session_id: None,
        user_id: None,
        usage_spans: Vec::new(),
        finalized: false,
        service_name: None,
    });
    // Earlier spans of a request win ties for the request preview, later ones for the response.
    let mut ordered: Vec<&&PreparedSpan> = spans.iter().collect();
    ordered.sort_by_key(|s| (s.parent_span_id.is_some(), s.start_time_unix_nano));
    // Only a trace's first batch names its service: spans stored earlier were recorded
    // against whatever the trace had then, and must keep meaning the same.
    if is_new {
        rollup.service_name = ordered.iter().find_map(|span| span.service_name.as_deref().filter(|name| !name.is_empty())).map(service_key);
    }
    for span in ordered {
        let start_ms = span.start_time_unix_nano / 1_000_000;
        if !rollup.finalized {
            rollup.timestamp_ms = rollup.timestamp_ms.min(start_ms);
            if span.end_time_unix_nano > 0 {
                let end_ms = span.end_time_unix_nano / 1_000_000;
                rollup.end_ms = Some(rollup.end_ms.map_or(end_ms, |current| current.max(end_ms)));
            }
        }
        let is_root = span.parent_span_id.is_none();
        if is_root {
            if matches!(rollup.state, TraceState::InProgress | TraceState::Unspecified) {
                rollup.state = if span.status == "ERROR" { TraceState::Error } else { TraceState::Ok };
            }
            if rollup.name.is_none() && !span.name.is_empty() {
                rollup.name = Some(span.name.clone());
            }
        }
        let digest = &span.digest;
        if better(&rollup.request_preview, &digest.request_preview) {
            rollup.request_preview = digest.request_preview.clone();
        }
        if better(&rollup.response_preview, &digest.response_preview) {
            rollup.response_preview = digest.response_preview.clone();
        }
        if rollup.session_id.is_none() {
            rollup.session_id = digest.session_id.clone();
        }
        if rollup.user_id.is_none() {
            rollup.user_id = digest.user_id.clone();
        }
        if let Some(usage) = digest.token_usage {
            match rollup.usage_spans.iter_mut().find(|(id, _)| *id == span.span_id) {
                Some(entry) => entry.1 = usage,
                None => rollup.usage_spans.push((span.span_id.clone(), usage)),
            }
        }
        for (key, value) in &digest.trace_tags {
            if key == super::trace_keys::TRACE_NAME {
                rollup.name = Some(value.clone());
            }
        }
    }
    if rollup.timestamp_ms == i64::MAX {
        rollup.timestamp_ms = 0;
    }
    rollup
}

/// Sums token usage over a trace, counting a span only if none of its ancestors carries usage
/// (an agent span that reports its children's total must not double them). `parents` maps
/// every known span id of the trace to its parent.
pub fn total_usage(usage_spans: &[(String, TokenUsage)], parents: &HashMap<String, Option<String>>) -> Option<TokenUsage> {
    if usage_spans.is_empty() {
        return None;
    }
    let carriers: HashSet<&str> = usage_spans.iter().map(|(id, _)| id.as_str()).collect();
    let mut total = TokenUsage::default();
    for (span_id, usage) in usage_spans {
        let mut seen = HashSet::from([span_id.clone()]);
        let mut cursor = parents.get(span_id).cloned().flatten();
        let mut shadowed = false;
        while let Some(parent) = cursor {
            if !seen.insert(parent.clone()) {
                break; // a malformed cycle; stop rather than loop forever
            }
            if carriers.contains(parent.as_str()) {
                shadowed = true;
                break;
            }
            cursor = parents.get(&parent).cloned().flatten();
        }
        if !shadowed {
            total.add(usage);
        }
    }
    Some(total)
}

/// Longest service name stored, in characters (MLflow-style VARCHAR(250) columns).
pub const MAX_SERVICE_NAME_CHARS: usize = 250;

/// A service name as stored: at most [`MAX_SERVICE_NAME_CHARS`] characters.
pub fn service_key(name: &str) -> String {
    match name.char_indices().nth(MAX_SERVICE_NAME_CHARS) {
        Some((end, _)) => name[..end].to_owned(),
        None => name.to_owned(),
    }
}

/// What a span's own service row must say, given its trace's service: `None` when the span
/// needs no row (it came from the trace's service, or neither has one), the span's service
/// when it differs, and an empty name for a span without a service in a trace that has one,
/// which would otherwise be attributed to the trace's service.
pub fn span_service_row(trace_service: Option<&str>, span_service: Option<&str>) -> Option<String> {
    let span_service = span_service.filter(|name| !name.is_empty()).map(service_key);
    match (trace_service, span_service) {
        (Some(trace), Some(span)) if trace == span => None,
        (_, Some(span)) => Some(span),
        (Some(_), None) => Some(String::new()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::digest::SpanDigest;

    fn span(id: &str, parent: Option<&str>, start_ms: i64, end_ms: i64, status: &'static str) -> PreparedSpan {
        PreparedSpan {
            trace_id: "tr-1".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            name: format!("span-{id}"),
            status,
            start_time_unix_nano: start_ms * 1_000_000,
            end_time_unix_nano: end_ms * 1_000_000,
            content: String::new(),
            digest: SpanDigest::default(),
            service_name: None,
        }
    }

    #[test]
    fn trace_without_root_is_in_progress_until_root_arrives() {
        let child = span("b", Some("a"), 20, 30, "OK");
        let first = merge_spans(None, 1, &[&child]);
        assert_eq!((first.state, first.timestamp_ms, first.end_ms), (TraceState::InProgress, 20, Some(30)));
        let root = span("a", None, 10, 40, "ERROR");
        let second = merge_spans(Some(first), 1, &[&root]);
        assert_eq!((second.state, second.timestamp_ms, second.execution_time_ms()), (TraceState::Error, 10, Some(30)));
        assert_eq!(second.name.as_deref(), Some("span-a"));
        // A duplicate root with another status does not flip the state.
        let again = merge_spans(Some(second), 1, &[&span("a", None, 10, 40, "OK")]);
        assert_eq!(again.state, TraceState::Error);
    }

    #[test]
    fn a_trace_takes_its_service_from_its_first_batch_root_first() {
        let service = |name: &str| Some(name.to_string());
        let mut child = span("b", Some("a"), 5, 30, "OK");
        child.service_name = service("retriever");
        let mut root = span("a", None, 10, 40, "OK");
        root.service_name = service("agent");
        let first = merge_spans(None, 1, &[&child, &root]);
        assert_eq!(first.service_name.as_deref(), Some("agent"), "the root's service, though the child started first");
        let mut later = span("c", Some("a"), 50, 60, "OK");
        later.service_name = service("gateway");
        assert_eq!(merge_spans(Some(first), 1, &[&later]).service_name.as_deref(), Some("agent"), "later batches keep it");
        let stored_without = TraceRollup { service_name: None, ..merge_spans(None, 1, &[&span("x", None, 1, 2, "OK")]) };
        assert_eq!(merge_spans(Some(stored_without), 1, &[&later]).service_name, None, "a stored trace without one never gains one");
        let mut long = span("l", None, 1, 2, "OK");
        long.service_name = Some("é".repeat(MAX_SERVICE_NAME_CHARS + 5));
        assert_eq!(merge_spans(None, 1, &[&long]).service_name.unwrap().chars().count(), MAX_SERVICE_NAME_CHARS);
    }

    #[test]
    fn span_service_rows_are_kept_only_where_the_trace_service_would_be_wrong() {
        assert_eq!(span_service_row(Some("agent"), Some("agent")), None);
        assert_eq!(span_service_row(Some("agent"), Some("tool")).as_deref(), Some("tool"));
        assert_eq!(span_service_row(None, Some("tool")).as_deref(), Some("tool"));
        assert_eq!(span_service_row(Some("agent"), None).as_deref(), Some(""), "no service stays no service");
        assert_eq!(span_service_row(Some("agent"), Some("")).as_deref(), Some(""));
        assert_eq!(span_service_row(None, None), None);
        assert_eq!(span_service_row(None, Some("")), None);
        let long = "s".repeat(MAX_SERVICE_NAME_CHARS + 1);
        assert_eq!(span_service_row(Some(&long[..MAX_SERVICE_NAME_CHARS]), Some(&long)), None, "compared as stored");
    }

    #[test]
    fn previews_come_from_the_best_source() {
        let mut llm = span("b", Some("a"), 20, 30, "OK");
        llm.digest.request_preview = Some(Preview { rank: 2, text: "from llm".into() });
        let rollup = merge_spans(None, 1, &[&llm]);
        assert_eq!(rollup.request_preview.as_ref().unwrap().text, "from llm");
        let mut root = span("a", None, 10, 40, "OK");
        root.digest.request_preview = Some(Preview { rank: 3, text: "from root".into() });
        let rollup = merge_spans(Some(rollup), 1, &[&root]);
        assert_eq!(rollup.request_preview.unwrap().text, "from root");
    }

    #[test]
    fn token_usage_is_tree_aware_and_not_double_counted() {
        let usage = |n| TokenUsage { input_tokens: n, output_tokens: n, total_tokens: 2 * n, ..Default::default() };
        let parents: HashMap<String, Option<String>> = [
            ("root".to_string(), None),
            ("agent".to_string(), Some("root".to_string())),
            ("llm1".to_string(), Some("agent".to_string())),
            ("llm2".to_string(), Some("root".to_string())),
        ]
        .into_iter()
        .collect();
        let spans = vec![("agent".to_string(), usage(10)), ("llm1".to_string(), usage(10)), ("llm2".to_string(), usage(5))];
        assert_eq!(total_usage(&spans, &parents).unwrap().total_tokens, 30);
        let cyclic: HashMap<String, Option<String>> =
            [("a".to_string(), Some("b".to_string())), ("b".to_string(), Some("a".to_string()))].into_iter().collect();
        assert_eq!(total_usage(&[("a".to_string(), usage(1))], &cyclic).unwrap().total_tokens, 2);
    }
}
