//! Span ingest with group commit: export requests queue their batches, a writer folds
//! everything queued into a single transaction, and each request is answered only after that
//! transaction commits.
//!
//! Group commit (rather than one transaction per request) is what lets ingest approach the
//! database's bulk-insert rate. SQLite has a single writer anyway; PostgreSQL gets a few, each
//! owning the traces whose id hashes to it, which keeps a trace's read-merge-write of its
//! summary free of races between concurrent batches.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rivulet_core::traces::model::{PreparedSpan, SpanBatch, TraceInfo};
use rivulet_core::traces::rollup::{merge_spans, TraceRollup};
use rivulet_core::traces::trace_keys;
use rivulet_core::tracking::{append_to_uri_path, now_millis, LifecycleStage};
use rivulet_core::{CoreError, Result};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::Checkpointer;
use crate::wal_sync::PendingSync;
use super::rows::{
    insert_into, load_rollups, missing_experiments, needs_token_totals, stored_span_trees, token_totals, truncate, write_key_values, write_rollups,
    write_spans, write_trace_infos,
};
use crate::sql::{binds, StatementBatch};
use crate::Store;

/// Spans one transaction may carry; beyond this, queued batches wait for the next one.
const MAX_SPANS_PER_GROUP: usize = 5_000;
/// Batches that may wait for the writer before requests are turned away with 503.
pub(crate) const QUEUE_CAPACITY: usize = 256;
/// How long a request waits for room in a full queue before answering 503.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest value MLflow keeps in a tag or metadata column.
const MAX_TAG_VALUE: usize = 8000;
const MAX_TAG_KEY: usize = 250;

/// Work for the writer: span batches are grouped into one transaction; StartTraceV3 runs
/// between groups, so it never races a batch for the same trace.
pub(crate) enum IngestJob {
    Spans { batch: SpanBatch, reply: oneshot::Sender<Result<()>> },
    StartTrace { info: TraceInfo, reply: oneshot::Sender<Result<()>> },
}

impl IngestJob {
    fn n_spans(&self) -> usize {
        match self {
            IngestJob::Spans { batch, .. } => batch.spans.len(),
            IngestJob::StartTrace { .. } => 1,
        }
    }
}

struct SpanJob {
    batch: SpanBatch,
    reply: oneshot::Sender<Result<()>>,
}

/// The writers' queues. Each trace belongs to one writer (by a hash of its id), so a trace's
/// read-merge-write of its summary never races another writer.
#[derive(Clone)]
pub(crate) struct IngestQueues {
    senders: Vec<mpsc::Sender<IngestJob>>,
}

impl IngestQueues {
    fn writer_of(&self, trace_id: &str) -> usize {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        trace_id.hash(&mut hasher);
        (hasher.finish() % self.senders.len() as u64) as usize
    }

    /// Batches waiting for the writers, and how many may wait before exports get 503.
    pub(crate) fn depth(&self) -> (usize, usize) {
        self.senders.iter().fold((0, 0), |(queued, capacity), sender| {
            (queued + sender.max_capacity() - sender.capacity(), capacity + sender.max_capacity())
        })
    }
}

/// Bytes of prepared spans (JSON content plus a per-span allowance) that may be queued for or
/// held by the writer at once. With the batch-count bound alone, 256 large exports could pin
/// gigabytes; past this budget requests wait, then get 503 like a full queue.
const QUEUED_BYTES_BUDGET: usize = 128 * 1024 * 1024;
const BUDGET_UNIT: usize = 1024;
const SPAN_OVERHEAD_BYTES: usize = 512;

/// State every copy of the store shares with the writer: the queue's byte budget and counts
/// of committed groups and their spans (for `/metrics`).
#[derive(Debug)]
pub(crate) struct IngestShared {
    budget: tokio::sync::Semaphore,
    commits: AtomicU64,
    spans: AtomicU64,
    /// Bumped after every experiment deletion, so the writers forget the experiments they
    /// know to be active.
    experiments_deleted: AtomicU64,
}

impl Default for IngestShared {
    fn default() -> Self {
        IngestShared {
            budget: tokio::sync::Semaphore::new(QUEUED_BYTES_BUDGET / BUDGET_UNIT),
            commits: AtomicU64::new(0),
            spans: AtomicU64::new(0),
            experiments_deleted: AtomicU64::new(0),
        }
    }
}

