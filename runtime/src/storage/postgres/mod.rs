//! The execution log in PostgreSQL (feature `postgres`): what several processes, on several
//! machines, share; and the work queue that workers take tasks from (`queue.rs`).
//!
//! tokio-postgres with a deadpool pool, driven by a runtime of the store's own (one thread):
//! the `Storage` trait is synchronous (see its docs), so a call hands its future to that
//! runtime and waits; async callers (the workers) await the same futures. A call that fails
//! because the server cannot be reached (a restart, a cut link) is tried again with backoff
//! for `reconnect_for`, and says so; every write is one statement or one transaction that can
//! be repeated without storing a record twice. See docs/postgres.md.

mod connect;
mod queue;
mod rows;
mod schema;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};

use super::{RowError, RunCursor, Storage, StorageError};
use crate::log::{RunRecord, RunStatus, TaskRecord};
use rows::{RunRow, TaskRow};

pub use queue::{Claim, Completed, QueuedTask};

/// How a [`PostgresStorage`] connects and waits.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections at most (default 8).
    pub pool_size: usize,
    /// How long a call keeps trying while the server cannot be reached (default 30 s); then
    /// it fails.
    pub reconnect_for: Duration,
    /// Read only: every transaction is read-only, and the schema is never created or
    /// migrated (what `log` and `export` open).
    pub read_only: bool,
    /// The certificate authority (a PEM file) a TLS server's certificate is checked against,
    /// besides the webpki roots (default: `PGSSLROOTCERT`, when set).
    pub root_cert: Option<std::path::PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 8,
            reconnect_for: Duration::from_secs(30),
            read_only: false,
            root_cert: None,
        }
    }
}

/// The execution log in a PostgreSQL database.
pub struct PostgresStorage {
    shared: Arc<Shared>,
    driver: Driver,
}

/// What a call's future needs, owned, so that it can run on the driver's thread.
pub(crate) struct Shared {
    pub(crate) pool: Pool,
    pub(crate) target: String,
    reconnect_for: Duration,
    /// For the listening connection, made outside the pool.
    config: tokio_postgres::Config,
    connector: connect::Connector,
    signals: std::sync::OnceLock<Arc<queue::Signals>>,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("target", &self.shared.target)
            .finish()
    }
}

/// The runtime the store's connections live on.
struct Driver(Option<tokio::runtime::Runtime>);

