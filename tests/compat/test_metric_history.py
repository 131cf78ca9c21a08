"""Long metric histories: the client pages get-history with 25,000 points per request."""

from __future__ import annotations

from mlflow.entities import Metric

POINTS = 30_000
BATCH = 1_000  # the server's per-request limit for log_batch metrics
BASE_TS = 1_700_000_000_000


def test_metric_history_over_client_page_size(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    for start in range(0, POINTS, BATCH):
        client.log_batch(
            run_id,
            metrics=[
                Metric("curve", float(step) / 2, BASE_TS + step, step)
                for step in range(start, start + BATCH)
            ],
        )

    history = client.get_metric_history(run_id, "curve")

    assert len(history) == POINTS
    assert [m.step for m in history] == list(range(POINTS))
    assert [m.timestamp for m in history] == [BASE_TS + s for s in range(POINTS)]
    assert [m.value for m in history] == [s / 2 for s in range(POINTS)]
    assert client.get_run(run_id).data.metrics == {"curve": (POINTS - 1) / 2}


def test_metric_history_order_is_timestamp_then_step(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # (value, timestamp, step), logged out of order.
    points = [(3.0, 30, 1), (1.0, 10, 5), (2.0, 20, 0), (4.0, 20, 2)]
    client.log_batch(run_id, metrics=[Metric("k", v, ts, s) for v, ts, s in points])

    history = client.get_metric_history(run_id, "k")
    assert [(m.timestamp, m.step, m.value) for m in history] == [
        (10, 5, 1.0),
        (20, 0, 2.0),
        (20, 2, 4.0),
        (30, 1, 3.0),
    ]