/// How long a writer trusts that an experiment is active without asking the database again.
/// Deletions through this server reach the writers at once; this bounds how long spans still
/// land in an experiment that another process sharing the database deleted.
const ACTIVE_EXPERIMENT_TTL: Duration = Duration::from_secs(1);

/// The experiments a writer has recently found active, with their artifact locations. Asking
/// the database for each group took a twentieth of the SQLite writer's time at concurrency 32.
#[derive(Default)]
struct ActiveExperiments {
    deletions_seen: u64,
    known: HashMap<i64, (Option<String>, std::time::Instant)>,
}

impl ActiveExperiments {
    /// The experiment's artifact location if it is known to be active, forgetting everything
    /// once an experiment has been deleted since the last look.
    fn get(&mut self, experiment_id: i64, deletions: u64, now: std::time::Instant) -> Option<Option<String>> {
        if deletions != self.deletions_seen {
            self.known.clear();
            self.deletions_seen = deletions;
        }
        match self.known.get(&experiment_id) {
            Some((location, checked)) if now.duration_since(*checked) < ACTIVE_EXPERIMENT_TTL => Some(location.clone()),
            _ => None,
        }
    }

    fn remember(&mut self, experiment_id: i64, location: Option<String>, now: std::time::Instant) {
        self.known.insert(experiment_id, (location, now));
    }
}

/// The budget units a batch takes: its size in KiB, at least one, at most the whole budget (a
/// batch larger than the budget runs alone).
fn budget_units(batch: &SpanBatch) -> u32 {
    let bytes: usize = batch.spans.iter().map(|span| span.content.len() + SPAN_OVERHEAD_BYTES).sum();
    (bytes / BUDGET_UNIT).clamp(1, QUEUED_BYTES_BUDGET / BUDGET_UNIT) as u32
}

impl IngestShared {
    fn record(&self, spans: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
    }

    pub(crate) fn totals(&self) -> (u64, u64) {
        (self.commits.load(Ordering::Relaxed), self.spans.load(Ordering::Relaxed))
    }

    /// Called after an experiment's deletion has committed.
    pub(crate) fn experiment_deleted(&self) {
        self.experiments_deleted.fetch_add(1, Ordering::AcqRel);
    }
}

/// Writers on PostgreSQL. One writer left a third of a two-core machine idle while its backend
/// inserted (index upkeep and TOAST compression run in the backend, one core per connection);
/// two keep both busy on a small machine. Three or four measured 4-8% slower at concurrency 32
/// on two cores, with a higher p99: more backends only compete for the same cores.
const POSTGRES_WRITERS: usize = 2;

/// Starts the writers and returns the queues that feed them.
///
/// SQLite has one writer, on a thread of its own: on the request runtime, each of its dozen
/// statements per group waited behind request decoding to be resumed, which cost a tenth of
/// ingest throughput. PostgreSQL's writers stay on the request runtime, because a pooled
/// connection's socket belongs to the runtime that opened it.
pub(crate) fn spawn_writers(store: Store, checkpointer: Option<Checkpointer>) -> std::io::Result<IngestQueues> {
    let writers = match store.dialect() {
        crate::Dialect::Sqlite => 1,
        crate::Dialect::Postgres => POSTGRES_WRITERS,
    };
    let mut senders = Vec::with_capacity(writers);
    for _ in 0..writers {
        let (sender, receiver) = mpsc::channel::<IngestJob>(QUEUE_CAPACITY);
        senders.push(sender);
        let writer = run_writer(store.clone(), checkpointer.clone(), receiver);
        match store.dialect() {
            crate::Dialect::Sqlite => {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                std::thread::Builder::new().name("span-writer".into()).spawn(move || runtime.block_on(writer))?;
            }
            crate::Dialect::Postgres => {
                tokio::spawn(writer);
            }
        }
    }
    Ok(IngestQueues { senders })
}

