use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::{Storage, StorageError};
use crate::log::{ReplayMode, RunRecord, RunStatus, TaskRecord, TaskStatus};

/// SQLite's `synchronous` setting: how hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// No fsync: fastest, a power loss may lose recent commits.
    Off,
    /// In WAL mode, fsync at checkpoints only: a power loss may lose the last commits, never
    /// corrupts.
    Normal,
    /// fsync at every commit: a committed task survives a power loss. The default.
    #[default]
    Full,
    /// Like `Full`, and also syncs the directory.
    Extra,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema version this code writes (`PRAGMA user_version`).
// Version 1: task_outputs is a WITHOUT ROWID table clustered on (run_id, task_name): one
// b-tree to update per record, and a run's records stored together for loading.
// Version 2: task_outputs.llm, the task's LLM use as JSON (NULL without one).
const SCHEMA_VERSION: i64 = 2;

/// What takes a log of each older version to this one, in order.
const MIGRATIONS: [(i64, &str); 1] = [(1, "ALTER TABLE task_outputs ADD COLUMN llm TEXT;")];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id           TEXT PRIMARY KEY,
    registry     TEXT NOT NULL,
    source_hash  TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL,
    inputs       TEXT NOT NULL,
    parent_run   TEXT REFERENCES runs(id) ON DELETE SET NULL,
    replay_task  TEXT,
    replay_mode  TEXT,
    error        TEXT
);
CREATE INDEX IF NOT EXISTS runs_started_at ON runs(started_at);
CREATE TABLE IF NOT EXISTS task_outputs (
    run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_index      INTEGER NOT NULL,
    task_name       TEXT NOT NULL,
    expected_output TEXT NOT NULL,
    inputs          TEXT NOT NULL,
    output          TEXT NOT NULL, -- the produced fields, as a JSON object
    status          TEXT NOT NULL,
    error_kind      TEXT,
    error           TEXT,
    was_replayed    INTEGER NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT NOT NULL,
    duration_ms     REAL NOT NULL,
    attempts        INTEGER NOT NULL,
    llm             TEXT, -- LlmUsage as JSON
    PRIMARY KEY (run_id, task_name)
) WITHOUT ROWID;
";

/// Creates the schema of a new log, or brings an older one to this version, in one
/// transaction. The version is read again under the write lock: another process may have done
/// it meanwhile.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            conn.execute_batch(SCHEMA)?;
        } else {
            for (from, sql) in MIGRATIONS {
                if version <= from {
                    conn.execute_batch(sql)?;
                }
            }
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The WAL's size when SQLite checkpoints it (1,000 frames of a 4 KiB page and its 24-byte
/// header, after the 32-byte file header): its size in steady use.
const WAL_BYTES: u64 = 32 + 1_000 * (4_096 + 24);

/// Runs `op` again while SQLite answers `SQLITE_BUSY`, for up to the busy timeout.
fn retry_while_busy<T>(mut op: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match op() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            other => return other,
        }
    }
}

/// Extends the WAL with zeros to its steady size. A durable commit appends to the WAL, and an
/// `fdatasync` after an append must also write the file's new size: 240 µs against 150 µs for
/// overwriting allocated blocks on the disk the README measures. SQLite never reads past its
/// last valid frame, so zeros after the end are inert, and its next frames overwrite them.
/// Done while holding the write lock (`BEGIN IMMEDIATE`): no other connection can be
/// appending frames, and only bytes past the current end are written.
///
/// Only speed is at stake, so the disk's room comes first: the WAL is extended only when the
/// filesystem has four times the bytes to add free, and an extension that fails half-way
/// (a full disk, a file-size limit) is cut back to where it started.
#[cfg(unix)]
fn extend_wal(conn: &mut Connection, db: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use std::os::unix::fs::FileExt as _;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut wal_name = db.as_os_str().to_owned();
    wal_name.push("-wal");
    let wal_path = PathBuf::from(wal_name);
    let extended = (|| -> Result<(), Box<dyn std::error::Error>> {
        let wal = std::fs::OpenOptions::new().write(true).open(&wal_path)?;
        let start = wal.metadata()?.len();
        if start >= WAL_BYTES {
            return Ok(());
        }
        let missing = WAL_BYTES - start;
        let free = free_bytes(&wal_path)?;
        if free < missing.saturating_mul(4) {
            return Err(format!("{free} bytes free: too little room to pre-size the WAL").into());
        }
        // Zeros written, not a sparse `set_len`: writing into a hole allocates blocks, which
        // is the metadata update this avoids.
        let zeros = vec![0u8; 64 * 1024];
        let mut at = start;
        let written = (|| {
            while at < WAL_BYTES {
                let n = (WAL_BYTES - at).min(zeros.len() as u64) as usize;
                wal.write_all_at(&zeros[..n], at)?;
                at += n as u64;
            }
            wal.sync_data()
        })();
        if let Err(e) = written {
            // Give the room back: the zeros are SQLite's to do without.
            let _ = wal.set_len(start);
            return Err(e.into());
        }
        Ok(())
    })();
    tx.commit()?;
    extended
}

