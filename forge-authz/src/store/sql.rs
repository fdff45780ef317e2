//! One small SQL layer over the two backends: SQLite (embedded, one host) and PostgreSQL
//! (many hosts). Statements are written once, in PostgreSQL's `$1` placeholder style
//! (rewritten to SQLite's `?1`), with values restricted to what both hold the same way:
//! 64-bit integers (flags are 0/1), text and bytes. Every statement is prepared once per
//! connection and cached.
//!
//! Writers serialise as they did with SQLite alone: `BEGIN IMMEDIATE` there, a
//! transaction-scoped advisory lock taken first in PostgreSQL (every later statement of
//! the transaction, at READ COMMITTED, then sees what the previous writer committed). So
//! two hosts rotating one token at once give exactly one live successor.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A value bound to a statement or read from a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (also flags: 0 or 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(i64::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Blob(v.to_vec())
    }
}
impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Value {
        Value::Blob(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Value {
        v.as_deref().map_or(Value::Null, Value::from)
    }
}
impl From<&Option<i64>> for Value {
    fn from(v: &Option<i64>) -> Value {
        v.map_or(Value::Null, Value::Int)
    }
}

/// Values for a statement: `vals![a, b]`.
#[macro_export]
#[doc(hidden)]
macro_rules! vals {
    ($($v:expr),* $(,)?) => { [$($crate::store::sql::Value::from($v)),*] };
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [Type::INT8, Type::TEXT, Type::VARCHAR, Type::BYTEA].contains(ty)
    }

    postgres::types::to_sql_checked!();
}

/// One result row.
#[derive(Clone, Debug)]
pub struct Row(Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> anyhow::Result<&Value> {
        self.0.get(i).with_context(|| format!("no column {i}"))
    }
    /// An integer column.
    pub fn int(&self, i: usize) -> anyhow::Result<i64> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            other => bail!("column {i}: expected an integer, found {other:?}"),
        }
    }
    /// A flag column (0/1).
    pub fn flag(&self, i: usize) -> anyhow::Result<bool> {
        Ok(self.int(i)? != 0)
    }
    /// A nullable integer column.
    pub fn opt_int(&self, i: usize) -> anyhow::Result<Option<i64>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            other => bail!("column {i}: expected an integer, found {other:?}"),
        }
    }
    /// A text column.
    pub fn text(&self, i: usize) -> anyhow::Result<String> {
        self.str(i).map(str::to_owned)
    }
    /// A nullable text column.
    pub fn opt_text(&self, i: usize) -> anyhow::Result<Option<String>> {
        Ok(self.opt_str(i)?.map(str::to_owned))
    }
    /// A text column, borrowed.
    pub fn str(&self, i: usize) -> anyhow::Result<&str> {
        match self.at(i)? {
            Value::Text(v) => Ok(v),
            other => bail!("column {i}: expected text, found {other:?}"),
        }
    }
    /// A nullable text column, borrowed.
    pub fn opt_str(&self, i: usize) -> anyhow::Result<Option<&str>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            other => bail!("column {i}: expected text, found {other:?}"),
        }
    }
    /// Whether a column is NULL (a missing one is an error).
    pub fn is_null(&self, i: usize) -> anyhow::Result<bool> {
        Ok(matches!(self.at(i)?, Value::Null))
    }
    /// The columns from `at` on, moved out (no copy); this row keeps those before.
    pub fn split_off(&mut self, at: usize) -> anyhow::Result<Row> {
        if at > self.0.len() {
            bail!("no column {at}");
        }
        Ok(Row(self.0.split_off(at)))
    }
    /// A bytes column.
    pub fn blob(&self, i: usize) -> anyhow::Result<Vec<u8>> {
        match self.at(i)? {
            Value::Blob(v) => Ok(v.clone()),
            other => bail!("column {i}: expected bytes, found {other:?}"),
        }
    }
}

/// Which backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A SQLite connection with its statements' SQLite text (`$1` → `?1`), rewritten once per
/// statement and connection rather than per call (rusqlite caches the prepared statements
/// by that text). It derefs to the `rusqlite` connection.
pub struct Sqlite {
    conn: rusqlite::Connection,
    /// By the statement's address and length: statements are `&'static str`.
    texts: HashMap<(usize, usize), String>,
}

