//! MLflow's reference schema and the catalogs the schema tests compare: loading MLflow 3.17.2's
//! dumps, reading a live database's catalog as a set of lines, and opening stores on it.

// Each schema test file compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rivulet_store::{Store, StoreSettings};
use sqlx::Connection;

use crate::common::{FreshDb, FreshPostgres, FreshSqlite};

pub const RIVULET_INDEX: &str = "rivulet_runs_experiment_id_start_time";
/// The revision just before MLflow 3.17.2's head.
pub const OLDER_REVISION: &str = "75868b020152";

// ---------------------------------------------------------------------------------------------
// The reference dumps
// ---------------------------------------------------------------------------------------------

fn reference_dir() -> PathBuf {
    let beside_checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/mlflow-3.17.2-schema");
    if beside_checkout.join("sqlite.sql").is_file() {
        return beside_checkout;
    }
    if let Ok(dir) = std::env::var("RIVULET_MLFLOW_SCHEMA_DIR") {
        return PathBuf::from(dir);
    }
    panic!(
        "MLflow's reference schema dumps are neither at {} nor named by RIVULET_MLFLOW_SCHEMA_DIR",
        beside_checkout.display()
    );
}

fn read_reference(file: &str) -> String {
    let path = reference_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The statements of `sqlite3 .schema` output. `.schema` lists the secrets trigger before the
/// table it belongs to, which SQLite would reject, so triggers are moved after everything else.
pub fn sqlite_reference_statements() -> Vec<String> {
    let text = read_reference("sqlite.sql");
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut in_trigger = false;
    for line in text.lines() {
        current.push_str(line);
        current.push('\n');
        in_trigger |= line.starts_with("CREATE TRIGGER");
        let ends = if in_trigger { line.trim() == "END;" } else { line.trim_end().ends_with(';') };
        if ends {
            statements.push(std::mem::take(&mut current));
            in_trigger = false;
        }
    }
    assert!(current.trim().is_empty(), "unterminated statement at the end of sqlite.sql");
    statements.sort_by_key(|s| s.starts_with("CREATE TRIGGER"));
    statements
}

/// The pg_dump output without psql's meta-commands (`\restrict` and `\unrestrict`).
fn postgres_reference_script() -> String {
    read_reference("postgresql.sql").lines().filter(|line| !line.starts_with('\\')).collect::<Vec<_>>().join("\n")
}

/// Loads MLflow's schema as MLflow created it into `db`; with `alembic_row`, also the
/// alembic_version row that MLflow writes last.
pub async fn load_reference(db: &FreshDb, alembic_row: Option<&str>) {
    match db {
        FreshDb::Sqlite(_) => {
            for statement in sqlite_reference_statements() {
                db.execute(&statement).await;
            }
        }
        FreshDb::Postgres(_) => db.execute(&postgres_reference_script()).await,
    }
    if let Some(revision) = alembic_row {
        db.execute(&format!("INSERT INTO alembic_version (version_num) VALUES ('{revision}')")).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Catalogs as sets of readable lines
// ---------------------------------------------------------------------------------------------

/// One line per fact about the schema; two schemas are the same when their sets are.
pub type Catalog = BTreeSet<String>;

#[derive(Clone, Copy, PartialEq)]
pub enum Objects {
    /// What MLflow owns: everything but `rivulet_` objects.
    MlflowOnly,
    All,
}

fn is_rivulet(name: &str) -> bool {
    name.starts_with("rivulet_")
}

struct CatalogBuilder {
    which: Objects,
    lines: Catalog,
}

impl CatalogBuilder {
    fn new(which: Objects) -> Self {
        CatalogBuilder { which, lines: Catalog::new() }
    }

    /// Records `line` unless it describes a Rivulet object (or part of one) and only MLflow's are wanted.
    fn add(&mut self, owner: &str, name: &str, line: String) {
        if self.which == Objects::MlflowOnly && (is_rivulet(owner) || is_rivulet(name)) {
            return;
        }
        self.lines.insert(line);
    }
}

pub async fn catalog(db: &FreshDb, which: Objects) -> Catalog {
    match db {
        FreshDb::Sqlite(db) => sqlite_catalog(db, which).await,
        FreshDb::Postgres(db) => postgres_catalog(db, which).await,
    }
}

/// Collapses whitespace and drops identifier quotes, so that formatting is not a difference.
fn normalize(sql: &str) -> String {
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.replace(['"', '`'], "").replace("( ", "(").replace(" )", ")")
}

/// Splits the inside of `CREATE TABLE t (...)` at its top-level commas.
fn split_table_items(body: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None, 0);
    for (index, ch) in body.char_indices() {
        match (quote, ch) {
            (Some(open), _) if ch == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                items.push(body[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(body[start..].trim());
    items
}

/// The text inside the first pair of parentheses after `keyword`, as a normalized column list.
fn columns_after(item: &str, keyword: &str) -> String {
    let upper = item.to_uppercase();
    let from = upper.find(keyword).expect("keyword present") + keyword.len();
    let open = from + item[from..].find('(').expect("column list");
    let close = open + item[open..].find(')').expect("column list end");
    item[open + 1..close].split(',').map(|c| normalize(c.trim())).collect::<Vec<_>>().join(", ")
}

/// What SQLite keeps only in the CREATE TABLE text: constraint names, check expressions and
/// generated columns. SQLAlchemy reads names back from that text one line at a time, so a table
/// constraint spread over several lines is recorded as a difference of its own.
fn sqlite_table_text(table: &str, sql: &str, out: &mut CatalogBuilder) -> HashMap<String, String> {
    let mut foreign_key_names = HashMap::new();
    let open = sql.find('(').expect("CREATE TABLE (");
    let close = sql.rfind(')').expect("CREATE TABLE )");
    let options = sql[close + 1..].trim();
    if !options.is_empty() {
        out.add(table, table, format!("table {table} options {options}"));
    }
    for item in split_table_items(&sql[open + 1..close]) {
        let flat = normalize(item);
        let upper = flat.to_uppercase();
        let (name, rest) = match upper.strip_prefix("CONSTRAINT ") {
            Some(_) => {
                let mut words = flat.splitn(3, ' ');
                words.next();
                (words.next().unwrap_or_default().to_string(), words.next().unwrap_or_default().to_string())
            }
            None => (String::new(), flat.clone()),
        };
        let rest_upper = rest.to_uppercase();
        let is_constraint = !name.is_empty()
            || ["PRIMARY KEY", "FOREIGN KEY", "UNIQUE", "CHECK"].iter().any(|k| rest_upper.starts_with(k));
        if !is_constraint {
            let column = flat.split(' ').next().unwrap_or_default();
            if let Some(at) = upper.find("GENERATED ALWAYS AS") {
                out.add(table, column, format!("column {table}.{column} {}", &flat[at..]));
            }
            if [" REFERENCES ", " CHECK", " UNIQUE", " PRIMARY KEY", " COLLATE "].iter().any(|k| upper.contains(k)) {
                out.add(table, column, format!("column {table}.{column} inline constraint: {flat}"));
            }
            continue;
        }
        if item.contains('\n') {
            out.add(table, &name, format!("constraint of {table} spread over several lines: {flat}"));
        }
        let shown = if name.is_empty() { "(unnamed)".to_string() } else { name.clone() };
        if rest_upper.starts_with("PRIMARY KEY") {
            out.add(table, &name, format!("primary key {shown} on {table} ({})", columns_after(&rest, "PRIMARY KEY")));
        } else if rest_upper.starts_with("UNIQUE") {
            out.add(table, &name, format!("unique {shown} on {table} ({})", columns_after(&rest, "UNIQUE")));
        } else if rest_upper.starts_with("CHECK") {
            out.add(table, &name, format!("check {shown} on {table}: {}", rest["CHECK".len()..].trim()));
        } else if rest_upper.starts_with("FOREIGN KEY") {
            foreign_key_names.insert(columns_after(&rest, "FOREIGN KEY"), shown);
        } else {
            out.add(table, &name, format!("constraint {shown} on {table}: {rest}"));
        }
    }
    foreign_key_names
}

/// pragma_table_xinfo: cid, name, type, notnull, dflt_value, pk, hidden.
type TableColumnRow = (i64, String, String, bool, Option<String>, i64, i64);
/// pragma_foreign_key_list: id, seq, table, from, to, on_update, on_delete, match.
type ForeignKeyRow = (i64, i64, String, String, Option<String>, String, String, String);
/// pragma_index_xinfo: cid, name, desc, coll, key.
type IndexKeyRow = (i64, Option<String>, bool, Option<String>, bool);

struct ForeignKey {
    id: i64,
    from: Vec<String>,
    target: String,
    to: Vec<String>,
    actions: String,
}

async fn sqlite_catalog(db: &FreshSqlite, which: Objects) -> Catalog {
    let mut conn = db.connect().await;
    let mut out = CatalogBuilder::new(which);
    let objects: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let index_sql: HashMap<&str, &str> = objects
        .iter()
        .filter(|(kind, ..)| kind == "index")
        .filter_map(|(_, name, _, sql)| Some((name.as_str(), sql.as_deref()?)))
        .collect();

    for (kind, name, table, sql) in &objects {
        let sql = sql.as_deref().unwrap_or_default();
        match kind.as_str() {
            "trigger" => out.add(table, name, format!("trigger {name} on {table}: {}", normalize(sql))),
            "view" => out.add(name, name, format!("view {name}: {}", normalize(sql))),
            "table" => {}
            _ => continue,
        }
        if kind != "table" {
            continue;
        }
        out.add(name, name, format!("table {name}"));

        let columns: Vec<TableColumnRow> = sqlx::query_as(
            "SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo($1)",
        )
        .bind(name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for (cid, column, declared, not_null, default, pk, hidden) in columns {
            let not_null = if not_null { " NOT NULL" } else { "" };
            let default = default.map(|d| format!(" DEFAULT {d}")).unwrap_or_default();
            out.add(
                name,
                &column,
                format!("column {name} #{cid} {column} {declared}{not_null}{default} pk={pk} hidden={hidden}"),
            );
        }

        let foreign_key_names = sqlite_table_text(name, sql, &mut out);
        let references: Vec<ForeignKeyRow> = sqlx::query_as(
            "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" FROM pragma_foreign_key_list($1) ORDER BY id, seq",
        )
        .bind(name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        // pragma_foreign_key_list gives one row per column; a key is all rows with its id.
        let mut keys: Vec<ForeignKey> = Vec::new();
        for (id, _, target, from, to, on_update, on_delete, matching) in references {
            if keys.last().map(|key| key.id) != Some(id) {
                let actions = format!("ON UPDATE {on_update} ON DELETE {on_delete} MATCH {matching}");
                keys.push(ForeignKey { id, from: Vec::new(), target, to: Vec::new(), actions });
            }
            let key = keys.last_mut().unwrap();
            key.from.push(from);
            key.to.push(to.unwrap_or_else(|| "(primary key)".into()));
        }
        for ForeignKey { from, target, to, actions, .. } in keys {
            let from = from.join(", ");
            let constraint = foreign_key_names.get(&from).cloned().unwrap_or_else(|| "(name not found in SQL)".into());
            out.add(
                name,
                &constraint,
                format!("foreign key {constraint} on {name} ({from}) REFERENCES {target} ({}) {actions}", to.join(", ")),
            );
        }

        let indexes: Vec<(i64, String, bool, String, bool)> =
            sqlx::query_as("SELECT seq, name, \"unique\", origin, partial FROM pragma_index_list($1)")
                .bind(name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        for (_, index, unique, origin, partial) in indexes {
            let keys: Vec<IndexKeyRow> =
                sqlx::query_as("SELECT cid, name, \"desc\", coll, key FROM pragma_index_xinfo($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            let keys: Vec<String> = keys
                .into_iter()
                .filter(|(_, _, _, _, key)| *key)
                .map(|(cid, column, descending, collation, _)| {
                    let column = column.unwrap_or_else(|| format!("<expression, cid {cid}>"));
                    let descending = if descending { " DESC" } else { "" };
                    let collation = match collation.as_deref() {
                        None | Some("BINARY") => String::new(),
                        Some(other) => format!(" COLLATE {other}"),
                    };
                    format!("{column}{descending}{collation}")
                })
                .collect();
            let unique = if unique { "UNIQUE " } else { "" };
            let condition = match index_sql.get(index.as_str()) {
                Some(sql) if partial => {
                    let flat = normalize(sql);
                    let at = flat.to_uppercase().rfind(" WHERE ").expect("partial index has WHERE");
                    flat[at..].to_string()
                }
                _ => String::new(),
            };
            out.add(
                name,
                &index,
                format!("{unique}index {index} on {name} ({}){condition} origin={origin}", keys.join(", ")),
            );
        }
    }
    conn.close().await.ok();
    out.lines
}

/// Each query yields (owning table, object name, line) for the schema MLflow's tables are in.
const POSTGRES_CATALOG_QUERIES: &[&str] = &[
    "SELECT c.relname::TEXT, c.relname::TEXT, format('relation %s kind %s', c.relname, c.relkind)
     FROM pg_class c
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
    "SELECT c.relname::TEXT, a.attname::TEXT,
            format('column %s #%s %s %s%s%s%s%s', c.relname,
                   row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
                   format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                   CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                        WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid)
                        ELSE '' END,
                   CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                                      WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END,
                   CASE WHEN a.attcollation <> t.typcollation THEN ' COLLATE ' || a.attcollation::regcollation::TEXT ELSE '' END)
     FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND a.attnum > 0 AND NOT a.attisdropped",
    "SELECT c.relname::TEXT, con.conname::TEXT,
            format('constraint %s on %s: %s', con.conname, c.relname, pg_get_constraintdef(con.oid))
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
     WHERE c.relnamespace = current_schema()::regnamespace",
    "SELECT t.relname::TEXT, i.relname::TEXT, format('index %s: %s', i.relname, pg_get_indexdef(i.oid))
     FROM pg_index x
     JOIN pg_class i ON i.oid = x.indexrelid
     JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relnamespace = current_schema()::regnamespace",
    "SELECT COALESCE(seq_owner.table_name, s.sequencename::TEXT), s.sequencename::TEXT,
            format('sequence %s %s start %s min %s max %s increment %s cycle %s cache %s owned by %s',
                   s.sequencename, s.data_type, s.start_value, s.min_value, s.max_value, s.increment_by,
                   s.cycle, s.cache_size, COALESCE(seq_owner.description, 'nothing'))
     FROM pg_sequences s
     LEFT JOIN LATERAL (
         SELECT tc.relname::TEXT AS table_name,
                tc.relname || '.' || a.attname || ' (dependency ' || d.deptype::TEXT || ')' AS description
         FROM pg_depend d
         JOIN pg_class tc ON tc.oid = d.refobjid
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
           AND d.deptype IN ('a', 'i')
     ) seq_owner ON TRUE
     WHERE s.schemaname = current_schema()",
    "SELECT c.relname::TEXT, tg.tgname::TEXT, format('trigger %s: %s', tg.tgname, pg_get_triggerdef(tg.oid))
     FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
     WHERE NOT tg.tgisinternal AND c.relnamespace = current_schema()::regnamespace",
    "SELECT p.proname::TEXT, p.proname::TEXT,
            format('function %s(%s) returns %s language %s volatility %s security definer %s: %s',
                   p.proname, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), l.lanname,
                   p.provolatile, p.prosecdef, btrim(regexp_replace(p.prosrc, '\\s+', ' ', 'g')))
     FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
     WHERE p.pronamespace = current_schema()::regnamespace",
    "SELECT t.typname::TEXT, t.typname::TEXT, format('type %s kind %s', t.typname, t.typtype)
     FROM pg_type t
     WHERE t.typnamespace = current_schema()::regnamespace AND t.typtype IN ('e', 'd', 'r', 'm')",
];

async fn postgres_catalog(db: &FreshPostgres, which: Objects) -> Catalog {
    let mut conn = db.connect().await;
    let mut out = CatalogBuilder::new(which);
    for query in POSTGRES_CATALOG_QUERIES {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as(query).fetch_all(&mut conn).await.unwrap_or_else(|e| panic!("{e}\n{query}"));
        for (owner, name, line) in rows {
            out.add(&owner, &name, line);
        }
    }
    conn.close().await.ok();
    out.lines
}

/// Restoring a pg_dump re-parses each CHECK and stores `x = ANY ((ARRAY['a', …])::text[])` as the
/// equivalent `x = ANY (ARRAY[('a')::text, …])`, so for checks the reference is the text the dump
/// holds, which is how PostgreSQL printed the constraints MLflow itself created.
pub fn with_checks_as_dumped(restored: Catalog) -> Catalog {
    let is_check = |line: &String| line.starts_with("constraint ") && line.contains(": CHECK (");
    let restored_checks = restored.iter().filter(|line| is_check(line)).count();
    let mut dumped = Vec::new();
    let mut table = String::new();
    for line in read_reference("postgresql.sql").lines() {
        if let Some(rest) = line.strip_prefix("CREATE TABLE public.") {
            table = rest.split_whitespace().next().unwrap_or_default().to_string();
        }
        let line = line.trim().trim_end_matches(',');
        if let Some(rest) = line.strip_prefix("CONSTRAINT ") {
            if let Some((name, check)) = rest.split_once(" CHECK ") {
                dumped.push(format!("constraint {name} on {table}: CHECK {check}"));
            }
        }
    }
    assert_eq!(dumped.len(), restored_checks, "every CHECK of the restored reference is in the dump text");
    restored.into_iter().filter(|line| !is_check(line)).chain(dumped).collect()
}

/// Fails with every differing line, MLflow's and Rivulet's side by side in name order.
pub fn assert_same_catalog(context: &str, mlflow: &Catalog, rivulet: &Catalog) {
    let mut differences: Vec<(&String, &str)> = mlflow
        .difference(rivulet)
        .map(|line| (line, "- only MLflow's:  "))
        .chain(rivulet.difference(mlflow).map(|line| (line, "+ only Rivulet's: ")))
        .collect();
    if differences.is_empty() {
        return;
    }
    differences.sort();
    let report: Vec<String> = differences.iter().map(|(line, side)| format!("  {side}{line}")).collect();
    panic!("{context}: {} differences between the catalogs\n{}", differences.len(), report.join("\n"));
}

pub fn count_lines(catalog: &Catalog, prefix: &str) -> usize {
    catalog.iter().filter(|line| line.starts_with(prefix)).count()
}

// ---------------------------------------------------------------------------------------------
// Helpers over a store
// ---------------------------------------------------------------------------------------------

pub async fn open(db: &FreshDb, settings: StoreSettings) -> anyhow::Result<Store> {
    Store::open(db.uri(), settings).await
}

pub async fn open_and_close(db: &FreshDb) {
    let store = open(db, StoreSettings::default()).await.unwrap_or_else(|e| panic!("{}: {e:#}", db.label()));
    store.close().await;
}

pub fn without_migrations() -> StoreSettings {
    StoreSettings { migrate: false, ..StoreSettings::default() }
}

pub async fn experiment_rows(db: &FreshDb) -> Vec<String> {
    db.query_strings(
        "SELECT CAST(experiment_id AS TEXT) || '|' || name || '|' || COALESCE(artifact_location, '<null>') || '|' \
         || COALESCE(lifecycle_stage, '<null>') || '|' || COALESCE(CAST(creation_time AS TEXT), '<null>') || '|' \
         || COALESCE(CAST(last_update_time AS TEXT), '<null>') || '|' || workspace \
         FROM experiments ORDER BY experiment_id",
    )
    .await
}

pub async fn rivulet_migration_rows(db: &FreshDb) -> Vec<String> {
    db.query_strings(
        "SELECT CAST(version AS TEXT) || '|' || description || '|' || CAST(applied_at AS TEXT) \
         FROM rivulet_schema_migrations ORDER BY version",
    )
    .await
}

pub async fn table_exists(db: &FreshDb, table: &str) -> bool {
    let sql = match db {
        FreshDb::Sqlite(_) => format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{table}'"),
        FreshDb::Postgres(_) => format!("SELECT CAST(to_regclass('{table}') AS TEXT) WHERE to_regclass('{table}') IS NOT NULL"),
    };
    !db.query_strings(&sql).await.is_empty()
}

pub async fn index_exists(db: &FreshDb, index: &str) -> bool {
    let sql = match db {
        FreshDb::Sqlite(_) => format!("SELECT name FROM sqlite_master WHERE type = 'index' AND name = '{index}'"),
        FreshDb::Postgres(_) => format!("SELECT indexname::TEXT FROM pg_indexes WHERE indexname = '{index}'"),
    };
    !db.query_strings(&sql).await.is_empty()
}