/// The bytes an unprivileged process may still write on the filesystem holding `path`.
#[cfg(unix)]
fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `name` is a valid C string and `stat` a buffer of the right type that statvfs
    // fills when it returns 0.
    let status = unsafe { libc::statvfs(name.as_ptr(), stat.as_mut_ptr()) };
    if status != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let stat = unsafe { stat.assume_init() };
    // The fields' types differ between platforms (u32 on some): the casts are needed there.
    #[allow(clippy::unnecessary_cast)]
    let (blocks, size) = (stat.f_bavail as u64, stat.f_frsize as u64);
    Ok(blocks.saturating_mul(size))
}

/// Persistent WAL: when the last connection closes, SQLite checkpoints the WAL (the database
/// file alone is then complete) but keeps the file, so the next process's commits overwrite
/// it instead of growing a new one (see [`extend_wal`]).
fn keep_wal_on_close(conn: &Connection) {
    let mut persist: std::os::raw::c_int = 1;
    // SAFETY: the handle is valid for the connection's life; SQLITE_FCNTL_PERSIST_WAL reads
    // and writes one int through the pointer, which outlives the call.
    unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut persist as *mut std::os::raw::c_int).cast(),
        );
    }
}

/// The execution log in an SQLite file: every run kept, tasks found by run and stable name.
///
/// WAL journal, one writer per process (a mutex), a busy timeout so that several processes can
/// share the file, `synchronous = FULL` unless chosen otherwise.
pub struct SqliteStorage {
    conn: Mutex<Connection>,
    target: String,
    path: Option<PathBuf>,
    /// The task columns to read: an older log opened read-only lacks the newer ones.
    task_columns: &'static str,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("target", &self.target)
            .finish()
    }
}

