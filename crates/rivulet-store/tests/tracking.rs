//! Store conformance: the tracking store's behaviour, run identically on SQLite and PostgreSQL.

#[macro_use]
mod common;

use rivulet_core::search::{parse_experiment_filter, parse_run_filter, parse_run_order_by};
use rivulet_core::store::{ExperimentSearch, LoggedModelSearch, MetricHistoryQuery, MetricIntervalQuery, RunSearch, TrackingStore};
use rivulet_core::tracking::validation::{prepare_new_run, LongValues};
use rivulet_core::tracking::{
    Dataset, DatasetInput, LifecycleStage, LogBatch, LoggedModelStatus, Metric, NewExperiment, NewLoggedModel,
    RunStatus, RunUpdate, Tag, ViewType,
};
use rivulet_core::ErrorCode;
use rivulet_store::{Store, StoreSettings, StoreUri};

async fn open(uri: &StoreUri) -> Store {
    Store::open(uri, StoreSettings::default()).await.expect("open store")
}

fn experiment(name: &str) -> NewExperiment {
    NewExperiment { name: name.to_string(), artifact_location: None, tags: vec![] }
}

async fn new_run(store: &Store, experiment_id: i64, name: &str) -> String {
    let run = prepare_new_run(experiment_id, Some("tester".into()), Some(name.into()), Some(1_000), vec![], LongValues::Truncate).unwrap();
    store.create_run(run).await.unwrap().info.run_id
}

fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric { key: key.into(), value, timestamp, step }
}

