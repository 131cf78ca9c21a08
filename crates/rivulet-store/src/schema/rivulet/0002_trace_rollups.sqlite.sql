-- What Rivulet needs between ingest batches to keep a trace's summary right as spans arrive
-- in any order: which source each preview came from, which spans carry token usage, and how
-- many spans are stored. One row per trace; removed with the trace.
CREATE TABLE rivulet_trace_rollups (
    request_id VARCHAR(50) NOT NULL PRIMARY KEY REFERENCES trace_info (request_id) ON DELETE CASCADE,
    request_preview_rank SMALLINT NOT NULL DEFAULT 0,
    response_preview_rank SMALLINT NOT NULL DEFAULT 0,
    span_count BIGINT NOT NULL DEFAULT 0,
    usage_spans TEXT,
    finalized BOOLEAN NOT NULL DEFAULT FALSE
);
