-- The service (OpenTelemetry resource service.name) that emitted each span: MLflow's span JSON
-- has no place for it, and the service graph needs it for every parent/child edge.
CREATE TABLE rivulet_span_services (
    trace_id VARCHAR(50) NOT NULL REFERENCES trace_info (request_id) ON DELETE CASCADE,
    span_id VARCHAR(50) NOT NULL,
    service_name VARCHAR(250) NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
