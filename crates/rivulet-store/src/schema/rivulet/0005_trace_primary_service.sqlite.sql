-- The service a trace's first batch came from. Spans from it need no rivulet_span_services row
-- (most traces come from one service), which spares ingest a row and an index leaf per span;
-- that table keeps only the spans whose service differs. NULL on traces stored before this
-- column existed: every span of those has its own row, as before.
ALTER TABLE rivulet_trace_rollups ADD COLUMN service_name VARCHAR(250);