impl SqliteStorage {
    /// Opens (or creates) the log at `path`, with `synchronous = FULL`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::open_with(path, Synchronous::Full)
    }

    /// Opens (or creates) the log at `path` with the given durability.
    pub fn open_with(
        path: impl AsRef<Path>,
        synchronous: Synchronous,
    ) -> Result<Self, StorageError> {
        let path = path.as_ref();
        let target = path.display().to_string();
        let conn = Connection::open(path)
            .map_err(|e| StorageError::new("open the database", &target, e))?;
        keep_wal_on_close(&conn);
        Self::setup(conn, target, Some(path.to_path_buf()), synchronous)
    }

    /// Opens an existing log to read it, and never writes to it: no schema, no journal
    /// switch, no WAL extension; works in a read-only directory. A missing, empty or foreign
    /// file (not SQLite, or SQLite without tasknet's tables) is refused by name and left as it
    /// is. What `log` and `export` open.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        use rusqlite::OpenFlags;
        let path = path.as_ref();
        let target = path.display().to_string();
        let refuse = |why: String| StorageError::new("open the log to read it", &target, why);
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => refuse("there is no log there".to_owned()),
            _ => refuse(e.to_string()),
        })?;
        if !meta.is_file() {
            return Err(refuse("not a regular file".to_owned()));
        }
        if meta.len() == 0 {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            let wal_bytes = std::fs::metadata(PathBuf::from(&wal)).map_or(0, |m| m.len());
            let why = if wal_bytes > 0 {
                format!(
                    "the file is empty (0 bytes) but its write-ahead log holds {wal_bytes} bytes: the file was damaged; both are left exactly as they are (copy them before trying to recover the runs)"
                )
            } else {
                "the file is empty (0 bytes): not a tasknet log".to_owned()
            };
            return Err(refuse(why));
        }
        let mut magic = [0u8; 16];
        let read = std::fs::File::open(path).and_then(|mut f| {
            use std::io::Read as _;
            f.read_exact(&mut magic)
        });
        if read.is_err() || &magic != b"SQLite format 3\0" {
            return Err(refuse(
                "not an SQLite file, so not a tasknet log".to_owned(),
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let uri = |extra: &str| {
            let mut text = String::from("file:");
            for byte in path.as_os_str().as_encoded_bytes() {
                match byte {
                    b'%' | b'?' | b'#' => text.push_str(&format!("%{byte:02X}")),
                    _ => text.push(*byte as char),
                }
            }
            text.push_str("?mode=ro");
            text.push_str(extra);
            text
        };
        let check = |conn: Connection| -> Result<Connection, StorageError> {
            let tables: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'task_outputs')",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| StorageError::new("read the schema", &target, e))?;
            if tables != 2 {
                return Err(refuse(
                    "an SQLite file without tasknet's tables (`runs`, `task_outputs`): not a tasknet log; it is left as it is".to_owned(),
                ));
            }
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| StorageError::new("read the schema version", &target, e))?;
            if version > SCHEMA_VERSION {
                return Err(refuse(format!(
                    "the log was written by a newer tasknet (schema {version}, this one knows {SCHEMA_VERSION})"
                )));
            }
            Ok(conn)
        };
        let opened = Connection::open_with_flags(uri(""), flags)
            .map_err(|e| StorageError::new("open the log to read it", &target, e))
            .and_then(check);
        let conn = match opened {
            Ok(conn) => conn,
            // A WAL log in a directory this process cannot write: SQLite cannot make the
            // shared-memory file readers need. With no such file no writer is at work, so
            // the file can be read as it stands.
            Err(first) => {
                let mut shm = path.as_os_str().to_owned();
                shm.push("-shm");
                if PathBuf::from(shm).exists() {
                    return Err(first);
                }
                Connection::open_with_flags(uri("&immutable=1"), flags)
                    .map_err(|_| first)
                    .and_then(check)?
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StorageError::new("set the busy timeout", &target, e))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| StorageError::new("read the schema version", &target, e))?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            target,
            path: Some(path.to_path_buf()),
            task_columns: if version < 2 {
                TASK_COLUMNS_V1
            } else {
                TASK_COLUMNS
            },
        })
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StorageError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| StorageError::new("open the database", ":memory:", e))?;
        Self::setup(conn, ":memory:".to_owned(), None, Synchronous::Off)
    }

    fn setup(
        mut conn: Connection,
        target: String,
        path: Option<PathBuf>,
        synchronous: Synchronous,
    ) -> Result<Self, StorageError> {
        let err = |op: &str| {
            let target = target.clone();
            let op = op.to_owned();
            move |e: rusqlite::Error| StorageError::new(op, target, e)
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(err("set the busy timeout"))?;
        if path.is_some() {
            // Switching the journal needs a lock that SQLite does not wait for with the busy
            // handler: two processes opening a new log at once would see `database is locked`.
            let mode: String =
                retry_while_busy(|| conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)))
                    .map_err(err("switch to the WAL journal"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StorageError::new(
                    "switch to the WAL journal",
                    &target,
                    format!("SQLite kept the `{mode}` journal"),
                ));
            }
        }
        conn.pragma_update(None, "synchronous", synchronous.pragma())
            .map_err(err("set `synchronous`"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err("enable foreign keys"))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err("read the schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(StorageError::new(
                "read the schema version",
                &target,
                format!(
                    "the log was written by a newer tasknet (schema {version}, this one knows {SCHEMA_VERSION})"
                ),
            ));
        }
        // Only a new (or older) log is written to on opening: an existing one, even a damaged
        // one, is left exactly as it was until something is stored.
        if version < SCHEMA_VERSION {
            migrate(&conn).map_err(err(if version == 0 {
                "create the schema"
            } else {
                "migrate the schema"
            }))?;
        }
        #[cfg(unix)]
        if let Some(db) = &path {
            // Only speed is at stake: SQLite grows the WAL itself when this cannot.
            if let Err(e) = extend_wal(&mut conn, db) {
                tracing::debug!(log = %target, error = %e, "WAL not extended");
            }
        }
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            target,
            path,
            task_columns: TASK_COLUMNS,
        })
    }

    /// The database file, unless in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // rusqlite leaves the connection usable after a panic elsewhere: take it back.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, op: &str) -> impl Fn(rusqlite::Error) -> StorageError + '_ {
        let op = op.to_owned();
        move |e| StorageError::new(op.clone(), &self.target, e)
    }

    /// Copies the live database to `dest` with SQLite's online backup (readers and writers may
    /// keep going meanwhile).
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<(), StorageError> {
        let dest = dest.as_ref();
        let conn = self.conn();
        conn.backup(
            rusqlite::MAIN_DB,
            dest,
            None::<fn(rusqlite::backup::Progress)>,
        )
        .map_err(|e| StorageError::new(format!("back up to {}", dest.display()), &self.target, e))
    }

    /// Runs `PRAGMA integrity_check`; `Ok(())` when it says "ok".
    pub fn integrity_check(&self) -> Result<(), StorageError> {
        let result: String = self
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(self.err("check integrity"))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StorageError::new("check integrity", &self.target, result))
        }
    }
}