impl Sqlite {
    /// A connection, no statement rewritten yet.
    pub fn new(conn: rusqlite::Connection) -> Sqlite {
        Sqlite {
            conn,
            texts: HashMap::new(),
        }
    }

    /// `sql` prepared once per connection, its text rewritten once.
    fn prepare(&mut self, sql: &'static str) -> rusqlite::Result<rusqlite::CachedStatement<'_>> {
        let text = self
            .texts
            .entry((sql.as_ptr() as usize, sql.len()))
            .or_insert_with(|| sqlite_sql(sql));
        self.conn.prepare_cached(text)
    }
}

impl std::ops::Deref for Sqlite {
    type Target = rusqlite::Connection;
    fn deref(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Sqlite {
    fn deref_mut(&mut self) -> &mut rusqlite::Connection {
        &mut self.conn
    }
}

/// An open connection with its statement cache.
pub enum Conn {
    /// SQLite (rusqlite caches prepared statements itself).
    Sqlite(Sqlite),
    /// PostgreSQL and its prepared statements by SQL text.
    Postgres(
        Box<postgres::Client>,
        HashMap<&'static str, postgres::Statement>,
    ),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
            Conn::Postgres(..) => "Conn::Postgres",
        })
    }
}

/// Called with the duration of every statement (the server's store-latency metric).
static OBSERVER: std::sync::OnceLock<fn(Duration)> = std::sync::OnceLock::new();

/// Report every statement's duration to `f` (set once per process).
pub fn observe_queries(f: fn(Duration)) {
    let _ = OBSERVER.set(f);
}

fn observed<T>(run: impl FnOnce() -> T) -> T {
    match OBSERVER.get() {
        None => run(),
        Some(f) => {
            let start = Instant::now();
            let out = run();
            f(start.elapsed());
            out
        }
    }
}

/// `$1` → `?1` for SQLite (statements never hold `$` otherwise).
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn pg_value(row: &postgres::Row, i: usize) -> anyhow::Result<Value> {
    use postgres::types::Type;
    let ty = row
        .columns()
        .get(i)
        .map(|c| c.type_().clone())
        .context("no column")?;
    Ok(if ty == Type::INT8 {
        Value::from(row.try_get::<_, Option<i64>>(i)?)
    } else if ty == Type::INT4 {
        Value::from(row.try_get::<_, Option<i32>>(i)?.map(i64::from))
    } else if ty == Type::BOOL {
        Value::from(row.try_get::<_, Option<bool>>(i)?)
    } else if ty == Type::TEXT || ty == Type::VARCHAR || ty == Type::NAME {
        Value::from(row.try_get::<_, Option<String>>(i)?)
    } else if ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob)
    } else {
        bail!("column {i}: unsupported type {ty}")
    })
}

