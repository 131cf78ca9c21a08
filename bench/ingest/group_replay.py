"""Group-commit replay: copies the trace rows of a Rivulet SQLite database into a fresh one in
transactions of a fixed number of traces, the way the server's writer commits one group of
requests at a time, and prints spans/s. Shows what the commit size costs on exactly the rows
the server writes, without a server: `replay_limit.py` is the same rows in one transaction.

usage: group_replay.py SOURCE_DB EMPTY_SCHEMA_DB TRACES_PER_COMMIT [SKIPPED_TABLE,...]
SOURCE_DB: a database a Rivulet ingest run left. EMPTY_SCHEMA_DB: a database Rivulet created and
holds no traces (start and stop Rivulet on a new file); it is copied, not changed. Tables named
in the last argument are left out, to price them. WAL, synchronous=NORMAL and SQLite's default
autocheckpoint, as a plain SQLite application would run.
"""
import collections, os, shutil, sqlite3, sys, tempfile, time

# Parents first: every other table references trace_info.
TABLES = [("trace_info", "request_id"), ("trace_tags", "request_id"), ("trace_request_metadata", "request_id"),
          ("spans", "trace_id"), ("rivulet_trace_rollups", "request_id"), ("rivulet_span_services", "trace_id")]


def quoted(columns):
    return ", ".join(f'"{c}"' for c in columns)


def main():
    source_path, schema_path, per_commit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    skipped = set(filter(None, sys.argv[4].split(","))) if len(sys.argv) > 4 else set()
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    columns, rows_by_trace = {}, {}
    for table, key in TABLES:
        # table_xinfo lists generated columns too, flagged by `hidden` (2 virtual, 3 stored).
        columns[table] = [r[1] for r in source.execute(f"PRAGMA table_xinfo({table})") if r[6] == 0]
        by_trace, key_index = collections.defaultdict(list), columns[table].index(key)
        for row in source.execute(f"SELECT {quoted(columns[table])} FROM {table}"):
            by_trace[row[key_index]].append(row)
        rows_by_trace[table] = by_trace
    trace_ids = list(rows_by_trace["trace_info"])

    target_path = os.path.join(tempfile.mkdtemp(prefix="group-replay-"), "target.db")
    shutil.copy(schema_path, target_path)
    target = sqlite3.connect(target_path, isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    target.execute("PRAGMA foreign_keys=ON")
    for (experiment_id,) in source.execute("SELECT DISTINCT experiment_id FROM trace_info"):
        row = source.execute("SELECT experiment_id, name, artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
                             (experiment_id,)).fetchone()
        target.execute("INSERT OR IGNORE INTO experiments (experiment_id, name, artifact_location, lifecycle_stage) VALUES (?, ?, ?, ?)", row)

    n_spans, started = 0, time.perf_counter()
    for first in range(0, len(trace_ids), per_commit):
        group = trace_ids[first:first + per_commit]
        target.execute("BEGIN")
        for table, _ in TABLES:
            if table in skipped:
                continue
            rows = [row for trace_id in group for row in rows_by_trace[table].get(trace_id, [])]
            if table == "spans":
                n_spans += len(rows)
            if rows:
                marks = ", ".join("?" * len(columns[table]))
                target.executemany(f"INSERT INTO {table} ({quoted(columns[table])}) VALUES ({marks})", rows)
        target.execute("COMMIT")
    elapsed = time.perf_counter() - started
    shutil.rmtree(os.path.dirname(target_path))
    print(f"sqlite: {per_commit} traces per commit, skipped {sorted(skipped) or 'nothing'}: "
          f"{n_spans} spans in {elapsed:.2f} s = {n_spans / elapsed:.0f} spans/s")


if __name__ == "__main__":
    main()
