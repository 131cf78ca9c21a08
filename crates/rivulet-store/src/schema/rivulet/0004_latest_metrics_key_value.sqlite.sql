-- search_runs ordered by a metric it also filters on ("the best runs by accuracy") walks this
-- index in value order and stops after one page; without it every matching run is ranked.
CREATE INDEX rivulet_latest_metrics_key_value ON latest_metrics (key, value);