async fn search(store: &Store, experiment_id: i64, filter: &str, order_by: &[&str]) -> Vec<String> {
    let search = RunSearch {
        experiment_ids: vec![experiment_id],
        filter: parse_run_filter(filter).unwrap(),
        order_by: parse_run_order_by(&order_by.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
        view_type: ViewType::ActiveOnly,
        max_results: 1000,
        offset: 0,
    };
    store.search_runs(&search).await.unwrap().items.into_iter().map(|r| r.info.run_name.unwrap()).collect()
}

async fn default_experiment_exists(store: Store) {
    let default = store.get_experiment(0).await.unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(default.artifact_location.as_deref(), Some("mlflow-artifacts:/0"));
    assert_eq!(default.lifecycle_stage, LifecycleStage::Active);
    let id = store.create_experiment(experiment("first")).await.unwrap();
    assert!(id >= 1, "new experiments never reuse id 0");
    assert_eq!(store.get_experiment(id).await.unwrap().artifact_location.unwrap(), format!("mlflow-artifacts:/{id}"));
}

async fn experiment_lifecycle(store: Store) {
    let mut new = experiment("exp-a");
    new.tags = vec![Tag::new("team", "ml")];
    let id = store.create_experiment(new).await.unwrap();
    let err = store.create_experiment(experiment("exp-a")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ResourceAlreadyExists);
    assert!(!err.message.to_lowercase().contains("insert"), "no SQL in messages: {}", err.message);
    let got = store.get_experiment_by_name("exp-a").await.unwrap();
    assert_eq!((got.experiment_id, got.tags.clone()), (id, vec![Tag::new("team", "ml")]));

    let run_id = new_run(&store, id, "r1").await;
    store.delete_experiment(id).await.unwrap();
    assert_eq!(store.get_run(&run_id).await.unwrap().info.lifecycle_stage, LifecycleStage::Deleted);
    assert_eq!(store.delete_experiment(id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    // A deleted experiment keeps its name reserved.
    assert_eq!(store.create_experiment(experiment("exp-a")).await.unwrap_err().code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(store.rename_experiment(id, "other").await.unwrap_err().code, ErrorCode::InvalidState);
    assert_eq!(store.set_experiment_tag(id, Tag::new("k", "v")).await.unwrap_err().code, ErrorCode::InvalidParameterValue);
    assert_eq!(store.get_experiment(id).await.unwrap().lifecycle_stage, LifecycleStage::Deleted);

    store.restore_experiment(id).await.unwrap();
    assert_eq!(store.get_run(&run_id).await.unwrap().info.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(store.restore_experiment(id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    store.rename_experiment(id, "exp-b").await.unwrap();
    assert_eq!(store.get_experiment_by_name("exp-a").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    store.set_experiment_tag(id, Tag::new("team", "infra")).await.unwrap();
    assert_eq!(store.get_experiment(id).await.unwrap().tags, vec![Tag::new("team", "infra")]);
    store.delete_experiment_tag(id, "team").await.unwrap();
    assert_eq!(store.delete_experiment_tag(id, "team").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_experiment(9_999).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

async fn search_experiments_filters_orders_and_pages(store: Store) {
    for name in ["alpha-1", "alpha-2", "beta-1", "Alpha-3"] {
        let id = store.create_experiment(experiment(name)).await.unwrap();
        if name == "beta-1" {
            store.set_experiment_tag(id, Tag::new("kind", "beta")).await.unwrap();
        }
    }
    let names = |page: Vec<rivulet_core::tracking::Experiment>| page.into_iter().map(|e| e.name).collect::<Vec<_>>();
    let mut search = ExperimentSearch {
        filter: parse_experiment_filter("name LIKE 'alpha%'").unwrap(),
        max_results: 10,
        ..Default::default()
    };
    search.order_by = rivulet_core::search::parse_experiment_order_by(&["name ASC".to_string()]).unwrap();
    assert_eq!(names(store.search_experiments(&search).await.unwrap().items), vec!["alpha-1", "alpha-2"]);
    search.filter = parse_experiment_filter("name ILIKE 'alpha%'").unwrap();
    assert_eq!(names(store.search_experiments(&search).await.unwrap().items), vec!["Alpha-3", "alpha-1", "alpha-2"]);
    search.filter = parse_experiment_filter("tags.kind = 'beta'").unwrap();
    assert_eq!(names(store.search_experiments(&search).await.unwrap().items), vec!["beta-1"]);

    let mut seen = Vec::new();
    let mut search = ExperimentSearch { max_results: 2, ..Default::default() };
    loop {
        let page = store.search_experiments(&search).await.unwrap();
        seen.extend(names(page.items));
        match page.next_page_token {
            Some(token) => search.offset = rivulet_core::page::decode_offset_token(Some(&token)).unwrap(),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, vec!["Alpha-3", "Default", "alpha-1", "alpha-2", "beta-1"]);
}

async fn run_lifecycle_and_updates(store: Store) {
    let id = store.create_experiment(experiment("runs")).await.unwrap();
    let run = prepare_new_run(id, None, None, Some(5), vec![Tag::new("t", "v")], LongValues::Truncate).unwrap();
    let created = store.create_run(run).await.unwrap();
    let run_id = created.info.run_id.clone();
    assert_eq!(run_id.len(), 32);
    assert_eq!(created.info.artifact_uri.as_deref(), Some(format!("mlflow-artifacts:/{id}/{run_id}/artifacts").as_str()));
    let name = created.info.run_name.clone().unwrap();
    // A run created without a user holds '' as MLflow writes it (MLflow's store fails on NULL).
    assert_eq!(store.get_run(&run_id).await.unwrap().info.user_id.as_deref(), Some(""));
    let fetched = store.get_run(&run_id).await.unwrap();
    assert_eq!(fetched.info.status, RunStatus::Running);
    assert!(fetched.data.tags.contains(&Tag::new("mlflow.runName", name.as_str())));

    let info = store
        .update_run(&run_id, RunUpdate { status: Some(RunStatus::Finished), end_time: Some(99), run_name: Some("renamed".into()) })
        .await
        .unwrap();
    assert_eq!((info.status, info.end_time, info.run_name.as_deref()), (RunStatus::Finished, Some(99), Some("renamed")));
    assert!(store.get_run(&run_id).await.unwrap().data.tags.contains(&Tag::new("mlflow.runName", "renamed")));

    store.delete_run(&run_id).await.unwrap();
    store.delete_run(&run_id).await.unwrap();
    let err = store.log_batch(&run_id, LogBatch { tags: vec![Tag::new("a", "b")], ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    assert!(err.message.contains("must be in the 'active' state"));
    store.restore_run(&run_id).await.unwrap();
    store.log_batch(&run_id, LogBatch { tags: vec![Tag::new("a", "b")], ..Default::default() }).await.unwrap();
    store.delete_run_tag(&run_id, "a").await.unwrap();
    assert_eq!(store.delete_run_tag(&run_id, "a").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_run("0123456789abcdef0123456789abcdef").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

async fn params_are_immutable_and_batches_atomic(store: Store) {
    let id = store.create_experiment(experiment("params")).await.unwrap();
    let run_id = new_run(&store, id, "p").await;
    store.log_batch(&run_id, LogBatch { params: vec![Tag::new("lr", "0.1")], ..Default::default() }).await.unwrap();
    store.log_batch(&run_id, LogBatch { params: vec![Tag::new("lr", "0.1")], ..Default::default() }).await.unwrap();
    let batch = LogBatch {
        metrics: vec![metric("loss", 1.0, 1, 0)],
        params: vec![Tag::new("lr", "0.2"), Tag::new("new", "x")],
        tags: vec![Tag::new("t", "1")],
    };
    let err = store.log_batch(&run_id, batch).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    assert!(err.message.contains("Changing param values is not allowed"), "{}", err.message);
    let run = store.get_run(&run_id).await.unwrap();
    assert!(run.data.metrics.is_empty(), "a rejected batch writes nothing");
    assert_eq!(run.data.params, vec![Tag::new("lr", "0.1")]);
    assert!(!run.data.tags.iter().any(|t| t.key == "t"));
}

async fn metrics_latest_nan_infinity_and_history(store: Store) {
    let id = store.create_experiment(experiment("metrics")).await.unwrap();
    let run_id = new_run(&store, id, "m").await;
    let batch = LogBatch {
        metrics: vec![
            metric("acc", 0.5, 10, 1),
            metric("acc", 0.7, 5, 2),
            metric("acc", 0.6, 20, 1),
            metric("acc", 0.7, 5, 2),
            metric("nan", f64::NAN, 1, 0),
            metric("inf", f64::INFINITY, 1, 0),
            metric("neg", f64::NEG_INFINITY, 1, 0),
        ],
        ..Default::default()
    };
    store.log_batch(&run_id, batch).await.unwrap();
    // An older step logged later does not move the latest value back.
    store.log_batch(&run_id, LogBatch { metrics: vec![metric("acc", 0.9, 30, 0)], ..Default::default() }).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    let latest = |key: &str| run.data.metrics.iter().find(|m| m.key == key).unwrap().clone();
    assert_eq!((latest("acc").value, latest("acc").step), (0.7, 2));
    assert!(latest("nan").value.is_nan());
    assert_eq!(latest("inf").value, f64::MAX);
    assert_eq!(latest("neg").value, -f64::MAX);

    let query = MetricHistoryQuery { run_id: run_id.clone(), metric_key: "acc".into(), max_results: None, offset: 0 };
    let history = store.get_metric_history(&query).await.unwrap().unwrap();
    let points: Vec<(i64, i64, f64)> = history.items.iter().map(|m| (m.metric.timestamp, m.metric.step, m.metric.value)).collect();
    assert_eq!(points, vec![(5, 2, 0.7), (10, 1, 0.5), (20, 1, 0.6), (30, 0, 0.9)], "identical re-logs collapse, order is (timestamp, step, value)");
    let paged = MetricHistoryQuery { max_results: Some(3), ..query.clone() };
    let first = store.get_metric_history(&paged).await.unwrap().unwrap();
    assert_eq!(first.items.len(), 3);
    let offset = rivulet_core::page::decode_offset_token(first.next_page_token.as_deref()).unwrap();
    let second = store.get_metric_history(&MetricHistoryQuery { offset, ..paged }).await.unwrap().unwrap();
    assert_eq!((second.items.len(), second.next_page_token), (1, None));
    let unknown = MetricHistoryQuery { run_id: "0".repeat(32), ..query };
    assert!(store.get_metric_history(&unknown).await.unwrap().is_none());

    let steps: Vec<Metric> = (0..1000).map(|step| metric("curve", step as f64, step, step)).collect();
    store.log_batch(&run_id, LogBatch { metrics: steps, ..Default::default() }).await.unwrap();
    let interval = MetricIntervalQuery { run_ids: vec![run_id.clone()], metric_key: "curve".into(), start_step: None, end_step: None, max_results: 10 };
    let sampled = store.get_metric_history_bulk_interval(&interval).await.unwrap();
    assert_eq!(sampled.len(), 10);
    assert_eq!((sampled[0].metric.step, sampled[9].metric.step), (0, 999));
}

async fn search_runs_filters_and_orders(store: Store) {
    let id = store.create_experiment(experiment("search")).await.unwrap();
    let other = store.create_experiment(experiment("elsewhere")).await.unwrap();
    for (name, acc, lr, tag) in [("a", Some(0.9), "0.1", "blue"), ("b", Some(0.5), "0.2", "green"), ("c", None, "0.1", "bluish"), ("d", Some(f64::NAN), "0.3", "red")] {
        let run_id = new_run(&store, id, name).await;
        let mut batch = LogBatch { params: vec![Tag::new("lr", lr)], tags: vec![Tag::new("color", tag)], ..Default::default() };
        if let Some(acc) = acc {
            batch.metrics.push(metric("acc", acc, 1, 0));
        }
        store.log_batch(&run_id, batch).await.unwrap();
    }
    new_run(&store, other, "x").await;
    let finished = new_run(&store, id, "e").await;
    store.update_run(&finished, RunUpdate { status: Some(RunStatus::Finished), ..Default::default() }).await.unwrap();

    let mut names = search(&store, id, "metrics.acc > 0.6", &[]).await;
    names.sort();
    assert_eq!(names, vec!["a"]);
    let mut names = search(&store, id, "metrics.acc != 0.5", &[]).await;
    names.sort();
    assert_eq!(names, vec!["a", "d"], "NaN matches != only");
    let mut names = search(&store, id, "params.lr = '0.1' and tags.color LIKE 'blu%'", &[]).await;
    names.sort();
    assert_eq!(names, vec!["a", "c"]);
    assert_eq!(search(&store, id, "tags.color LIKE 'BLU%'", &[]).await, Vec::<String>::new(), "LIKE is case-sensitive");
    let mut names = search(&store, id, "tags.color ILIKE 'BLU%'", &[]).await;
    names.sort();
    assert_eq!(names, vec!["a", "c"]);
    assert_eq!(search(&store, id, "attributes.status = 'FINISHED'", &[]).await, vec!["e"]);
    assert_eq!(search(&store, id, "attributes.run_name = 'b'", &[]).await, vec!["b"]);
    assert_eq!(search(&store, id, "params.lr IS NULL", &[]).await, vec!["e"]);
    assert_eq!(search(&store, id, "params.lr = '0.1''; DROP TABLE runs; --'", &[]).await, Vec::<String>::new());

    let by_acc_desc = search(&store, id, "", &["metrics.acc DESC"]).await;
    assert_eq!(&by_acc_desc[..3], &["a", "b", "d"], "values first, then NaN, then missing");
    let by_acc_asc = search(&store, id, "", &["metrics.acc ASC"]).await;
    assert_eq!(&by_acc_asc[..3], &["b", "a", "d"]);
    assert_eq!(search(&store, id, "", &["params.lr DESC", "attributes.run_name ASC"]).await, vec!["d", "b", "a", "c", "e"]);

    let all_ids: Vec<String> = {
        let search = RunSearch { experiment_ids: vec![id], max_results: 100, ..Default::default() };
        store.search_runs(&search).await.unwrap().items.into_iter().map(|r| r.info.run_id).collect()
    };
    let filter = format!("attributes.run_id IN ('{}', '{}')", all_ids[0], all_ids[1]);
    assert_eq!(search(&store, id, &filter, &[]).await.len(), 2);

    let mut page_search = RunSearch { experiment_ids: vec![id, other], max_results: 2, ..Default::default() };
    let mut seen = 0;
    loop {
        let page = store.search_runs(&page_search).await.unwrap();
        seen += page.items.len();
        match page.next_page_token {
            Some(token) => page_search.offset = rivulet_core::page::decode_offset_token(Some(&token)).unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, 6);
    store.delete_run(&finished).await.unwrap();
    let deleted = RunSearch { experiment_ids: vec![id], view_type: ViewType::DeletedOnly, max_results: 10, ..Default::default() };
    assert_eq!(store.search_runs(&deleted).await.unwrap().items.len(), 1);
}

async fn search_runs_filter_and_order_on_one_metric(store: Store) {
    let id = store.create_experiment(experiment("best")).await.unwrap();
    // b, c and g tie on acc, so the later start comes first; c and g also tie on start time,
    // so they come in run id order.
    let runs = [
        ("a", Some(0.9), 1_000),
        ("b", Some(0.7), 2_000),
        ("c", Some(0.7), 3_000),
        ("d", Some(f64::NAN), 4_000),
        ("e", None, 5_000),
        ("f", Some(0.2), 6_000),
        ("g", Some(0.7), 3_000),
    ];
    let mut ids = std::collections::HashMap::new();
    for (name, acc, start_time) in runs {
        let run = prepare_new_run(id, Some("tester".into()), Some(name.into()), Some(start_time), vec![], LongValues::Truncate).unwrap();
        let run_id = store.create_run(run).await.unwrap().info.run_id;
        let mut batch = LogBatch { metrics: vec![metric("loss", 1.0, 1, 0)], ..Default::default() };
        if let Some(acc) = acc {
            batch.metrics.push(metric("acc", acc, 1, 0));
        }
        store.log_batch(&run_id, batch).await.unwrap();
        ids.insert(name, run_id);
    }
    let (c_then_g, g_then_c) = (vec!["c", "g"], vec!["g", "c"]);
    let tie = if ids["c"] < ids["g"] { &c_then_g } else { &g_then_c };
    let expected = |names: &[&str]| -> Vec<String> {
        names.iter().flat_map(|n| if *n == "cg" { tie.clone() } else { vec![*n] }).map(String::from).collect()
    };

    assert_eq!(search(&store, id, "metrics.acc > 0.5", &["metrics.acc DESC"]).await, expected(&["a", "cg", "b"]));
    assert_eq!(search(&store, id, "metrics.acc >= 0.1 AND metrics.acc < 0.8", &["metrics.acc ASC"]).await, expected(&["f", "cg", "b"]));
    assert_eq!(search(&store, id, "metrics.acc = 0.7", &["metrics.acc DESC", "attributes.start_time ASC"]).await, expected(&["b", "cg"]));
    assert_eq!(search(&store, id, "metrics.loss = 1 AND metrics.acc < 1", &["metrics.acc DESC"]).await, expected(&["a", "cg", "b", "f"]));
    // `!=` matches NaN, so the order still puts NaN after the values; runs without acc never match.
    assert_eq!(search(&store, id, "metrics.acc != 0.7", &["metrics.acc DESC"]).await, expected(&["a", "f", "d"]));
    assert_eq!(search(&store, id, "metrics.acc != 0.7 AND metrics.acc > 0", &["metrics.acc DESC"]).await, expected(&["a", "f"]));
    // Filtering on one metric and ordering on another still ranks runs without it last.
    assert_eq!(search(&store, id, "metrics.loss = 1", &["metrics.acc DESC"]).await, expected(&["a", "cg", "b", "f", "d", "e"]));

    let mut page_search = RunSearch {
        experiment_ids: vec![id],
        filter: parse_run_filter("metrics.acc > 0.1").unwrap(),
        order_by: parse_run_order_by(&["metrics.acc DESC".to_string()]).unwrap(),
        max_results: 2,
        ..Default::default()
    };
    let mut paged = Vec::new();
    loop {
        let page = store.search_runs(&page_search).await.unwrap();
        paged.extend(page.items.into_iter().map(|r| r.info.run_name.unwrap()));
        match page.next_page_token {
            Some(token) => page_search.offset = rivulet_core::page::decode_offset_token(Some(&token)).unwrap(),
            None => break,
        }
    }
    assert_eq!(paged, expected(&["a", "cg", "b", "f"]));

    store.delete_run(&ids["a"]).await.unwrap();
    assert_eq!(search(&store, id, "metrics.acc > 0.5", &["metrics.acc DESC"]).await, expected(&["cg", "b"]));
}

async fn log_batch_multi_row_writes(store: Store) {
    let id = store.create_experiment(experiment("batch-writes")).await.unwrap();
    let run_id = new_run(&store, id, "before").await;
    let batch = LogBatch {
        params: vec![Tag::new("b", "2"), Tag::new("a", "1")],
        tags: vec![Tag::new("t", "1"), Tag::new("mlflow.runName", "renamed"), Tag::new("t", "2"), Tag::new("u", "x")],
        ..Default::default()
    };
    store.log_batch(&run_id, batch).await.unwrap();
    // Re-logging a param with its value is fine next to new ones.
    let batch = LogBatch { params: vec![Tag::new("c", "3"), Tag::new("a", "1")], tags: vec![Tag::new("u", "y")], ..Default::default() };
    store.log_batch(&run_id, batch).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    assert_eq!(run.info.run_name.as_deref(), Some("renamed"));
    assert_eq!(run.data.params, vec![Tag::new("a", "1"), Tag::new("b", "2"), Tag::new("c", "3")]);
    let tag = |key: &str| run.data.tags.iter().find(|t| t.key == key).map(|t| t.value.clone());
    assert_eq!((tag("t"), tag("u"), tag("mlflow.runName")), (Some("2".into()), Some("y".into()), Some("renamed".into())), "the last value of a key wins");

    let conflict = LogBatch { params: vec![Tag::new("d", "4"), Tag::new("b", "20"), Tag::new("c", "30")], ..Default::default() };
    let err = store.log_batch(&run_id, conflict).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    assert!(err.message.contains("'key': 'b', 'old_value': '2', 'new_value': '20'"), "{}", err.message);
    assert!(err.message.contains("'key': 'c', 'old_value': '3', 'new_value': '30'"), "{}", err.message);
    let single = LogBatch { params: vec![Tag::new("a", "9")], ..Default::default() };
    let err = store.log_batch(&run_id, single).await.unwrap_err();
    assert!(err.message.contains("Param with key='a' was already logged with value='1'"), "{}", err.message);
    let run = store.get_run(&run_id).await.unwrap();
    assert!(!run.data.params.iter().any(|p| p.key == "d"), "a refused batch leaves no new param behind");

    // A retried batch repeats rows already stored; they collapse, and its new rows are written.
    let first = LogBatch { metrics: vec![metric("r", 1.0, 5, 0), metric("r", 0.0, 6, 1), metric("r", -0.0, 6, 1)], ..Default::default() };
    store.log_batch(&run_id, first.clone()).await.unwrap();
    store.log_batch(&run_id, first).await.unwrap();
    let retried = LogBatch { metrics: vec![metric("r", 1.0, 5, 0), metric("r", 2.0, 7, 2), metric("r", f64::NAN, 8, 3), metric("r", f64::NAN, 8, 3)], ..Default::default() };
    store.log_batch(&run_id, retried.clone()).await.unwrap();
    store.log_batch(&run_id, retried).await.unwrap();
    let query = MetricHistoryQuery { run_id: run_id.clone(), metric_key: "r".into(), max_results: None, offset: 0 };
    let history: Vec<(i64, i64)> = store.get_metric_history(&query).await.unwrap().unwrap().items.iter().map(|m| (m.metric.timestamp, m.metric.step)).collect();
    assert_eq!(history, vec![(5, 0), (6, 1), (7, 2), (8, 3)]);
    let latest = store.get_run(&run_id).await.unwrap().data.metrics.into_iter().find(|m| m.key == "r").unwrap();
    assert!(latest.value.is_nan() && latest.step == 3, "{latest:?}");

    let many: Vec<Metric> = (0..450).map(|i| metric(&format!("k{i:03}"), i as f64, 1, 0)).collect();
    store.log_batch(&run_id, LogBatch { metrics: many, ..Default::default() }).await.unwrap();
    let later: Vec<Metric> = (0..450).map(|i| metric(&format!("k{i:03}"), -(i as f64), 2, 1)).collect();
    store.log_batch(&run_id, LogBatch { metrics: later, ..Default::default() }).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    let spread: Vec<&Metric> = run.data.metrics.iter().filter(|m| m.key.starts_with('k')).collect();
    assert_eq!(spread.len(), 450);
    assert!(spread.iter().all(|m| m.step == 1 && m.value == -m.key[1..].parse::<f64>().unwrap()));

    // The largest batch the API accepts, and a larger one that takes many statements.
    let full_run = new_run(&store, id, "full").await;
    let full = LogBatch {
        metrics: (0..1000).map(|i| metric(&format!("f{i:04}"), i as f64, 1, 0)).collect(),
        params: (0..100).map(|i| Tag::new(format!("p{i:03}"), "v")).collect(),
        tags: (0..100).map(|i| Tag::new(format!("t{i:03}"), "v")).collect(),
    };
    store.log_batch(&full_run, full).await.unwrap();
    let larger = LogBatch { metrics: (0..2600).map(|i| metric(&format!("g{i:04}"), i as f64, 1, 0)).collect(), ..Default::default() };
    store.log_batch(&full_run, larger).await.unwrap();
    let run = store.get_run(&full_run).await.unwrap();
    assert_eq!((run.data.metrics.len(), run.data.params.len()), (3600, 100));
    assert_eq!(run.data.tags.iter().filter(|t| t.key.starts_with('t')).count(), 100);
}

async fn dataset_inputs(store: Store) {
    let id = store.create_experiment(experiment("datasets")).await.unwrap();
    let run_id = new_run(&store, id, "d").await;
    let input = DatasetInput {
        tags: vec![Tag::new("mlflow.data.context", "training")],
        dataset: Dataset { name: "iris".into(), digest: "abc123".into(), source_type: "local".into(), source: "{}".into(), schema: Some("{}".into()), profile: None },
    };
    store.log_inputs(&run_id, vec![input.clone()], vec![]).await.unwrap();
    store.log_inputs(&run_id, vec![input.clone()], vec![]).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    assert_eq!(run.inputs.dataset_inputs, vec![input]);
    assert_eq!(search(&store, id, "datasets.name = 'iris'", &[]).await, vec!["d"]);
    assert_eq!(search(&store, id, "datasets.context = 'training'", &[]).await, vec!["d"]);
    assert_eq!(search(&store, id, "datasets.context = 'eval'", &[]).await, Vec::<String>::new());
}

async fn logged_models(store: Store) {
    let id = store.create_experiment(experiment("models")).await.unwrap();
    let run_id = new_run(&store, id, "lm").await;
    let model = store
        .create_logged_model(NewLoggedModel {
            experiment_id: id,
            name: "clf".into(),
            model_type: None,
            source_run_id: Some(run_id.clone()),
            params: vec![Tag::new("depth", "3")],
            tags: vec![Tag::new("a", "b")],
        })
        .await
        .unwrap();
    assert!(model.model_id.starts_with("m-"));
    assert_eq!(model.status, LoggedModelStatus::Pending);
    assert_eq!(model.artifact_location, format!("mlflow-artifacts:/{id}/models/{}/artifacts", model.model_id));
    let ready = store.set_logged_model_status(&model.model_id, LoggedModelStatus::Ready).await.unwrap();
    assert_eq!((ready.status, ready.params.clone(), ready.tags.clone()), (LoggedModelStatus::Ready, vec![Tag::new("depth", "3")], vec![Tag::new("a", "b")]));
    let search = LoggedModelSearch { experiment_ids: vec![id], name_equals: Some("clf".into()), max_results: 10, offset: 0 };
    assert_eq!(store.search_logged_models(&search).await.unwrap().items.len(), 1);
    let none = LoggedModelSearch { name_equals: Some("dir".into()), ..search.clone() };
    assert!(store.search_logged_models(&none).await.unwrap().items.is_empty());
    store.delete_logged_model(&model.model_id).await.unwrap();
    assert_eq!(store.get_logged_model(&model.model_id, false).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_logged_model(&model.model_id, true).await.unwrap().lifecycle_stage, LifecycleStage::Deleted);
}

async fn concurrent_writes_do_not_fail(store: Store) {
    let id = store.create_experiment(experiment("concurrent")).await.unwrap();
    let run_id = new_run(&store, id, "c").await;
    let mut tasks = Vec::new();
    for worker in 0..8i64 {
        let store = store.clone();
        let run_id = run_id.clone();
        tasks.push(tokio::spawn(async move {
            for step in 0..20i64 {
                let batch = LogBatch { metrics: vec![metric("shared", (worker * 100 + step) as f64, step, step)], ..Default::default() };
                store.log_batch(&run_id, batch).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let query = MetricHistoryQuery { run_id, metric_key: "shared".into(), max_results: None, offset: 0 };
    assert_eq!(store.get_metric_history(&query).await.unwrap().unwrap().items.len(), 160);
}

conformance!(
    default_experiment_exists,
    experiment_lifecycle,
    search_experiments_filters_orders_and_pages,
    run_lifecycle_and_updates,
    params_are_immutable_and_batches_atomic,
    metrics_latest_nan_infinity_and_history,
    search_runs_filters_and_orders,
    search_runs_filter_and_order_on_one_metric,
    log_batch_multi_row_writes,
    dataset_inputs,
    logged_models,
    concurrent_writes_do_not_fail,
);
