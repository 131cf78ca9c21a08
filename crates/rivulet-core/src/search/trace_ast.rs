//! The typed result of parsing a `SearchTracesV3` filter or `order_by`: what the trace store renders into SQL.

use std::fmt;

use super::ast::{Comparator, FilterValue};

/// A comparison operator of the trace filter grammar.
///
/// Separate from [`Comparator`] because traces add `RLIKE`, and a new variant there would break
/// every exhaustive match the run and experiment stores make on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceComparator {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// Case-sensitive SQL `LIKE` with `%` and `_` wildcards.
    Like,
    /// Case-insensitive `LIKE`.
    ILike,
    /// Regular-expression match (MLflow uses the backend's `REGEXP`/`~`).
    RLike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl TraceComparator {
    /// The run/experiment comparator with the same meaning, so stores can reuse their
    /// rendering; `None` only for `RLIKE`, which runs and experiments lack.
    pub fn as_comparator(self) -> Option<Comparator> {
        Some(match self {
            TraceComparator::Eq => Comparator::Eq,
            TraceComparator::NotEq => Comparator::NotEq,
            TraceComparator::Lt => Comparator::Lt,
            TraceComparator::LtEq => Comparator::LtEq,
            TraceComparator::Gt => Comparator::Gt,
            TraceComparator::GtEq => Comparator::GtEq,
            TraceComparator::Like => Comparator::Like,
            TraceComparator::ILike => Comparator::ILike,
            TraceComparator::In => Comparator::In,
            TraceComparator::NotIn => Comparator::NotIn,
            TraceComparator::IsNull => Comparator::IsNull,
            TraceComparator::IsNotNull => Comparator::IsNotNull,
            TraceComparator::RLike => return None,
        })
    }

    /// The comparator as a filter string spells it (upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            TraceComparator::Eq => "=",
            TraceComparator::NotEq => "!=",
            TraceComparator::Lt => "<",
            TraceComparator::LtEq => "<=",
            TraceComparator::Gt => ">",
            TraceComparator::GtEq => ">=",
            TraceComparator::Like => "LIKE",
            TraceComparator::ILike => "ILIKE",
            TraceComparator::RLike => "RLIKE",
            TraceComparator::In => "IN",
            TraceComparator::NotIn => "NOT IN",
            TraceComparator::IsNull => "IS NULL",
            TraceComparator::IsNotNull => "IS NOT NULL",
        }
    }
}

impl fmt::Display for TraceComparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a trace filter clause compares. Aliases are already resolved (`timestamp` is
/// [`TraceKey::TimestampMs`], `trace.status` is [`TraceKey::Status`]); tag and metadata keys are
/// kept exactly as written, reserved ones included, so the store decides which of them live in
/// dedicated columns (`mlflow.traceName`, `mlflow.trace.session`, `mlflow.trace.tokenUsage`,
/// `mlflow.trace.cost`) or mean something special (`mlflow.sourceRun =` behaves like `run_id =`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TraceKey {
    /// The trace state (`OK`, `ERROR`, `IN_PROGRESS`, …). Text values.
    Status,
    /// The trace id. Text values.
    RequestId,
    ClientRequestId,
    /// `timestamp_ms` / `timestamp`. Integer or Number values.
    TimestampMs,
    /// `execution_time_ms` / `execution_time`. Integer or Number values.
    ExecutionTimeMs,
    /// `end_time_ms` / `end_time`: the trace's timestamp plus its execution time (0 if unknown).
    /// Integer or Number values.
    EndTimeMs,
    /// The trace name (the `mlflow.traceName` tag, stored in its own column).
    Name,
    /// With `=` / `IN`: traces whose `mlflow.sourceRun` metadata is the run, or that are linked
    /// to it. With any other comparator: a comparison on the `mlflow.sourceRun` metadata.
    RunId,
    /// `text`: full-text `LIKE`/`ILIKE` over the content of the trace's spans.
    Text,
    /// `prompt = "name/version"`: traces linked to that prompt version. Always [`TraceComparator::Eq`],
    /// and the value is checked to contain exactly one `/`.
    Prompt,
    Tag(String),
    /// A request-metadata key.
    Metadata(String),
    /// `span.name`: the `spans.name` column.
    SpanName,
    /// `span.type`: the `spans.type` column.
    SpanType,
    /// `span.status`: the `spans.status` column (`OK`, `ERROR`, `UNSET`).
    SpanStatus,
    /// `span.content`: `LIKE`/`ILIKE` over the span's JSON.
    SpanContent,
    /// `span.attributes.<name>`, name unquoted (`gen_ai.request.model`); the value is as written.
    /// With `=`/`!=` it is compared with the attribute's *decoded* value (a string attribute
    /// stored as `"\"gpt-4\""` equals `'gpt-4'`; other JSON values by their JSON text), where
    /// MLflow's `=` never matches. With `LIKE`/`ILIKE`/`RLIKE` it is a pattern the attribute's
    /// value must match, as in MLflow, where `LIKE '%foo%'` means "present and contains foo".
    SpanAttribute(String),
    /// `feedback.<assessment name>`: only valid assessments; Text values compare with the
    /// stored JSON (`'yes'` matches `"yes"`, `'true'` matches `true`), Number values (with
    /// `< <= > >=` only) compare numerically.
    Feedback(String),
    /// `expectation.<assessment name>`, as [`TraceKey::Feedback`].
    Expectation(String),
    /// `issue.id`: traces with an issue assessment of that id. Always [`TraceComparator::Eq`].
    IssueId,
}

/// One `AND`-ed clause of a trace filter.
///
/// The value always fits the comparator: `FilterValue::None` for `IS [NOT] NULL`,
/// `FilterValue::TextList` (non-empty) for `IN`/`NOT IN`, `FilterValue::Integer` or
/// `FilterValue::Number` (finite) for the trace time keys, `FilterValue::Number` for numeric
/// assessment comparisons, and `FilterValue::Text` everywhere else. Several span clauses in one
/// filter must all be satisfied by the same span.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceClause {
    pub key: TraceKey,
    pub comparator: TraceComparator,
    pub value: FilterValue,
}

/// What a trace `order_by` element sorts on. Equivalent spellings are merged:
/// `tags.mlflow.traceName` is [`TraceOrderKey::Name`] and `metadata.mlflow.sourceRun` is
/// [`TraceOrderKey::RunId`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TraceOrderKey {
    ExperimentId,
    TimestampMs,
    ExecutionTimeMs,
    /// The timestamp plus the execution time (0 if unknown).
    EndTimeMs,
    Status,
    RequestId,
    /// The trace name column.
    Name,
    /// The `mlflow.sourceRun` metadata value.
    RunId,
    Tag(String),
    /// Any metadata key but `mlflow.trace.tokenUsage` and `mlflow.trace.cost`;
    /// `mlflow.trace.session` lives in its own column.
    Metadata(String),
}

/// One element of the complete trace ordering. Values a trace lacks (NULL) sort last in both
/// directions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOrderBy {
    pub key: TraceOrderKey,
    pub ascending: bool,
}
