//! Trace `order_by`: keys, aliases, tie-breakers and errors.

use super::*;

#[test]
fn default_order_is_newest_first_then_request_id() {
    assert_eq!(
        order_by(&[]).unwrap(),
        vec![
            order(TraceOrderKey::TimestampMs, false),
            order(TraceOrderKey::RequestId, true)
        ]
    );
}

#[test]
fn order_by_keys_and_aliases() {
    let cases = [
        ("experiment_id", TraceOrderKey::ExperimentId, true),
        ("timestamp DESC", TraceOrderKey::TimestampMs, false),
        ("timestamp_ms asc", TraceOrderKey::TimestampMs, true),
        (
            "attributes.timestamp_ms DESC",
            TraceOrderKey::TimestampMs,
            false,
        ),
        ("execution_time", TraceOrderKey::ExecutionTimeMs, true),
        (
            "trace.execution_time_ms DeSc",
            TraceOrderKey::ExecutionTimeMs,
            false,
        ),
        ("end_time", TraceOrderKey::EndTimeMs, true),
        ("end_time_ms DESC", TraceOrderKey::EndTimeMs, false),
        ("status", TraceOrderKey::Status, true),
        ("request_id DESC", TraceOrderKey::RequestId, false),
        ("name", TraceOrderKey::Name, true),
        ("run_id", TraceOrderKey::RunId, true),
        ("tags.k", TraceOrderKey::Tag("k".to_owned()), true),
        (
            "tag.`a.b` DESC",
            TraceOrderKey::Tag("a.b".to_owned()),
            false,
        ),
        ("tags.mlflow.traceName DESC", TraceOrderKey::Name, false),
        ("metadata.k", TraceOrderKey::Metadata("k".to_owned()), true),
        (
            "request_metadata.\"mlflow.trace.user\" DESC",
            TraceOrderKey::Metadata("mlflow.trace.user".to_owned()),
            false,
        ),
        (
            "request_metadata.mlflow.trace.session",
            TraceOrderKey::Metadata("mlflow.trace.session".to_owned()),
            true,
        ),
        ("metadata.mlflow.sourceRun", TraceOrderKey::RunId, true),
        ("  timestamp_ms   DESC ", TraceOrderKey::TimestampMs, false),
    ];
    for (element, key, ascending) in cases {
        assert_eq!(order_keys(&[element]), vec![(key, ascending)], "{element}");
    }
}

#[test]
fn tie_breakers_are_appended_unless_given() {
    assert_eq!(
        order_by(&["name"]).unwrap(),
        vec![
            order(TraceOrderKey::Name, true),
            order(TraceOrderKey::TimestampMs, false),
            order(TraceOrderKey::RequestId, true)
        ]
    );
    assert_eq!(
        order_by(&["timestamp ASC"]).unwrap(),
        vec![
            order(TraceOrderKey::TimestampMs, true),
            order(TraceOrderKey::RequestId, true)
        ]
    );
    assert_eq!(
        order_by(&["request_id DESC", "timestamp_ms"]).unwrap(),
        vec![
            order(TraceOrderKey::RequestId, false),
            order(TraceOrderKey::TimestampMs, true)
        ]
    );
}

#[test]
fn duplicate_order_by_keys_are_a_400() {
    for elements in [
        &["timestamp", "timestamp_ms DESC"],
        &["name", "tags.mlflow.traceName"],
        &["run_id", "metadata.mlflow.sourceRun"],
        &["tags.a", "tag.`a`"],
        &["status", "status DESC"],
    ] {
        let quoted: Vec<String> = elements.iter().map(|e| format!("'{e}'")).collect();
        assert_eq!(
            message(order_by(elements)),
            format!(
                "`order_by` contains duplicate fields: [{}]",
                quoted.join(", ")
            ),
            "{elements:?}"
        );
    }
    // The same name under different entities is not a duplicate.
    assert_eq!(order_keys(&["tags.a", "metadata.a"]).len(), 2);
}

#[test]
fn order_by_errors() {
    let cases = [
        ("", "Invalid order_by clause ''. Could not be parsed."),
        ("timestamp DESC name", "Invalid order_by clause 'timestamp DESC name'. Could not be parsed."),
        ("timestamp, name", "Invalid order_by clause 'timestamp, name'. Could not be parsed."),
        ("'name'", "Invalid order_by clause ''name''. Could not be parsed."),
        ("tags.`a", "Invalid order_by clause 'tags.`a'. Could not be parsed."),
        ("timestamp UP", "Invalid ordering key in order_by clause 'timestamp UP'."),
        (
            "client_request_id",
            "Invalid attribute key 'client_request_id' specified. Valid keys are '{'experiment_id', 'request_id', 'status', 'timestamp', 'timestamp_ms', 'execution_time', 'execution_time_ms', 'end_time', 'end_time_ms', 'name', 'run_id'}'",
        ),
        (
            "metadata.mlflow.trace.tokenUsage",
            "Ordering by reserved metadata 'mlflow.trace.tokenUsage' is not supported because it is represented by multiple columns.",
        ),
        (
            "request_metadata.`mlflow.trace.cost` DESC",
            "Ordering by reserved metadata 'mlflow.trace.cost' is not supported because it is represented by multiple columns.",
        ),
        (
            "span.name",
            "Invalid order_by entity 'span' with key 'name'. Traces can be ordered by attributes, tags and request_metadata only.",
        ),
        (
            "feedback.score DESC",
            "Invalid order_by entity 'feedback' with key 'score'. Traces can be ordered by attributes, tags and request_metadata only.",
        ),
        ("params.x", "Invalid entity type 'params'. Valid values are {'attribute', 'attributes', 'trace', 'tag', 'tags', 'request_metadata', 'metadata', 'span', 'feedback', 'expectation', 'issue'}"),
    ];
    for (element, expected) in cases {
        assert_eq!(message(order_by(&[element])), expected, "{element}");
    }
}