fn enum_text<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn enum_from<T: serde::de::DeserializeOwned>(text: String) -> rusqlite::Result<T> {
    serde_json::from_value(Value::String(text)).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn json_from(text: String) -> rusqlite::Result<Value> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

const RUN_COLUMNS: &str = "id, registry, source_hash, started_at, finished_at, status, inputs, parent_run, replay_task, replay_mode, error";

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        registry: row.get(1)?,
        source_hash: row.get(2)?,
        started_at: row.get(3)?,
        finished_at: row.get(4)?,
        status: enum_from(row.get(5)?)?,
        inputs: json_from(row.get(6)?)?,
        parent_run: row.get(7)?,
        replay_task: row.get(8)?,
        replay_mode: row
            .get::<_, Option<String>>(9)?
            .map(enum_from::<ReplayMode>)
            .transpose()?,
        error: row.get(10)?,
    })
}

/// The columns `task_from_row` reads (the run id is the query's own parameter).
const TASK_COLUMNS: &str = "task_index, task_name, expected_output, inputs, output, status, error_kind, error, was_replayed, started_at, finished_at, duration_ms, attempts, llm";
/// The same for a log of schema 1, read without migrating it (read-only).
const TASK_COLUMNS_V1: &str = "task_index, task_name, expected_output, inputs, output, status, error_kind, error, was_replayed, started_at, finished_at, duration_ms, attempts, NULL";

fn task_status(text: &str) -> rusqlite::Result<TaskStatus> {
    Ok(match text {
        "succeeded" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        "skipped" => TaskStatus::Skipped,
        "restored" => TaskStatus::Restored,
        other => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown task status `{other}`").into(),
            ));
        }
    })
}

/// A column as text whatever it holds, for naming a row that cannot be decoded.
fn text_lossy(row: &Row<'_>, column: usize) -> String {
    use rusqlite::types::ValueRef;
    match row.get_ref(column) {
        Ok(ValueRef::Text(bytes) | ValueRef::Blob(bytes)) => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        Ok(ValueRef::Integer(n)) => n.to_string(),
        Ok(ValueRef::Real(x)) => x.to_string(),
        Ok(ValueRef::Null) | Err(_) => "?".to_owned(),
    }
}

fn json_text(row: &Row<'_>, column: usize) -> rusqlite::Result<crate::JsonText> {
    Ok(crate::JsonText::from_store(row.get(column)?))
}

fn task_from_row(row: &Row<'_>, run_id: &str) -> rusqlite::Result<TaskRecord> {
    Ok(TaskRecord {
        run_id: run_id.to_owned(),
        task_index: row.get::<_, i64>(0)? as usize,
        task_name: Cow::Owned(row.get(1)?),
        expected_output: Cow::Owned(row.get(2)?),
        inputs: json_text(row, 3)?,
        output: json_text(row, 4)?,
        status: task_status(row.get_ref(5)?.as_str()?)?,
        error_kind: row.get(6)?,
        error: row.get(7)?,
        was_replayed: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        duration_ms: row.get(11)?,
        attempts: row.get::<_, i64>(12)? as u32,
        llm: match row.get_ref(13)? {
            rusqlite::types::ValueRef::Null => None,
            value => Some(serde_json::from_str(value.as_str()?).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    13,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?),
        },
    })
}