/// One writer: takes everything queued (up to a group's limit), writes it in one transaction,
/// answers every request in it, and repeats until all senders are gone.
async fn run_writer(store: Store, checkpointer: Option<Checkpointer>, mut receiver: mpsc::Receiver<IngestJob>) {
    let mut active = ActiveExperiments::default();
    while let Some(first) = receiver.recv().await {
        let mut n_spans = first.n_spans();
        let mut jobs = vec![first];
        while n_spans < MAX_SPANS_PER_GROUP {
            match receiver.try_recv() {
                Ok(job) => {
                    n_spans += job.n_spans();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut span_jobs = Vec::with_capacity(jobs.len());
        let mut start_jobs = Vec::new();
        for job in jobs {
            match job {
                IngestJob::Spans { batch, reply } => span_jobs.push(SpanJob { batch, reply }),
                IngestJob::StartTrace { info, reply } => start_jobs.push((info, reply)),
            }
        }
        if !span_jobs.is_empty() {
            survive_panic("span group", store.write_group(span_jobs, &mut active)).await;
        }
        for (info, reply) in start_jobs {
            if let Some(result) = survive_panic("StartTraceV3", store.start_trace_in_writer(info)).await {
                let _ = reply.send(result);
            }
        }
        if let Some(checkpointer) = &checkpointer {
            checkpointer.committed();
            checkpointer.restart_if_long().await;
        }
    }
}

/// Runs one unit of the writer's work, surviving a panic in it: a bug met by one group must not
/// stop ingest for the life of the process while `/health` still passes. The unit's requests
/// lose their replies and are answered 503 (retry), and its transaction is rolled back when
/// dropped.
async fn survive_panic<T>(what: &str, work: impl std::future::Future<Output = T>) -> Option<T> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(value) => Some(value),
        Err(panic) => {
            let reason = panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("unknown");
            tracing::error!(reason, "the span writer panicked in a {what}; its requests are answered 503 and the writer goes on");
            None
        }
    }
}

async fn send_to_writer(
    sender: &mpsc::Sender<IngestJob>,
    job: impl FnOnce(oneshot::Sender<Result<()>>) -> IngestJob,
) -> Result<oneshot::Receiver<Result<()>>> {
    let (reply, answer) = oneshot::channel();
    sender
        .send_timeout(job(reply), ENQUEUE_TIMEOUT)
        .await
        .map_err(|_| CoreError::unavailable("span ingest is overloaded; retry later"))?;
    Ok(answer)
}

/// Splits a batch into one part per writer that owns some of its traces.
fn split_by_writer(queues: &IngestQueues, batch: SpanBatch) -> Vec<(usize, SpanBatch)> {
    if queues.senders.len() == 1 {
        return vec![(0, batch)];
    }
    let SpanBatch { experiment_id, spans, mut resource_tags, run_id } = batch;
    let mut parts: BTreeMap<usize, SpanBatch> = BTreeMap::new();
    for span in spans {
        let writer = queues.writer_of(&span.trace_id);
        let part = parts.entry(writer).or_insert_with(|| SpanBatch {
            experiment_id,
            spans: Vec::new(),
            resource_tags: BTreeMap::new(),
            run_id: run_id.clone(),
        });
        if let Some(tags) = resource_tags.remove(&span.trace_id) {
            part.resource_tags.insert(span.trace_id.clone(), tags);
        }
        part.spans.push(span);
    }
    parts.into_iter().collect()
}

impl Store {
    /// Queues a span batch for the writer and waits for its commit, within the queue's byte
    /// budget (held until the batch is written).
    pub(crate) async fn enqueue_spans(&self, batch: SpanBatch) -> Result<()> {
        let overloaded = || CoreError::unavailable("span ingest is overloaded; retry later");
        let units = budget_units(&batch);
        let _budget = tokio::time::timeout(ENQUEUE_TIMEOUT, self.ingest_shared.budget.acquire_many(units))
            .await
            .map_err(|_| overloaded())?
            .map_err(|_| overloaded())?;
        let queues = self.ingest_queues()?;
        // Each writer gets the traces it owns; the request is answered when all have committed.
        // A failure in one part leaves the others stored, which the exporter's retry of the
        // whole batch then finds and upserts.
        let mut answers = Vec::new();
        for (writer, part) in split_by_writer(queues, batch) {
            answers.push(send_to_writer(&queues.senders[writer], |reply| IngestJob::Spans { batch: part, reply }).await?);
        }
        let mut outcome = Ok(());
        for answer in answers {
            let result = answer.await.map_err(|_| CoreError::unavailable("span ingest stopped before the batch was written; retry"))?;
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }

    /// Queues work about one trace for the writer that owns it and waits for its commit.
    pub(crate) async fn enqueue(&self, trace_id: &str, job: impl FnOnce(oneshot::Sender<Result<()>>) -> IngestJob) -> Result<()> {
        let queues = self.ingest_queues()?;
        let answer = send_to_writer(&queues.senders[queues.writer_of(trace_id)], job).await?;
        answer.await.map_err(|_| CoreError::unavailable("span ingest stopped before the batch was written; retry"))?
    }

    fn ingest_queues(&self) -> Result<&IngestQueues> {
        self.ingest_writers().ok_or_else(|| CoreError::internal("span ingest is not running"))
    }

    async fn write_group(&self, jobs: Vec<SpanJob>, active: &mut ActiveExperiments) {
        // Refuse batches for missing or deleted experiments without failing their neighbours.
        let mut accepted: Vec<SpanJob> = Vec::with_capacity(jobs.len());
        let mut experiments: HashMap<i64, Result<Option<String>>> = HashMap::new();
        let now = std::time::Instant::now();
        let deletions = self.ingest_shared.experiments_deleted.load(Ordering::Acquire);
        for job in jobs {
            let experiment_id = job.batch.experiment_id;
            if let std::collections::hash_map::Entry::Vacant(unchecked) = experiments.entry(experiment_id) {
                let state = match active.get(experiment_id, deletions, now) {
                    Some(location) => Ok(location),
                    None => {
                        let state = self.experiment_accepting_traces(experiment_id).await;
                        if let Ok(location) = &state {
                            active.remember(experiment_id, location.clone(), now);
                        }
                        state
                    }
                };
                unchecked.insert(state);
            }
            match &experiments[&experiment_id] {
                Ok(_) => accepted.push(job),
                Err(error) => {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
        if accepted.is_empty() {
            return;
        }
        let locations: HashMap<i64, String> =
            experiments.into_iter().filter_map(|(id, state)| state.ok().flatten().map(|location| (id, location))).collect();
        let batches: Vec<&SpanBatch> = accepted.iter().map(|job| &job.batch).collect();
        let n_spans = batches.iter().map(|batch| batch.spans.len()).sum();
        match self.write_batches(&batches, &locations).await {
            // The group is answered once its commit is on disk; the writer goes on to the next
            // group meanwhile (see wal_sync.rs).
            Ok(pending) => {
                let shared = self.ingest_shared.clone();
                pending.then(move |result| {
                    if result.is_ok() {
                        shared.record(n_spans);
                    }
                    for job in accepted {
                        let _ = job.reply.send(result.clone());
                    }
                });
            }
            Err(error) => {
                tracing::warn!(error = %error, n_batches = accepted.len(), "span batch write failed");
                for job in accepted {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// The experiment's artifact location, if it exists and is active; an error otherwise.
    async fn experiment_accepting_traces(&self, experiment_id: i64) -> Result<Option<String>> {
        let row = self
            .fetch_optional("SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = $1", &binds![experiment_id])
            .await?
            .ok_or_else(|| CoreError::experiment_not_found(experiment_id))?;
        match LifecycleStage::parse(&row.text("lifecycle_stage")?)? {
            LifecycleStage::Active => row.opt_text("artifact_location"),
            LifecycleStage::Deleted => Err(CoreError::invalid_parameter(format!(
                "experiment {experiment_id} is deleted; restore it or send the spans to another experiment"
            ))),
        }
    }

    /// Writes a group: reads what the group's traces already have (one or two queries), merges
    /// in Rust, then sends every write as one batch and commits.
    async fn write_batches(&self, batches: &[&SpanBatch], locations: &HashMap<i64, String>) -> Result<PendingSync> {
        // Group spans by trace; the first batch naming a trace decides its experiment.
        let mut traces: BTreeMap<&str, (i64, Vec<&PreparedSpan>)> = BTreeMap::new();
        let mut resource_tags: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        let mut run_links: Vec<(String, String)> = Vec::new();
        for batch in batches {
            for span in &batch.spans {
                traces.entry(span.trace_id.as_str()).or_insert_with(|| (batch.experiment_id, Vec::new())).1.push(span);
                if let (Some(run_id), None) = (&batch.run_id, &span.parent_span_id) {
                    run_links.push((span.trace_id.clone(), run_id.clone()));
                }
            }
            for (trace_id, tags) in &batch.resource_tags {
                resource_tags.entry(trace_id.as_str()).or_default().extend(tags.iter().cloned());
            }
        }
        if traces.is_empty() {
            return Ok(PendingSync::done());
        }
        let trace_ids: Vec<&str> = traces.keys().copied().collect();
        let dialect = self.dialect();
        let mut tx = self.begin_ingest().await?;
        let mut existing = load_rollups(&mut tx, &trace_ids, dialect).await?;

        let mut merged: Vec<(&str, TraceRollup, bool)> = Vec::with_capacity(traces.len());
        for (trace_id, (experiment_id, spans)) in &traces {
            let previous = existing.remove(*trace_id);
            let is_new = previous.is_none();
            let experiment_id = previous.as_ref().map_or(*experiment_id, |p| p.experiment_id);
            merged.push((trace_id, merge_spans(previous, experiment_id, spans), is_new));
        }
        if dialect == crate::Dialect::Sqlite {
            let mut new_experiments: Vec<i64> = merged.iter().filter(|(_, _, is_new)| *is_new).map(|(_, rollup, _)| rollup.experiment_id).collect();
            new_experiments.sort_unstable();
            new_experiments.dedup();
            if let Some(missing) = missing_experiments(&mut tx, &new_experiments).await?.first() {
                return Err(CoreError::experiment_not_found(*missing));
            }
        }
        // Every trace's span tree: the stored spans of traces seen before, plus this group's.
        let (mut with_parents, mut ids_only): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        for (trace_id, rollup, is_new) in &merged {
            match (*is_new, needs_token_totals(rollup)) {
                (true, _) => {}
                (false, true) => with_parents.push(trace_id),
                (false, false) => ids_only.push(trace_id),
            }
        }
        let mut trees = stored_span_trees(&mut tx, &with_parents, &ids_only).await?;
        for (trace_id, (_, spans)) in &traces {
            let tree = trees.entry(trace_id.to_string()).or_default();
            for span in spans {
                tree.insert(span.span_id.clone(), span.parent_span_id.clone());
            }
        }
        let token_totals = token_totals(&merged, &trees);

        let mut writes = StatementBatch::default();
        write_trace_infos(&mut writes, &merged, &token_totals, dialect);
        write_spans(&mut writes, &traces, &merged, dialect);

        let mut tags: Vec<(&str, String, String)> = Vec::new();
        let mut metadata_if_absent: Vec<(&str, String, String)> = Vec::new();
        for (trace_id, rollup, is_new) in &merged {
            tags.push((trace_id, trace_keys::SPANS_LOCATION.to_string(), trace_keys::SPANS_LOCATION_TRACKING_STORE.to_string()));
            // A trace new to the database has no tags yet (they reference its trace_info row),
            // so its artifact location goes in first and any tag the spans set replaces it.
            if *is_new {
                if let Some(location) = locations.get(&rollup.experiment_id) {
                    let location = append_to_uri_path(&append_to_uri_path(location, "traces"), trace_id);
                    tags.push((trace_id, trace_keys::ARTIFACT_LOCATION.to_string(), append_to_uri_path(&location, "artifacts")));
                }
            }
            for (key, value) in resource_tags.get(trace_id).into_iter().flatten() {
                if key.starts_with("telemetry.sdk.") || key.starts_with("mlflow.") {
                    continue;
                }
                tags.push((trace_id, truncate(key, MAX_TAG_KEY), truncate(value, MAX_TAG_VALUE)));
            }
            for span in &traces[trace_id].1 {
                if span.parent_span_id.is_none() {
                    for (key, value) in &span.digest.trace_tags {
                        if key != trace_keys::TRACE_NAME {
                            tags.push((trace_id, truncate(key, MAX_TAG_KEY), truncate(value, MAX_TAG_VALUE)));
                        }
                    }
                }
            }
            if let Some(user) = &rollup.user_id {
                metadata_if_absent.push((trace_id, trace_keys::USER.to_string(), truncate(user, MAX_TAG_VALUE)));
            }
        }
        write_key_values(&mut writes, "trace_tags", &tags, true, insert_into(dialect));
        write_key_values(&mut writes, "trace_request_metadata", &metadata_if_absent, false, insert_into(dialect));
        write_rollups(&mut writes, &merged, &trees, dialect);
        for (trace_id, run_id) in &run_links {
            writes.push(
                "INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) \
                 VALUES ($1, 'trace', $2, 'run', $3, $4) ON CONFLICT DO NOTHING"
                    .to_string(),
                binds![uuid::Uuid::new_v4().simple().to_string(), trace_id.as_str(), run_id.as_str(), now_millis()],
            );
        }
        tx.execute_batch(writes).await?;
        tx.commit_before_sync().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(content_bytes: &[usize]) -> SpanBatch {
        batch_of_trace("tr-1", content_bytes)
    }

    fn batch_of_trace(trace_id: &str, content_bytes: &[usize]) -> SpanBatch {
        let spans = content_bytes
            .iter()
            .enumerate()
            .map(|(idx, bytes)| PreparedSpan {
                trace_id: trace_id.into(),
                span_id: format!("{idx:016x}"),
                parent_span_id: None,
                name: "span".into(),
                status: "OK",
                start_time_unix_nano: 0,
                end_time_unix_nano: 1,
                content: "x".repeat(*bytes),
                digest: Default::default(),
                service_name: None,
            })
            .collect();
        SpanBatch { experiment_id: 0, spans, resource_tags: BTreeMap::new(), run_id: None }
    }

    #[test]
    fn budget_units_follow_batch_bytes_within_the_budget() {
        assert_eq!(budget_units(&batch(&[])), 1, "an empty batch still takes a unit");
        assert_eq!(budget_units(&batch(&[10 * 1024 - SPAN_OVERHEAD_BYTES; 3])), 30);
        let whole = (QUEUED_BYTES_BUDGET / BUDGET_UNIT) as u32;
        assert_eq!(budget_units(&batch(&[QUEUED_BYTES_BUDGET, 1])), whole, "an oversized batch takes the whole budget, and runs alone");
    }

    #[test]
    fn active_experiments_expire_and_are_forgotten_after_a_deletion() {
        let start = std::time::Instant::now();
        let mut active = ActiveExperiments::default();
        assert_eq!(active.get(1, 0, start), None, "nothing is known before a look at the database");
        active.remember(1, Some("file:///a".into()), start);
        active.remember(2, None, start);
        assert_eq!(active.get(1, 0, start + Duration::from_millis(999)), Some(Some("file:///a".into())));
        assert_eq!(active.get(2, 0, start), Some(None), "an experiment without a location is still known");
        assert_eq!(active.get(1, 0, start + ACTIVE_EXPERIMENT_TTL), None, "a stale answer is asked again");
        assert_eq!(active.get(2, 1, start), None, "a deletion anywhere forgets every experiment");
        active.remember(2, None, start);
        assert_eq!(active.get(2, 1, start), Some(None), "known again once looked up after the deletion");
    }

    #[tokio::test]
    async fn the_writer_survives_a_panic_in_its_work() {
        let (reply, answer) = oneshot::channel::<Result<()>>();
        let outcome = survive_panic("test unit", async move {
            let _reply = reply;
            panic!("a bug met by one group");
        })
        .await;
        assert!(outcome.is_none());
        assert!(answer.await.is_err(), "the unit's request loses its reply, which the caller turns into a 503");
        assert_eq!(survive_panic("test unit", async { 7 }).await, Some(7));
    }

    #[test]
    fn split_by_writer_keeps_each_trace_whole_with_its_resource_tags() {
        let senders = (0..POSTGRES_WRITERS).map(|_| mpsc::channel(1).0).collect();
        let queues = IngestQueues { senders };
        let mut whole = SpanBatch { experiment_id: 7, spans: Vec::new(), resource_tags: BTreeMap::new(), run_id: Some("run".into()) };
        for trace in 0..20 {
            let trace_id = format!("tr-{trace:032x}");
            whole.spans.extend(batch_of_trace(&trace_id, &[1, 1, 1]).spans);
            whole.resource_tags.insert(trace_id, vec![("service.name".into(), format!("svc-{trace}"))]);
        }
        let parts = split_by_writer(&queues, whole);
        assert_eq!(parts.len(), POSTGRES_WRITERS, "twenty traces reach every writer");
        let mut seen = 0;
        for (writer, part) in &parts {
            assert_eq!((part.experiment_id, part.run_id.as_deref()), (7, Some("run")));
            for span in &part.spans {
                assert_eq!(queues.writer_of(&span.trace_id), *writer, "a span goes to its trace's writer");
                assert!(part.resource_tags.contains_key(&span.trace_id), "resource tags travel with their trace");
            }
            assert_eq!(part.spans.len(), part.resource_tags.len() * 3, "a trace's three spans stay together");
            seen += part.spans.len();
        }
        assert_eq!(seen, 60);
        let single = IngestQueues { senders: vec![mpsc::channel(1).0] };
        assert_eq!(split_by_writer(&single, batch(&[1, 2])).len(), 1);
    }
}
