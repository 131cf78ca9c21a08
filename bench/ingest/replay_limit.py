"""The bulk-insert limit for the rows Rivulet really writes: copies every row that a Rivulet
ingest run left in its database (trace_info, trace_tags, trace_request_metadata, spans,
rivulet_trace_rollups, rivulet_span_services) into a fresh database with the same schema, in one
transaction, the way the shared raw_insert.py does (SQLite: WAL, synchronous=NORMAL, executemany;
PostgreSQL: COPY FROM STDIN). raw_insert.py writes two tables and ~1.4 KB of content per span,
while Rivulet stores ~2.9 KB per span (MLflow's span JSON carries the inputs twice) plus tags,
metadata, a rollup per trace and a service row per span, so its figure flatters the server;
this one is the ceiling for exactly the server's own output.

usage: replay_limit.py sqlite SOURCE_DB_PATH TARGET_DB_PATH
       replay_limit.py postgresql SOURCE_URL TARGET_URL [SESSIONS]
SESSIONS > 1 (PostgreSQL): the traces are split by id over that many sessions that COPY at once,
each from text encoded before the clock starts: the database's limit when every core inserts.
The target must already have the schema (start and stop Rivulet on it) and hold no traces. The
source may also be a database MLflow's own server wrote: it has no `rivulet_` tables, and the
replay then prices MLflow's rows for the same traffic.
Rows are read into memory first, untimed; experiments the rows point at are copied before the
clock starts. Prints spans/s (insert and commit only) as the last line.
"""
import io, sys, time

# Parents first: every other table references trace_info.
TABLES = ["trace_info", "trace_tags", "trace_request_metadata", "spans", "rivulet_trace_rollups", "rivulet_span_services"]
# The column naming each row's trace, to split the rows over sessions.
TRACE_COLUMN = {"trace_info": "request_id", "spans": "trace_id", "rivulet_span_services": "trace_id"}


def quoted(columns):
    return ", ".join(f'"{c}"' for c in columns)


class Sqlite:
    def __init__(self, path, read_only=False):
        import sqlite3
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True) if read_only else sqlite3.connect(path)

    def has_table(self, table):
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))

    def columns(self, table):
        # table_xinfo lists generated columns too, flagged by `hidden` (2 virtual, 3 stored).
        return [r[1] for r in self.conn.execute(f"PRAGMA table_xinfo({table})") if r[6] == 0]

    def query(self, sql, params=()):
        return self.conn.execute(sql, params).fetchall()

    def insert_untimed(self, table, columns, rows):
        marks = ", ".join("?" * len(columns))
        with self.conn:
            self.conn.executemany(f"INSERT INTO {table} ({quoted(columns)}) VALUES ({marks})", rows)

    def bulk_insert(self, batches):
        c = self.conn
        c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL")
        t0 = time.perf_counter()
        with c:
            for table, columns, rows in batches:
                marks = ", ".join("?" * len(columns))
                c.executemany(f"INSERT INTO {table} ({quoted(columns)}) VALUES ({marks})", rows)
        return time.perf_counter() - t0, ""


def copy_text(v):
    """One field in COPY's text format."""
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (bytes, memoryview)):
        return "\\\\x" + bytes(v).hex()
    return str(v)


