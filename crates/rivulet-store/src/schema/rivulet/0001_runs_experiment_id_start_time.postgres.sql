-- search_runs always filters on experiment_id and orders by start_time, and MLflow's schema
-- has no index on runs.experiment_id at all: without this every search scans the runs table.
CREATE INDEX rivulet_runs_experiment_id_start_time ON runs (experiment_id, start_time);
