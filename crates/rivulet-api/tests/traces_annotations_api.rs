//! What gets attached to a trace, through the router on a real SQLite store: tags, links to
//! runs, and assessments with their updates, overrides and deletion.

mod common;

use axum::http::{Method, StatusCode};
use common::{api, assert_error, hex_trace_id, locations, trace_ids};
use serde_json::json;

#[tokio::test]
async fn trace_tags_set_and_delete() {
    let api = api().await;
    let exp = api.new_experiment("tags").await;
    let trace_id = hex_trace_id(0x33);
    api.start_trace(&exp, &trace_id, json!({})).await;

    let long_value = "v".repeat(9000);
    assert_eq!(api.ok(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k1", "value": "v1"}))).await, json!({}));
    api.ok(Method::PATCH, &format!("/api/3.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k2", "value": long_value}))).await;
    api.ok(Method::PATCH, &format!("/ajax-api/3.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "mlflow.traceName", "value": "renamed"}))).await;
    let got = api.trace_info(&trace_id).await;
    assert_eq!(got["tags"]["k1"], "v1");
    assert_eq!(got["tags"]["k2"].as_str().unwrap().len(), 4096, "tag values are cut to 4096 in TraceInfo JSON");
    assert_eq!(got["tags"]["mlflow.traceName"], "renamed");

    // Delete with the key in the JSON body (the client) or in the query string (the UI).
    api.ok(Method::DELETE, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k1"}))).await;
    api.ok(Method::DELETE, &format!("/ajax-api/3.0/mlflow/traces/{trace_id}/tags?key=k2"), None).await;
    let got = api.trace_info(&trace_id).await;
    assert!(got["tags"].get("k1").is_none() && got["tags"].get("k2").is_none(), "{got}");

    let (status, body) = api.call(Method::DELETE, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k1"}))).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", &format!("No trace tag with key 'k1' for trace with ID '{trace_id}'"));
    let (status, body) = api.call(Method::DELETE, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({}))).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'key'");
    let (status, body) = api.call(Method::PATCH, "/api/2.0/mlflow/traces/tr-none/tags", Some(json!({"key": "a", "value": "b"}))).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Trace with ID 'tr-none' not found.");
    let (status, body) = api.call(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"value": "b"}))).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'key'");
    let (status, body) = api.call(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k".repeat(251), "value": "b"}))).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "maximum length of 250");
    let (status, body) = api
        .call(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "mlflow.trace.spansLocation", "value": "x"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn link_traces_to_run() {
    let api = api().await;
    let exp = api.new_experiment("links").await;
    let run = api.ok_post("/api/2.0/mlflow/runs/create", json!({"experiment_id": exp, "start_time": 1})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for n in 1..=3u8 {
        api.start_trace(&exp, &hex_trace_id(n), json!({})).await;
    }
    let body = api
        .ok_post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": [hex_trace_id(1), hex_trace_id(2)], "run_id": run_id}))
        .await;
    assert_eq!(body, json!({}));
    // Idempotent.
    api.ok_post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": [hex_trace_id(1)], "run_id": run_id})).await;
    let linked = api.search(json!({"locations": locations(&exp), "filter": format!("attribute.run_id = '{run_id}'")})).await;
    let mut ids = trace_ids(&linked);
    ids.sort();
    assert_eq!(ids, vec![hex_trace_id(1), hex_trace_id(2)]);

    let too_many: Vec<String> = (0..101).map(|n| format!("tr-{n}")).collect();
    let (status, body) = api.post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": too_many, "run_id": run_id})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "more than 100 traces");
    let (status, body) = api.post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": [hex_trace_id(1)]})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'run_id'");
    let (status, body) = api.post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": ["tr-none"], "run_id": run_id})).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "tr-none");
}

#[tokio::test]
async fn assessments_crud_and_overrides() {
    let api = api().await;
    let exp = api.new_experiment("assess").await;
    let trace_id = hex_trace_id(0x44);
    api.start_trace(&exp, &trace_id, json!({})).await;
    let base = format!("/api/3.0/mlflow/traces/{trace_id}/assessments");

    let created = api
        .ok_post(
            &base,
            json!({"assessment": {
                "assessment_name": "relevance",
                "trace_id": trace_id,
                "source": {"source_type": "HUMAN", "source_id": "alice"},
                "feedback": {"value": "yes"},
                "rationale": "looks right",
                "metadata": {"reviewer": "alice"},
                "span_id": "0101010101010101",
            }}),
        )
        .await;
    let feedback = &created["assessment"];
    let feedback_id = feedback["assessment_id"].as_str().unwrap().to_string();
    assert!(feedback_id.starts_with("a-") && feedback_id.len() == 34, "{feedback_id}");
    assert_eq!(feedback["assessment_name"], "relevance");
    assert_eq!(feedback["trace_id"], trace_id);
    assert_eq!(feedback["source"], json!({"source_type": "HUMAN", "source_id": "alice"}));
    assert_eq!(feedback["feedback"], json!({"value": "yes"}));
    assert_eq!(feedback["rationale"], "looks right");
    assert_eq!(feedback["metadata"], json!({"reviewer": "alice"}));
    assert_eq!(feedback["span_id"], "0101010101010101");
    assert_eq!(feedback["valid"], true);
    assert!(feedback["create_time"].as_str().unwrap().ends_with('Z'));
    assert!(feedback["last_update_time"].as_str().unwrap().ends_with('Z'));

    // A structured expectation in its serialized form (how the client sends dicts).
    let created = api
        .ok_post(
            &base,
            json!({"assessment": {
                "assessment_name": "expected",
                "source": {"source_type": "CODE", "source_id": "test"},
                "expectation": {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"answer\":[1,2]}"}},
            }}),
        )
        .await;
    let expectation_id = created["assessment"]["assessment_id"].as_str().unwrap().to_string();
    assert_eq!(
        created["assessment"]["expectation"],
        json!({"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"answer\": [1, 2]}"}})
    );

    // Get, as the client calls it (ids repeated in the query).
    let got = api.ok_get(&format!("{base}/{feedback_id}?trace_id={trace_id}&assessment_id={feedback_id}")).await;
    assert_eq!(got["assessment"]["assessment_id"], feedback_id);

    // Update: the client's camelCase mask; metadata merges.
    let updated = api
        .ok(
            Method::PATCH,
            &format!("{base}/{feedback_id}"),
            Some(json!({
                "assessment": {"assessment_name": "relevance2", "feedback": {"value": 0.5}, "metadata": {"round": "2"}},
                "update_mask": "assessmentName,feedback,metadata",
            })),
        )
        .await;
    let updated = &updated["assessment"];
    assert_eq!(updated["assessment_name"], "relevance2");
    assert_eq!(updated["feedback"]["value"], 0.5);
    assert_eq!(updated["metadata"], json!({"reviewer": "alice", "round": "2"}));
    assert_eq!(updated["rationale"], "looks right", "fields outside the mask keep their values");
    assert_eq!(updated["source"]["source_id"], "alice");
    let (status, body) = api
        .call(
            Method::PATCH,
            &format!("{base}/{expectation_id}"),
            Some(json!({"assessment": {"feedback": {"value": 1}}, "update_mask": "feedback"})),
        )
        .await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "expectation");

    // Override: the replaced feedback becomes invalid, and valid again when the override goes.
    let override_body = api
        .ok_post(
            &base,
            json!({"assessment": {
                "assessment_name": "relevance2",
                "source": {"source_type": "LLM_JUDGE", "source_id": "judge"},
                "feedback": {"value": false, "error": {"error_code": "E1", "error_message": "flaky"}},
                "overrides": feedback_id,
            }}),
        )
        .await;
    let override_id = override_body["assessment"]["assessment_id"].as_str().unwrap().to_string();
    assert_eq!(override_body["assessment"]["overrides"], feedback_id);
    assert_eq!(override_body["assessment"]["feedback"]["error"], json!({"error_code": "E1", "error_message": "flaky"}));
    let old = api.ok_get(&format!("{base}/{feedback_id}")).await;
    assert_eq!(old["assessment"]["valid"], false);

    // Assessments ride along with the trace info and with search results.
    let info = api.ok_get(&format!("/api/3.0/mlflow/traces/{trace_id}")).await;
    assert_eq!(info["trace"]["trace_info"]["assessments"].as_array().unwrap().len(), 3);
    let found = api.search(json!({"locations": locations(&exp)})).await;
    assert_eq!(found["traces"][0]["assessments"].as_array().unwrap().len(), 3);

    // Delete (ids from the path, body as the client sends it); idempotent.
    let delete_body = json!({"trace_id": trace_id, "assessment_id": override_id});
    assert_eq!(api.ok(Method::DELETE, &format!("{base}/{override_id}"), Some(delete_body.clone())).await, json!({}));
    api.ok(Method::DELETE, &format!("{base}/{override_id}"), Some(delete_body)).await;
    let old = api.ok_get(&format!("{base}/{feedback_id}")).await;
    assert_eq!(old["assessment"]["valid"], true);
    let (status, body) = api.get(&format!("{base}/{override_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");

    // Bad input.
    let valid = json!({"assessment_name": "n", "source": {"source_type": "HUMAN", "source_id": "a"}, "feedback": {"value": 1}});
    for (patch, message) in [
        (json!({"assessment_name": ""}), "assessment_name"),
        (json!({"source": null}), "source"),
        (json!({"source": {"source_type": "ROBOT"}}), "ROBOT"),
        (json!({"feedback": null}), "one of feedback, expectation or issue"),
        (json!({"expectation": {"value": 1}}), "only have one of"),
        (json!({"create_time": "noon"}), "create_time"),
    ] {
        let mut assessment = valid.clone();
        for (k, v) in patch.as_object().unwrap() {
            assessment[k] = v.clone();
        }
        let (status, body) = api.post(&base, json!({"assessment": assessment})).await;
        assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", message);
    }
    let (status, body) = api.post(&base, json!({})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'assessment'");
    let (status, body) = api.post("/api/3.0/mlflow/traces/tr-none/assessments", json!({"assessment": valid})).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Trace with ID 'tr-none' not found.");
    let (status, body) = api
        .post(&base, json!({"assessment": {"assessment_name": "x", "source": {"source_type": "HUMAN"}, "feedback": {"value": 1}, "overrides": "a-nope"}}))
        .await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "a-nope");
}

#[tokio::test]
async fn start_trace_v3_stores_its_assessments_once() {
    let api = api().await;
    let exp = api.new_experiment("start-assess").await;
    let trace_id = hex_trace_id(0x55);
    let assessments = json!({"assessments": [{
        "assessment_id": "a-00000000000000000000000000000001",
        "assessment_name": "correct",
        "trace_id": trace_id,
        "source": {"source_type": "CODE", "source_id": "scorer"},
        "create_time": "2026-11-27T07:44:30Z",
        "feedback": {"value": true},
    }]});
    for _ in 0..2 {
        let info = api.start_trace(&exp, &trace_id, assessments.clone()).await;
        let stored = info["assessments"].as_array().unwrap();
        assert_eq!(stored.len(), 1, "a retried StartTraceV3 adds nothing: {info}");
        assert_eq!(stored[0]["assessment_id"], "a-00000000000000000000000000000001");
        assert_eq!(stored[0]["create_time"], "2026-11-27T07:44:30Z");
        assert_eq!(stored[0]["feedback"], json!({"value": true}));
    }
    assert_eq!(api.trace_info(&trace_id).await["assessments"].as_array().unwrap().len(), 1);
}