class Postgres:
    def __init__(self, url, read_only=False):
        import psycopg2
        self.conn = psycopg2.connect(url)
        self.cur = self.conn.cursor()
        if read_only:
            self.conn.set_session(readonly=True)
            return
        # Rivulet sets this on every connection (span content is mostly past the 2 KB TOAST
        # threshold); without it the replay would pay pglz while the server pays lz4. Servers
        # that refuse it keep pglz, as Rivulet does.
        try:
            self.cur.execute("SET default_toast_compression = 'lz4'")
            self.conn.commit()
        except psycopg2.Error:
            self.conn.rollback()
        self.cur.execute("SHOW default_toast_compression")
        self.toast = self.cur.fetchone()[0]
        self.conn.commit()

    def has_table(self, table):
        return bool(self.query("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?", (table,)))

    def columns(self, table):
        self.cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                         " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", (table,))
        return [r[0] for r in self.cur.fetchall()]

    def query(self, sql, params=()):
        self.cur.execute(sql.replace("?", "%s"), params)
        return self.cur.fetchall()

    def insert_untimed(self, table, columns, rows):
        marks = ", ".join(["%s"] * len(columns))
        self.cur.executemany(f"INSERT INTO {table} ({quoted(columns)}) VALUES ({marks})", rows)
        if table == "experiments":  # keep the serial ahead of the ids just written
            self.cur.execute("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'),"
                             " (SELECT max(experiment_id) FROM experiments))")
        self.conn.commit()

    def bulk_insert_in_sessions(self, url, batches, sessions):
        """COPY the rows split by trace over `sessions` connections at once, from pre-encoded text."""
        import psycopg2, zlib
        from concurrent.futures import ThreadPoolExecutor
        parts = [[] for _ in range(sessions)]
        for table, columns, rows in batches:
            key = columns.index(TRACE_COLUMN.get(table, "request_id"))
            texts = [io.StringIO() for _ in range(sessions)]
            for r in rows:
                texts[zlib.crc32(r[key].encode()) % sessions].write("\t".join(map(copy_text, r)) + "\n")
            for part, text in zip(parts, texts):
                part.append((table, columns, text.getvalue()))
        connections = [psycopg2.connect(url) for _ in range(sessions)]
        for conn in connections:
            with conn.cursor() as cur:
                cur.execute(f"SET default_toast_compression = '{self.toast}'")
            conn.commit()

        def copy(conn, part):
            with conn.cursor() as cur:
                for table, columns, text in part:
                    cur.copy_expert(f"COPY {table} ({quoted(columns)}) FROM STDIN", io.StringIO(text))
            conn.commit()

        t0 = time.perf_counter()
        with ThreadPoolExecutor(sessions) as pool:
            list(pool.map(copy, connections, parts))  # re-raises a session's failure
        elapsed = time.perf_counter() - t0
        return elapsed, f", {sessions} sessions at once from pre-encoded text, TOAST {self.toast}"

    def bulk_insert(self, batches):
        t0 = time.perf_counter()
        encode = 0.0
        for table, columns, rows in batches:
            e0 = time.perf_counter()
            buf = io.StringIO()
            for r in rows:
                buf.write("\t".join(map(copy_text, r)) + "\n")
            buf.seek(0)
            encode += time.perf_counter() - e0
            self.cur.copy_expert(f"COPY {table} ({quoted(columns)}) FROM STDIN", buf)
        self.conn.commit()
        return time.perf_counter() - t0, f", {encode:.2f} s of it encoding COPY text, TOAST {self.toast}"


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ("sqlite", "postgresql"):
        sys.exit(__doc__)
    kind, source_at, target_at = sys.argv[1:4]
    sessions = int(sys.argv[4]) if len(sys.argv) == 5 else 1
    if sessions > 1 and kind != "postgresql":
        sys.exit("SESSIONS applies to PostgreSQL only: SQLite has one writer")
    backend = Sqlite if kind == "sqlite" else Postgres
    source, target = backend(source_at, read_only=True), backend(target_at)

    if target.query("SELECT count(*) FROM trace_info")[0][0]:
        sys.exit("target already holds traces; give it a fresh database")

    # A database MLflow wrote has only MLflow's tables; Rivulet's own are then left out.
    tables = [table for table in TABLES if not table.startswith("rivulet_") or source.has_table(table)]
    writer = "Rivulet's" if len(tables) == len(TABLES) else "MLflow's"
    batches = []
    for table in tables:
        columns = source.columns(table)
        if sorted(columns) != sorted(target.columns(table)):
            sys.exit(f"{table}: source and target columns differ")
        batches.append((table, columns, source.query(f"SELECT {quoted(columns)} FROM {table}")))
    counts = {table: len(rows) for table, _, rows in batches}

    needed = {r[0] for r in source.query("SELECT DISTINCT experiment_id FROM trace_info UNION SELECT DISTINCT experiment_id FROM spans")}
    present = {r[0] for r in target.query("SELECT experiment_id FROM experiments")}
    missing = sorted(needed - present)
    if missing:
        columns = source.columns("experiments")
        marks = ", ".join("?" * len(missing))
        rows = source.query(f"SELECT {quoted(columns)} FROM experiments WHERE experiment_id IN ({marks})", missing)
        target.insert_untimed("experiments", columns, rows)

    if sessions > 1:
        elapsed, detail = target.bulk_insert_in_sessions(target_at, batches, sessions)
    else:
        elapsed, detail = target.bulk_insert(batches)

    for table in tables:
        landed = target.query(f"SELECT count(*) FROM {table}")[0][0]
        if landed != counts[table]:
            sys.exit(f"{table}: {landed} rows in the target, {counts[table]} in the source")

    traces, spans = counts["trace_info"], counts["spans"]
    content = next(rows for table, _, rows in batches if table == "spans")
    content_col = next(columns for table, columns, _ in batches if table == "spans").index("content")
    avg_content = sum(len(r[content_col]) for r in content) / max(spans, 1)
    per_trace = "  ".join(f"{t} {counts[t] / max(traces, 1):.2f}" for t in tables)
    print(f"{kind}: rows per trace: {per_trace}; span content {avg_content:.0f} chars on average;"
          f" {len(missing)} experiment(s) copied first{detail}")
    others = sum(counts.values()) - spans
    print(f"{kind}: {spans} spans (+{others} other rows) in {elapsed:.2f} s = {spans / elapsed:.0f} spans/s"
          f" (replay of {writer} own rows)")


if __name__ == "__main__":
    main()