impl Driver {
    fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tasknet-postgres")
            .enable_io()
            .enable_time()
            .build()?;
        Ok(Driver(Some(runtime)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0
            .as_ref()
            .expect("the driver runs until dropped")
            .handle()
    }

    /// Runs `future` on the driver and waits for it on this thread.
    fn block<R: Send + 'static>(
        &self,
        target: &str,
        future: impl Future<Output = Result<R, StorageError>> + Send + 'static,
    ) -> Result<R, StorageError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(StorageError::new(
                "complete a call (it panicked)",
                target,
                "the PostgreSQL driver's task ended without an answer",
            ))
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which is refused on a tokio thread (the
        // last owner may be one): let them end in the background.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Why a try failed.
pub(crate) enum Failure {
    Postgres(tokio_postgres::Error),
    Pool(deadpool_postgres::PoolError),
    /// Not the database's doing: the answer is final.
    Refused(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Postgres(e)
    }
}

impl Failure {
    /// Whether trying again may succeed: the server could not be reached or went away
    /// (connection errors, a shutdown, a server starting up), or the transaction lost a
    /// serialization race. A constraint, a syntax error, a refused login are final.
    fn is_transient(&self) -> bool {
        use tokio_postgres::error::SqlState;
        let postgres = match self {
            Failure::Refused(_) => return false,
            Failure::Pool(deadpool_postgres::PoolError::Backend(e)) => e,
            Failure::Pool(deadpool_postgres::PoolError::Timeout(_)) => return true,
            Failure::Pool(_) => return false,
            Failure::Postgres(e) => e,
        };
        match postgres.code() {
            Some(code) => {
                code.code().starts_with("08")
                    || [
                        SqlState::ADMIN_SHUTDOWN,
                        SqlState::CRASH_SHUTDOWN,
                        SqlState::CANNOT_CONNECT_NOW,
                        SqlState::T_R_SERIALIZATION_FAILURE,
                        SqlState::T_R_DEADLOCK_DETECTED,
                    ]
                    .contains(code)
            }
            // No SQLSTATE: the connection itself (closed, an I/O error, a timeout).
            None => true,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Postgres(e) => match e.as_db_error() {
                Some(db) => db.to_string(),
                None => with_sources(e),
            },
            Failure::Pool(deadpool_postgres::PoolError::Backend(e)) => match e.as_db_error() {
                Some(db) => db.to_string(),
                None => with_sources(e),
            },
            Failure::Pool(e) => with_sources(e),
            Failure::Refused(why) => why.clone(),
        }
    }
}

/// An error and its causes, `: `-separated (tokio-postgres keeps the useful part, "Connection
/// refused", in a source).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

type Attempt<R> = Pin<Box<dyn Future<Output = Result<R, Failure>> + Send>>;

impl Shared {
    /// Runs `op` on a pooled connection, again with backoff while the failure is transient,
    /// for up to `reconnect_for`. `op` gets the try's number (1 first): a write whose first
    /// try may have committed unseen can tell.
    pub(crate) async fn call<R>(
        &self,
        what: &str,
        mut op: impl FnMut(Object, u32) -> Attempt<R>,
    ) -> Result<R, StorageError> {
        let deadline = tokio::time::Instant::now() + self.reconnect_for;
        let mut wait = Duration::from_millis(20);
        let mut attempt = 1;
        loop {
            let result = match self.pool.get().await {
                Ok(client) => op(client, attempt).await,
                Err(e) => Err(Failure::Pool(e)),
            };
            match result {
                Ok(value) => {
                    if attempt > 1 {
                        tracing::info!(target = %self.target, attempt, "PostgreSQL reached again");
                    }
                    return Ok(value);
                }
                Err(failure)
                    if failure.is_transient() && tokio::time::Instant::now() + wait < deadline =>
                {
                    tracing::warn!(
                        target = %self.target,
                        operation = what,
                        attempt,
                        error = %failure.message(),
                        retry_in = ?wait,
                        "PostgreSQL cannot be reached; trying again"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(1));
                    attempt += 1;
                }
                Err(failure) => {
                    return Err(StorageError::new(what, &self.target, failure.message()));
                }
            }
        }
    }
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`;
    /// `?sslmode=require` for TLS), creating the log's tables or migrating them.
    pub fn connect(url: &str) -> Result<Self, StorageError> {
        Self::connect_with(url, PostgresOptions::default())
    }

    /// Connects with `options`.
    pub fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StorageError> {
        let mut target = connect::Target::parse(url).map_err(|why| {
            StorageError::new(
                "open the log",
                super::DatabaseUrl(url.to_owned()).to_string(),
                why,
            )
        })?;
        if options.read_only {
            target.config.options("-c default_transaction_read_only=on");
        }
        let name = target.name.clone();
        let fail = |why: String| StorageError::new("open the log", &name, why);
        let connector =
            connect::Connector::for_target(&target, options.root_cert.as_deref()).map_err(fail)?;
        let pool = connect::pool(&target, &connector, options.pool_size.max(1)).map_err(fail)?;
        let driver = Driver::new().map_err(|e| fail(e.to_string()))?;
        let shared = Arc::new(Shared {
            pool,
            target: name.clone(),
            reconnect_for: options.reconnect_for,
            config: target.config,
            connector,
            signals: std::sync::OnceLock::new(),
        });
        let opening = shared.clone();
        let read_only = options.read_only;
        driver.block(&name, async move {
            opening
                .call("open the log", move |mut client, _| {
                    Box::pin(async move {
                        if read_only {
                            return match schema::found(&**client).await? {
                                schema::Found::Nothing => Err(Failure::Refused(
                                    "this database holds no tasknet log (nothing was created: reading never writes)".to_owned(),
                                )),
                                schema::Found::Version(v) if v > schema::SCHEMA_VERSION => {
                                    Err(Failure::Refused(schema::too_new(v)))
                                }
                                schema::Found::Version(_) => Ok(()),
                            };
                        }
                        schema::migrate(&mut client).await?.map_err(Failure::Refused)
                    })
                })
                .await
        })?;
        Ok(PostgresStorage { shared, driver })
    }

    /// Runs a call on the driver and waits for it.
    fn call<R: Send + 'static>(
        &self,
        what: &'static str,
        op: impl FnMut(Object, u32) -> Attempt<R> + Send + 'static,
    ) -> Result<R, StorageError> {
        let shared = self.shared.clone();
        self.driver.block(
            &self.shared.target,
            async move { shared.call(what, op).await },
        )
    }

    /// Runs `future` on the store's runtime (where its connections live) and awaits it from
    /// any other: what the workers' async calls go through.
    pub(crate) async fn on_driver<R: Send + 'static>(
        &self,
        future: impl Future<Output = Result<R, StorageError>> + Send + 'static,
    ) -> Result<R, StorageError> {
        match self.driver.handle().spawn(future).await {
            Ok(result) => result,
            Err(e) => Err(StorageError::new(
                "complete a call (it panicked)",
                &self.shared.target,
                e.to_string(),
            )),
        }
    }

    fn read<R: Send + 'static>(
        &self,
        what: &'static str,
        sql: String,
        params: Vec<Param>,
        decode: fn(Vec<tokio_postgres::Row>) -> R,
    ) -> Result<R, StorageError> {
        let sql: Arc<str> = sql.into();
        let params = Arc::new(params);
        self.call(what, move |client, _| {
            let (sql, params) = (sql.clone(), params.clone());
            Box::pin(async move {
                let statement = client.prepare_cached(&sql).await?;
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    params.iter().map(Param::as_sql).collect();
                Ok(decode(client.query(&statement, &refs).await?))
            })
        })
    }
}

/// A query parameter, owned.
enum Param {
    Text(String),
    Int(i64),
}

impl Param {
    fn as_sql(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            Param::Text(s) => s,
            Param::Int(n) => n,
        }
    }
}

fn runs_of(rows: Vec<tokio_postgres::Row>) -> Vec<Result<RunRecord, RowError>> {
    rows.iter()
        .map(|row| {
            rows::run_from_row(row).map_err(|problem| RowError {
                run_id: rows::run_id_lossy(row),
                task: None,
                problem,
            })
        })
        .collect()
}

fn all_or_first_error<T>(
    target: &str,
    what: &str,
    rows: Vec<Result<T, RowError>>,
) -> Result<Vec<T>, StorageError> {
    rows.into_iter()
        .collect::<Result<Vec<T>, RowError>>()
        .map_err(|e| StorageError::new(what, target, e.to_string()))
}

impl Storage for PostgresStorage {
    fn describe(&self) -> String {
        self.shared.target.clone()
    }

    fn create_run(&self, run: &RunRecord) -> Result<(), StorageError> {
        let run = Arc::new(run.clone());
        self.call("insert the run", move |client, attempt| {
            let run = run.clone();
            Box::pin(async move {
                let statement = client.prepare_cached(rows::INSERT_RUN).await?;
                let row = RunRow::new(&run);
                let inserted = client.execute(&statement, &row.params()).await?;
                // A later try that finds the run: the first try committed, unseen.
                if inserted == 0 && attempt == 1 {
                    return Err(Failure::Refused(format!(
                        "a run `{}` is already in the log",
                        run.id
                    )));
                }
                Ok(())
            })
        })
    }

    fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        finished_at: &str,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        let values = Arc::new((
            run_id.to_owned(),
            rows::enum_text(status),
            finished_at.to_owned(),
            error.map(str::to_owned),
        ));
        self.call("mark the run finished", move |client, _| {
            let values = values.clone();
            Box::pin(async move {
                let (id, status, finished_at, error) = &*values;
                let statement = client
                    .prepare_cached(
                        "UPDATE runs SET status = $2, finished_at = $3, error = $4 WHERE id = $1",
                    )
                    .await?;
                let changed = client
                    .execute(&statement, &[id, status, finished_at, error])
                    .await?;
                if changed == 0 {
                    return Err(Failure::Refused(format!("no run `{id}`")));
                }
                Ok(())
            })
        })
    }

    fn put_task(&self, task: TaskRecord) -> Result<(), StorageError> {
        let task = Arc::new(task);
        self.call("insert the task record", move |client, _| {
            let task = task.clone();
            Box::pin(async move {
                let statement = client.prepare_cached(rows::UPSERT_TASK).await?;
                client
                    .execute(&statement, &TaskRow::new(&task).params())
                    .await?;
                Ok(())
            })
        })
    }

    fn put_tasks(&self, tasks: Vec<TaskRecord>) -> Result<(), StorageError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let tasks = Arc::new(tasks);
        self.call("insert the task records", move |mut client, _| {
            let tasks = tasks.clone();
            Box::pin(async move {
                let tx = client.transaction().await?;
                let statement = tx.prepare_cached(rows::UPSERT_TASK).await?;
                // Pipelined: every statement is sent before the first answer is read, and
                // they run in the order sent, so a later record of the same task wins.
                let rows: Vec<TaskRow<'_>> = tasks.iter().map(TaskRow::new).collect();
                let params: Vec<_> = rows.iter().map(TaskRow::params).collect();
                futures_util::future::try_join_all(
                    params.iter().map(|p| tx.execute(&statement, p)),
                )
                .await?;
                tx.commit().await?;
                Ok(())
            })
        })
    }

    fn update_task_at(
        &self,
        run_id: &str,
        task_index: usize,
        task: TaskRecord,
    ) -> Result<bool, StorageError> {
        let values = Arc::new((run_id.to_owned(), task_index as i64, task));
        self.call("replace the task record", move |mut client, _| {
            let values = values.clone();
            Box::pin(async move {
                let (run_id, index, task) = &*values;
                let tx = client.transaction().await?;
                let deleted = tx
                    .execute(
                        "DELETE FROM task_outputs WHERE run_id = $1 AND task_index = $2",
                        &[run_id, index],
                    )
                    .await?;
                if deleted == 0 {
                    return Ok(false);
                }
                let statement = tx.prepare_cached(rows::UPSERT_TASK).await?;
                tx.execute(&statement, &TaskRow::new(task).params()).await?;
                tx.commit().await?;
                Ok(true)
            })
        })
    }

    fn delete_tasks(&self, run_id: &str) -> Result<usize, StorageError> {
        let run_id: Arc<str> = run_id.into();
        self.call("delete the task records", move |client, _| {
            let run_id = run_id.clone();
            Box::pin(async move {
                let n = client
                    .execute("DELETE FROM task_outputs WHERE run_id = $1", &[&&*run_id])
                    .await?;
                Ok(n as usize)
            })
        })
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StorageError> {
        let rows = self.read(
            "read the run",
            format!("SELECT {} FROM runs WHERE id = $1", rows::RUN_COLUMNS),
            vec![Param::Text(run_id.to_owned())],
            runs_of,
        )?;
        Ok(
            all_or_first_error(&self.shared.target, "read the run", rows)?
                .into_iter()
                .next(),
        )
    }

    fn runs(&self) -> Result<Vec<RunRecord>, StorageError> {
        let rows = self.runs_each()?;
        all_or_first_error(&self.shared.target, "read the runs", rows)
    }

    fn runs_each(&self) -> Result<Vec<Result<RunRecord, RowError>>, StorageError> {
        self.read(
            "read the runs",
            format!(
                "SELECT {} FROM runs ORDER BY started_at, seq",
                rows::RUN_COLUMNS
            ),
            Vec::new(),
            runs_of,
        )
    }

    fn runs_page(
        &self,
        before: Option<&RunCursor>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StorageError> {
        let limit = Param::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        let (sql, params) = match before {
            None => (
                format!(
                    "SELECT {} FROM runs ORDER BY started_at DESC, id DESC LIMIT $1",
                    rows::RUN_COLUMNS
                ),
                vec![limit],
            ),
            Some(cursor) => (
                format!(
                    "SELECT {} FROM runs WHERE (started_at, id) < ($1, $2) ORDER BY started_at DESC, id DESC LIMIT $3",
                    rows::RUN_COLUMNS
                ),
                vec![
                    Param::Text(cursor.started_at.clone()),
                    Param::Text(cursor.id.clone()),
                    limit,
                ],
            ),
        };
        let rows = self.read("read a page of runs", sql, params, runs_of)?;
        all_or_first_error(&self.shared.target, "read a page of runs", rows)
    }

    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRecord>, StorageError> {
        let rows = self.tasks_each(run_id)?;
        all_or_first_error(&self.shared.target, "read the task records", rows)
    }

    fn tasks_each(&self, run_id: &str) -> Result<Vec<Result<TaskRecord, RowError>>, StorageError> {
        let rows = self.read(
            "read the task records",
            format!(
                "SELECT {}, run_id FROM task_outputs WHERE run_id = $1 ORDER BY task_index",
                rows::TASK_COLUMNS
            ),
            vec![Param::Text(run_id.to_owned())],
            |rows| rows,
        )?;
        Ok(rows
            .iter()
            .map(|row| {
                rows::task_from_row(row, run_id).map_err(|problem| RowError {
                    run_id: run_id.to_owned(),
                    task: Some(rows::task_name_lossy(row)),
                    problem,
                })
            })
            .collect())
    }

    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StorageError> {
        let ids = Arc::new(run_ids.to_vec());
        self.call("delete the runs", move |client, _| {
            let ids = ids.clone();
            Box::pin(async move {
                let n = client
                    .execute("DELETE FROM runs WHERE id = ANY($1)", &[&*ids])
                    .await?;
                Ok(n as usize)
            })
        })
    }

    fn keep_last_runs(&self, n: usize) -> Result<usize, StorageError> {
        let keep = i64::try_from(n).unwrap_or(i64::MAX);
        self.call("delete the oldest runs", move |client, _| {
            Box::pin(async move {
                let n = client
                    .execute(
                        "DELETE FROM runs WHERE id IN (SELECT id FROM runs ORDER BY started_at DESC, seq DESC OFFSET $1)",
                        &[&keep],
                    )
                    .await?;
                Ok(n as usize)
            })
        })
    }

    fn delete_runs_before(&self, timestamp: &str) -> Result<usize, StorageError> {
        let timestamp: Arc<str> = timestamp.into();
        self.call("delete the runs before a time", move |client, _| {
            let timestamp = timestamp.clone();
            Box::pin(async move {
                let n = client
                    .execute("DELETE FROM runs WHERE started_at < $1", &[&&*timestamp])
                    .await?;
                Ok(n as usize)
            })
        })
    }
}
