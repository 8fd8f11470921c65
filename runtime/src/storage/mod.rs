//! Where the execution log goes: the [`Storage`] trait, an in-memory store, SQLite (feature
//! `sqlite`, the default), the seed's `TaskOutputStorageHandler`, and exports.

mod export;
mod handler;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use export::{csv_cell, export_csv, export_jsonl};
pub use handler::TaskOutputStorageHandler;
pub use memory::MemoryStorage;
#[cfg(feature = "postgres")]
pub use postgres::{Claim, Completed, PostgresOptions, PostgresStorage, QueuedTask};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStorage, Synchronous};

use crate::log::{RunRecord, RunStatus, TaskRecord};

/// Where a log is, as [`open`] reads it: `memory:`, `sqlite:PATH` (or `sqlite://PATH`), a
/// plain path, which is an SQLite file, or `postgres://...` (`postgresql://`), a PostgreSQL
/// database (feature `postgres`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLocation {
    /// A log in this process's memory, gone when it exits.
    Memory,
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(DatabaseUrl),
}

/// A database's URL, which may hold a password: shown and debug-printed without it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL as given, password included: for connecting, never for messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        let Some((scheme, rest)) = url.split_once("://") else {
            return f.write_str(url);
        };
        // user:password@host/db?query: the query may hold a password too.
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        match rest.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split_once(':').map_or(user, |(user, _)| user);
                write!(f, "{scheme}://{user}@{host}")
            }
            None => write!(f, "{scheme}://{rest}"),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl LogLocation {
    /// Reads a log's URL or path.
    pub fn parse(url: &str) -> Result<Self, StorageError> {
        let refuse = |why: String| StorageError::new("open the log", url, why);
        if url.is_empty() {
            return Err(refuse("the log's URL is empty".to_owned()));
        }
        if matches!(url, "memory:" | ":memory:") {
            return Ok(LogLocation::Memory);
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            return Ok(LogLocation::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(LogLocation::Postgres(DatabaseUrl(url.to_owned())));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(StorageError::new(
                "open the log",
                DatabaseUrl(url.to_owned()).to_string(),
                format!(
                    "`{scheme}://` logs are not supported; give a path (an SQLite file), `sqlite:PATH`, `postgres://...` or `memory:`"
                ),
            ));
        }
        Ok(LogLocation::Sqlite(PathBuf::from(url)))
    }

    /// Opens an existing log to read it: never creates, initialises or writes anything (see
    /// [`SqliteStorage::open_read_only`]); `memory:` is an empty log.
    pub fn open_read_only(&self) -> Result<Arc<dyn Storage>, StorageError> {
        match self {
            LogLocation::Memory => Ok(Arc::new(MemoryStorage::new())),
            #[cfg(feature = "sqlite")]
            LogLocation::Sqlite(path) => Ok(Arc::new(SqliteStorage::open_read_only(path)?)),
            #[cfg(not(feature = "sqlite"))]
            LogLocation::Sqlite(path) => Err(StorageError::new(
                "open the log",
                path.display().to_string(),
                "this build has no SQLite (tasknet's `sqlite` feature)",
            )),
            LogLocation::Postgres(url) => open_postgres(url, true),
        }
    }

    /// Opens the log (an SQLite file is created with its schema if it does not exist).
    pub fn open(&self) -> Result<Arc<dyn Storage>, StorageError> {
        match self {
            LogLocation::Memory => Ok(Arc::new(MemoryStorage::new())),
            #[cfg(feature = "sqlite")]
            LogLocation::Sqlite(path) => Ok(Arc::new(SqliteStorage::open(path)?)),
            #[cfg(not(feature = "sqlite"))]
            LogLocation::Sqlite(path) => Err(StorageError::new(
                "open the log",
                path.display().to_string(),
                "this build has no SQLite (tasknet's `sqlite` feature)",
            )),
            LogLocation::Postgres(url) => open_postgres(url, false),
        }
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &DatabaseUrl, read_only: bool) -> Result<Arc<dyn Storage>, StorageError> {
    // Reading (`log`, `export`) is someone at a terminal: a few seconds, not a worker's 30.
    let options = PostgresOptions {
        read_only,
        reconnect_for: if read_only {
            std::time::Duration::from_secs(3)
        } else {
            PostgresOptions::default().reconnect_for
        },
        ..PostgresOptions::default()
    };
    Ok(Arc::new(PostgresStorage::connect_with(
        url.expose(),
        options,
    )?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &DatabaseUrl, _read_only: bool) -> Result<Arc<dyn Storage>, StorageError> {
    Err(StorageError::new(
        "open the log",
        url.to_string(),
        "this build has no PostgreSQL (tasknet's `postgres` feature)",
    ))
}

impl fmt::Display for LogLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogLocation::Memory => f.write_str("memory:"),
            LogLocation::Sqlite(path) => write!(f, "{}", path.display()),
            LogLocation::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// Opens the log at `url` (see [`LogLocation`]): what `App`'s `--db` and the CLI's `log` and
/// `export` take.
pub fn open(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    LogLocation::parse(url)?.open()
}

/// Opens the existing log at `url` to read it (see [`LogLocation::open_read_only`]): what
/// `log` and `export` take.
pub fn open_read_only(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    LogLocation::parse(url)?.open_read_only()
}

/// A store for runs and their task records.
///
/// Calls are synchronous, so that code outside an async runtime (the CLI, exports, the seed's
/// handler) calls them directly; the runner and the server make theirs through [`off_worker`],
/// which runs a store that [`Storage::blocks`] on tokio's blocking pool. A server database
/// (PostgreSQL, when several processes share one log) implements the same trait.
pub trait Storage: Send + Sync {
    /// A short description for messages (the database file, `memory`, ...).
    fn describe(&self) -> String;

    /// Whether a call may wait on a disk or a network (true unless a store says otherwise).
    /// The runner and the server then make their calls on tokio's blocking pool, so that no
    /// storage call blocks a worker thread (an fsync, a lock held by another process); a store
    /// that answers from memory says false and is called in place, for nothing.
    fn blocks(&self) -> bool {
        true
    }

    /// Records a new run.
    fn create_run(&self, run: &RunRecord) -> Result<(), StorageError>;

    /// Marks a run finished.
    fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        finished_at: &str,
        error: Option<&str>,
    ) -> Result<(), StorageError>;

    /// Stores a task record, replacing the run's record of the same task if there is one.
    fn put_task(&self, task: TaskRecord) -> Result<(), StorageError>;

    /// A hint that the run is about to store `tasks` records, so that a store in memory can
    /// make room once instead of growing as they arrive. Does nothing unless a store needs it.
    fn expect_tasks(&self, _run_id: &str, _tasks: usize) {}

    /// Stores many records at once (one transaction where the store has them).
    fn put_tasks(&self, tasks: Vec<TaskRecord>) -> Result<(), StorageError> {
        tasks.into_iter().try_for_each(|t| self.put_task(t))
    }

    /// Replaces the run's record at `task_index`; false when there is none.
    fn update_task_at(
        &self,
        run_id: &str,
        task_index: usize,
        task: TaskRecord,
    ) -> Result<bool, StorageError>;

    /// Deletes a run's task records (not the run); returns how many.
    fn delete_tasks(&self, run_id: &str) -> Result<usize, StorageError>;

    /// The run with this id.
    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StorageError>;

    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<RunRecord>, StorageError>;

    /// A run's task records, by task index.
    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRecord>, StorageError>;

    /// A page of runs, newest first: at most `limit` runs started before `before` (the last
    /// run of the previous page; from the newest when `None`). What `GET /runs` serves, so
    /// that no request reads the whole log.
    fn runs_page(
        &self,
        before: Option<&RunCursor>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StorageError> {
        let mut runs = self.runs()?;
        runs.sort_unstable_by(|a, b| (&b.started_at, &b.id).cmp(&(&a.started_at, &a.id)));
        Ok(runs
            .into_iter()
            .filter(|r| before.is_none_or(|b| b.is_after(r)))
            .take(limit)
            .collect())
    }

    /// Every run, oldest first, each row read on its own: a row that cannot be decoded is a
    /// [`RowError`] in its place, and the others are still read.
    fn runs_each(&self) -> Result<Vec<Result<RunRecord, RowError>>, StorageError> {
        Ok(self.runs()?.into_iter().map(Ok).collect())
    }

    /// A run's task records, by task index, each read on its own (see [`Storage::runs_each`]).
    fn tasks_each(&self, run_id: &str) -> Result<Vec<Result<TaskRecord, RowError>>, StorageError> {
        Ok(self.tasks(run_id)?.into_iter().map(Ok).collect())
    }

    /// Deletes runs and their task records; returns how many runs.
    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StorageError>;

    /// Retention: keeps the newest `n` runs, deletes the others; returns how many went.
    fn keep_last_runs(&self, n: usize) -> Result<usize, StorageError> {
        let runs = self.runs()?;
        let old: Vec<String> = runs
            .iter()
            .take(runs.len().saturating_sub(n))
            .map(|r| r.id.clone())
            .collect();
        self.delete_runs(&old)
    }

    /// Retention: deletes the runs started before `timestamp` (RFC 3339, compared as text,
    /// which orders UTC timestamps correctly); returns how many went.
    fn delete_runs_before(&self, timestamp: &str) -> Result<usize, StorageError> {
        let old: Vec<String> = self
            .runs()?
            .into_iter()
            .filter(|r| r.started_at.as_str() < timestamp)
            .map(|r| r.id)
            .collect();
        self.delete_runs(&old)
    }
}

/// Makes a storage call where it cannot block a tokio worker thread: on the blocking pool
/// when the store [`Storage::blocks`] and a tokio runtime is running, in place otherwise (a
/// store in memory, or a caller outside tokio). The call runs to its end even if the caller
/// stops waiting: a record being written is not cut off.
///
/// An in-place call is made now, and its future is only its result: a task's future (which
/// the server boxes per request) does not grow by the call's captures. The blocking-pool call
/// is boxed, a cost that the hand-over to another thread dwarfs.
pub fn off_worker<'a, R, F>(storage: &'a Arc<dyn Storage>, call: F) -> OffWorker<'a, R>
where
    F: FnOnce(&dyn Storage) -> Result<R, StorageError> + Send + 'static,
    R: Send + 'static,
{
    if storage.blocks()
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        let store = storage.clone();
        let handle = runtime.spawn_blocking(move || call(store.as_ref()));
        return futures_util::future::Either::Right(Box::pin(async move {
            match handle.await {
                Ok(result) => result,
                Err(e) => Err(StorageError::new(
                    "complete a call (it panicked or was cancelled)",
                    storage.describe(),
                    e.to_string(),
                )),
            }
        }));
    }
    futures_util::future::Either::Left(std::future::ready(call(storage.as_ref())))
}

/// The future [`off_worker`] returns.
pub type OffWorker<'a, R> = futures_util::future::Either<
    std::future::Ready<Result<R, StorageError>>,
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<R, StorageError>> + Send + 'a>>,
>;

/// A stored row that cannot be read back: which run (and task), and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub run_id: String,
    /// The task's name, for a task record.
    pub task: Option<String>,
    pub problem: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run `{}`", crate::report::printable(&self.run_id))?;
        if let Some(task) = &self.task {
            write!(f, ", task `{}`", crate::report::printable(task))?;
        }
        write!(f, ": cannot read the stored row: {}", self.problem)
    }
}

