//! The typed result of parsing a search filter or `order_by`: what stores render into SQL.

/// A comparison operator of the filter grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
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
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

/// The right-hand side of a clause, already checked against what its key allows.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// Numeric literal (metrics, start/end time).
    Number(f64),
    /// Integer literal (experiment id, creation/last-update time).
    Integer(i64),
    /// Quoted string.
    Text(String),
    /// `IN (...)` list of quoted strings.
    TextList(Vec<String>),
    /// `IN (...)` list of integers (experiment ids).
    IntegerList(Vec<i64>),
    /// No value: `IS NULL` / `IS NOT NULL`.
    None,
}

/// Run attributes that can be filtered or ordered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAttribute {
    RunId,
    /// Evaluated against the `mlflow.runName` tag in filters; the `runs.name` column in ordering.
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
}

/// Fields of a run's dataset inputs that a filter can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetField {
    Name,
    Digest,
    /// The `mlflow.data.context` input tag.
    Context,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunKey {
    /// The run's latest value of this metric.
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(RunAttribute),
    Dataset(DatasetField),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunClause {
    pub key: RunKey,
    pub comparator: Comparator,
    pub value: FilterValue,
}

/// One `order_by` element of `runs/search`. Never a dataset key.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOrderBy {
    pub key: RunKey,
    pub ascending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentKey {
    Name,
    ExperimentId,
    CreationTime,
    LastUpdateTime,
    Tag(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentClause {
    pub key: ExperimentKey,
    pub comparator: Comparator,
    pub value: FilterValue,
}

/// One `order_by` element of `experiments/search`. Never a tag.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentOrderBy {
    pub key: ExperimentKey,
    pub ascending: bool,
}