const INSERT_COLUMNS: &str = "INSERT INTO task_outputs (run_id, task_index, task_name, expected_output, inputs, output, status, error_kind, error, was_replayed, started_at, finished_at, duration_ms, attempts, llm) VALUES ";
const ON_CONFLICT: &str = " ON CONFLICT (run_id, task_name) DO UPDATE SET task_index = excluded.task_index, expected_output = excluded.expected_output, inputs = excluded.inputs, output = excluded.output, status = excluded.status, error_kind = excluded.error_kind, error = excluded.error, was_replayed = excluded.was_replayed, started_at = excluded.started_at, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, attempts = excluded.attempts, llm = excluded.llm";
const TASK_PARAMS: usize = 15;

/// Records per statement when storing many: one statement step per row was a fifth of a
/// batched write (binding, stepping and resetting); 16 rows of 15 parameters stay far below
/// SQLite's limit of 32,766 parameters.
const ROWS_PER_INSERT: usize = 16;

/// The upsert of `rows` task records: later rows of the same task win, as with one by one.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(INSERT_COLUMNS);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for param in 0..TASK_PARAMS {
            if param > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", row * TASK_PARAMS + param + 1));
        }
        sql.push(')');
    }
    sql.push_str(ON_CONFLICT);
    sql
}

fn insert_task(conn: &Connection, t: &TaskRecord) -> rusqlite::Result<usize> {
    thread_local! {
        static ONE: String = insert_sql(1);
    }
    ONE.with(|sql| {
        let mut stmt = conn.prepare_cached(sql)?;
        bind_task(&mut stmt, 0, t)?;
        stmt.raw_execute()
    })
}

fn insert_tasks(conn: &Connection, tasks: &[TaskRecord]) -> rusqlite::Result<()> {
    thread_local! {
        static MANY: String = insert_sql(ROWS_PER_INSERT);
    }
    let mut chunks = tasks.chunks_exact(ROWS_PER_INSERT);
    MANY.with(|sql| -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(sql)?;
        for chunk in &mut chunks {
            for (row, t) in chunk.iter().enumerate() {
                bind_task(&mut stmt, row * TASK_PARAMS, t)?;
            }
            stmt.raw_execute()?;
        }
        Ok(())
    })?;
    chunks
        .remainder()
        .iter()
        .try_for_each(|t| insert_task(conn, t).map(drop))
}

/// Binds a record to the parameters after `offset`.
fn bind_task(
    stmt: &mut rusqlite::Statement<'_>,
    offset: usize,
    t: &TaskRecord,
) -> rusqlite::Result<()> {
    let llm = t
        .llm
        .as_ref()
        .map(|usage| serde_json::to_string(usage).unwrap_or_default());
    let values: [&dyn rusqlite::ToSql; TASK_PARAMS] = [
        &t.run_id,
        &(t.task_index as i64),
        &t.task_name,
        &t.expected_output,
        &t.inputs.as_str(),
        &t.output.as_str(),
        &t.status.as_str(),
        &t.error_kind,
        &t.error,
        &t.was_replayed,
        &t.started_at,
        &t.finished_at,
        &t.duration_ms,
        &(t.attempts as i64),
        &llm,
    ];
    for (i, value) in values.into_iter().enumerate() {
        stmt.raw_bind_parameter(offset + i + 1, value)?;
    }
    Ok(())
}

impl Storage for SqliteStorage {
    fn describe(&self) -> String {
        self.target.clone()
    }