impl Conn {
    /// The backend.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(..) => Dialect::Postgres,
        }
    }

    /// Rows of a query.
    pub fn query(&mut self, sql: &'static str, args: &[Value]) -> anyhow::Result<Vec<Row>> {
        observed(|| match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare(sql)?;
                let n = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut row = Vec::with_capacity(n);
                    for i in 0..n {
                        use rusqlite::types::ValueRef;
                        row.push(match r.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(v) => Value::Int(v),
                            ValueRef::Text(t) => Value::Text(String::from_utf8(t.to_vec())?),
                            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                            ValueRef::Real(_) => bail!("column {i}: unexpected real"),
                        });
                    }
                    out.push(Row(row));
                }
                Ok(out)
            }
            Conn::Postgres(c, cache) => {
                let stmt = pg_prepare(c, cache, sql)?;
                let params = pg_params(args);
                let rows = c.query(&stmt, &params)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let mut row = Vec::with_capacity(r.len());
                    for i in 0..r.len() {
                        row.push(pg_value(r, i)?);
                    }
                    out.push(Row(row));
                }
                Ok(out)
            }
        })
    }

    /// At most one row.
    pub fn query_opt(&mut self, sql: &'static str, args: &[Value]) -> anyhow::Result<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// Run a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &'static str, args: &[Value]) -> anyhow::Result<u64> {
        observed(|| match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare(sql)?;
                Ok(u64::try_from(
                    stmt.execute(rusqlite::params_from_iter(args.iter()))?,
                )?)
            }
            Conn::Postgres(c, cache) => {
                let stmt = pg_prepare(c, cache, sql)?;
                let params = pg_params(args);
                Ok(c.execute(&stmt, &params)?)
            }
        })
    }

    /// Whether no transaction is open (PostgreSQL: not known here, so `false`).
    pub fn autocommit(&self) -> bool {
        match self {
            Conn::Sqlite(c) => c.is_autocommit(),
            Conn::Postgres(..) => false,
        }
    }

    /// A transaction's control statement: prepared once per connection on SQLite, not
    /// parsed again per transaction (`execute_batch` would); PostgreSQL takes it (and the
    /// advisory lock with it) as one simple query, one round trip.
    fn control(&mut self, sqlite: &'static str, postgres: &'static str) -> anyhow::Result<()> {
        match self {
            Conn::Sqlite(c) => {
                c.prepare_cached(sqlite)?.execute([])?;
            }
            Conn::Postgres(c, _) => c.batch_execute(postgres)?,
        }
        Ok(())
    }

    /// Run several statements with no arguments (schema changes).
    pub fn batch(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql)?,
            Conn::Postgres(c, _) => c.batch_execute(sql)?,
        }
        Ok(())
    }

    /// Begin a write transaction: writers serialise here (see the module comment).
    pub fn write(&mut self) -> anyhow::Result<Tx<'_>> {
        self.control(
            "BEGIN IMMEDIATE",
            "BEGIN ISOLATION LEVEL READ COMMITTED; \
             SELECT pg_advisory_xact_lock(7306654510706263668)",
        )?;
        Ok(Tx {
            conn: self,
            done: false,
        })
    }

    /// Begin a read transaction that sees one snapshot (several statements reading one
    /// consistent state, e.g. a configuration and its version): SQLite's deferred
    /// transaction (WAL: the snapshot of its first read), PostgreSQL's REPEATABLE READ.
    /// Dropped, it ends (rolls back: it wrote nothing).
    pub fn snapshot(&mut self) -> anyhow::Result<Tx<'_>> {
        self.control(
            "BEGIN DEFERRED",
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?;
        Ok(Tx {
            conn: self,
            done: false,
        })
    }
}

/// Statement arguments as the PostgreSQL client takes them.
fn pg_params(args: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    args.iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn pg_prepare(
    c: &mut postgres::Client,
    cache: &mut HashMap<&'static str, postgres::Statement>,
    sql: &'static str,
) -> anyhow::Result<postgres::Statement> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(sql).with_context(|| format!("preparing {sql}"))?;
    cache.insert(sql, s.clone());
    Ok(s)
}

/// A write transaction; dropped without `commit`, it rolls back.
#[derive(Debug)]
pub struct Tx<'a> {
    conn: &'a mut Conn,
    done: bool,
}

impl Tx<'_> {
    /// Make the transaction's changes durable.
    pub fn commit(mut self) -> anyhow::Result<()> {
        self.done = true;
        self.conn.control("COMMIT", "COMMIT")
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.control("ROLLBACK", "ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_sqlite_numbered_parameters() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $1 AND c = $12"),
            "SELECT a FROM t WHERE b = ?1 AND c = ?12"
        );
    }

    #[test]
    fn a_statement_and_its_prefix_keep_their_own_text() {
        let full: &'static str = "SELECT 1 AS a, $1 AS b";
        let prefix: &'static str = full.get(..13).unwrap_or_default();
        assert_eq!(prefix, "SELECT 1 AS a");
        let conn = rusqlite::Connection::open_in_memory().map(Sqlite::new);
        assert!(conn.is_ok(), "an in-memory database");
        let Ok(conn) = conn else { return };
        let mut conn = Conn::Sqlite(conn);
        for _ in 0..2 {
            let rows = conn.query(full, &[Value::Int(7)]).ok().unwrap_or_default();
            assert_eq!(rows.first().and_then(|r| r.int(1).ok()), Some(7));
            let rows = conn.query(prefix, &[]).ok().unwrap_or_default();
            assert_eq!(rows.first().map(|r| r.0.len()), Some(1));
        }
    }

    #[test]
    fn rows_refuse_the_wrong_type_instead_of_guessing() {
        let r = Row(vec![Value::Text("7".into()), Value::Null]);
        assert!(r.int(0).is_err());
        assert_eq!(r.opt_int(1).ok(), Some(None));
        assert!(r.text(1).is_err());
        assert!(r.text(2).is_err());
    }
}