/// Where a page of runs ends: the last run's start and id (runs that started at the same
/// instant are told apart by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCursor {
    pub started_at: String,
    pub id: String,
}

impl RunCursor {
    /// The cursor after `run`.
    pub fn after(run: &RunRecord) -> Self {
        RunCursor {
            started_at: run.started_at.clone(),
            id: run.id.clone(),
        }
    }

    /// Whether `run` comes after this cursor, newest first (it started earlier).
    pub fn is_after(&self, run: &RunRecord) -> bool {
        (run.started_at.as_str(), run.id.as_str()) < (self.started_at.as_str(), self.id.as_str())
    }
}

/// What a listing or an export got through: how many records it wrote, and the rows it could
/// not read (each named; everything else was still written).
#[derive(Debug, Default)]
pub struct ReadSummary {
    pub records: usize,
    pub unreadable: Vec<RowError>,
}

/// A storage operation failed: which one, on what, and why. Nothing is swallowed.
#[derive(Debug)]
pub struct StorageError {
    /// What was being done, e.g. "insert the task record".
    pub operation: String,
    /// The store, e.g. the database file.
    pub target: String,
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl StorageError {
    pub fn new(
        operation: impl Into<String>,
        target: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        StorageError {
            operation: operation.into(),
            target: target.into(),
            source: source.into(),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} in {}: {}",
            self.operation, self.target, self.source
        )
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}