    fn create_run(&self, run: &RunRecord) -> Result<(), StorageError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO runs (id, registry, source_hash, started_at, finished_at, status, inputs, parent_run, replay_task, replay_mode, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run.id,
                    run.registry,
                    run.source_hash,
                    run.started_at,
                    run.finished_at,
                    enum_text(run.status),
                    run.inputs.to_string(),
                    run.parent_run,
                    run.replay_task,
                    run.replay_mode.map(enum_text),
                    run.error,
                ])
            })
            .map(|_| ())
            .map_err(self.err("insert the run"))
    }

    fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        finished_at: &str,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, error = ?4 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![run_id, enum_text(status), finished_at, error])
            })
            .map_err(self.err("mark the run finished"))?;
        if changed == 0 {
            return Err(StorageError::new(
                "mark the run finished",
                &self.target,
                format!("no run `{run_id}`"),
            ));
        }
        Ok(())
    }

    fn put_task(&self, task: TaskRecord) -> Result<(), StorageError> {
        insert_task(&self.conn(), &task)
            .map(|_| ())
            .map_err(self.err("insert the task record"))
    }

    fn put_tasks(&self, tasks: Vec<TaskRecord>) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        insert_tasks(&tx, &tasks).map_err(self.err("insert the task records"))?;
        tx.commit().map_err(self.err("commit the task records"))
    }

    fn update_task_at(
        &self,
        run_id: &str,
        task_index: usize,
        task: TaskRecord,
    ) -> Result<bool, StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        let deleted = tx
            .execute(
                "DELETE FROM task_outputs WHERE run_id = ?1 AND task_index = ?2",
                params![run_id, task_index as i64],
            )
            .map_err(self.err("replace the task record"))?;
        if deleted == 0 {
            return Ok(false);
        }
        insert_task(&tx, &task).map_err(self.err("replace the task record"))?;
        tx.commit().map_err(self.err("commit the task record"))?;
        Ok(true)
    }

    fn delete_tasks(&self, run_id: &str) -> Result<usize, StorageError> {
        self.conn()
            .execute(
                "DELETE FROM task_outputs WHERE run_id = ?1",
                params![run_id],
            )
            .map_err(self.err("delete the task records"))
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StorageError> {
        self.conn()
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row(params![run_id], run_from_row).optional())
            .map_err(self.err("read the run"))
    }

    fn runs_page(
        &self,
        before: Option<&super::RunCursor>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.conn();
        let runs = match before {
            None => conn
                .prepare_cached(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1"
                ))
                .and_then(|mut stmt| stmt.query_map(params![limit], run_from_row)?.collect()),
            Some(cursor) => conn
                .prepare_cached(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE started_at < ?1 OR (started_at = ?1 AND id < ?2) ORDER BY started_at DESC, id DESC LIMIT ?3"
                ))
                .and_then(|mut stmt| {
                    stmt.query_map(params![cursor.started_at, cursor.id, limit], run_from_row)?
                        .collect()
                }),
        };
        runs.map_err(self.err("read a page of runs"))
    }

    fn runs_each(&self) -> Result<Vec<Result<RunRecord, super::RowError>>, StorageError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at, rowid"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(run_from_row(row).map_err(|e| super::RowError {
                        run_id: text_lossy(row, 0),
                        task: None,
                        problem: e.to_string(),
                    }))
                })?
                .collect()
            })
            .map_err(self.err("read the runs"))
    }

    fn tasks_each(
        &self,
        run_id: &str,
    ) -> Result<Vec<Result<TaskRecord, super::RowError>>, StorageError> {
        let mut tasks: Vec<Result<TaskRecord, super::RowError>> = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {} FROM task_outputs WHERE run_id = ?1",
                self.task_columns
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![run_id], |row| {
                    Ok(task_from_row(row, run_id).map_err(|e| super::RowError {
                        run_id: run_id.to_owned(),
                        task: Some(text_lossy(row, 1)),
                        problem: e.to_string(),
                    }))
                })?
                .collect()
            })
            .map_err(self.err("read the task records"))?;
        tasks.sort_by_key(|t| t.as_ref().map_or(usize::MAX, |t| t.task_index));
        Ok(tasks)
    }

    fn runs(&self) -> Result<Vec<RunRecord>, StorageError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at, rowid"
            ))
            .and_then(|mut stmt| stmt.query_map([], run_from_row)?.collect())
            .map_err(self.err("read the runs"))
    }

    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRecord>, StorageError> {
        // Rows come clustered by (run_id, task_name); sorting by index here is cheaper than
        // letting SQLite build a temporary b-tree for ORDER BY.
        let mut tasks: Vec<TaskRecord> = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {} FROM task_outputs WHERE run_id = ?1",
                self.task_columns
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![run_id], |row| task_from_row(row, run_id))?
                    .collect()
            })
            .map_err(self.err("read the task records"))?;
        tasks.sort_unstable_by_key(|t| t.task_index);
        Ok(tasks)
    }

    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        let mut deleted = 0;
        for id in run_ids {
            deleted += tx
                .execute("DELETE FROM runs WHERE id = ?1", params![id])
                .map_err(self.err("delete the run"))?;
        }
        tx.commit().map_err(self.err("commit the deletion"))?;
        Ok(deleted)
    }
}
