//! The work queue: a run's tasks as rows of `task_queue`, claimed by workers with
//! `FOR UPDATE SKIP LOCKED` under a lease they renew, completed in one transaction that stores
//! the record only while the claim is still the worker's, readies the tasks whose inputs are
//! now all present, and finishes the run with its last task. Idle workers wait on
//! `LISTEN tasknet_ready`. See docs/postgres.md.

use std::sync::Arc;
use std::time::Duration;

use super::{Failure, PostgresStorage, Shared, rows};
use crate::log::{RunRecord, TaskRecord};
use crate::storage::StorageError;

/// The channel a commit that readies tasks notifies (payload: the registry's name).
const READY: &str = "tasknet_ready";
/// The channel a commit that finishes a run notifies (payload: the run's id).
const FINISHED: &str = "tasknet_finished";
/// The channel a commit that ends a task a server waits for notifies (payload: the run's id).
const TASK_DONE: &str = "tasknet_task_done";

/// A task of a submitted run, as the queue holds it.
#[derive(Debug, Clone)]
pub struct QueuedTask {
    /// Its index in the registry.
    pub index: usize,
    pub name: String,
    /// How many tasks it waits for.
    pub waiting_for: usize,
    /// The indices of the tasks that wait for it.
    pub dependents: Vec<usize>,
}

/// A task a worker has claimed: run it, then [`PostgresStorage::complete`] it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub run_id: String,
    pub task_index: usize,
    pub task_name: String,
    /// This claim's number for the task: 1 the first time, more after leases ran out.
    pub attempt: u32,
}

/// What completing a claim did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// The record is stored; the run finished with it when `run_finished`.
    Stored { run_finished: bool },
    /// The lease had run out and another worker has the task (or has completed it): this
    /// record was not stored.
    LeaseLost,
}

/// Wakes the idle workers of this process when the database says work is ready, and the
/// waiters for runs when one finishes. Fed by one listening connection per store.
#[derive(Default)]
pub(crate) struct Signals {
    pub(crate) ready: tokio::sync::Notify,
    pub(crate) finished: tokio::sync::Notify,
    pub(crate) task_done: tokio::sync::Notify,
}

/// Claims ready tasks, oldest first (the partial index `task_queue_ready`).
///
/// A claim commits without waiting for the disk (`synchronous_commit` off for its own
/// transaction): one WAL flush a task instead of two. A claim lost in a crash is safe: the task
/// is ready again, and the worker that thought it had it finds, on completing, that the claim
/// is not its own and stores nothing. A completion waits for the disk, and with it for every
/// earlier claim in the WAL.
const CLAIM_READY: &str = "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),
    picked AS (
        SELECT run_id, task_index FROM task_queue, async
        WHERE registry = $1 AND state = 'ready'
        ORDER BY ready_at LIMIT $2
        FOR UPDATE OF task_queue SKIP LOCKED)
    UPDATE task_queue q SET state = 'claimed', worker = $3, attempts = q.attempts + 1,
        lease_until = clock_timestamp() + $4 * interval '1 millisecond'
    FROM picked WHERE q.run_id = picked.run_id AND q.task_index = picked.task_index
    RETURNING q.run_id, q.task_index, q.task_name, q.attempts";

/// Claims tasks whose lease has run out (the partial index `task_queue_leases`); commits
/// as [`CLAIM_READY`] does.
const CLAIM_EXPIRED: &str = "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),
    picked AS (
        SELECT run_id, task_index FROM task_queue, async
        WHERE registry = $1 AND state = 'claimed' AND lease_until < clock_timestamp()
        ORDER BY lease_until LIMIT $2
        FOR UPDATE OF task_queue SKIP LOCKED)
    UPDATE task_queue q SET state = 'claimed', worker = $3, attempts = q.attempts + 1,
        lease_until = clock_timestamp() + $4 * interval '1 millisecond'
    FROM picked WHERE q.run_id = picked.run_id AND q.task_index = picked.task_index
    RETURNING q.run_id, q.task_index, q.task_name, q.attempts";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl PostgresStorage {
    /// Creates `run` and queues its tasks, in one transaction: the tasks that wait for none are
    /// ready at once, and idle workers are woken.
    pub async fn submit(&self, run: RunRecord, tasks: Vec<QueuedTask>) -> Result<(), StorageError> {
        let shared = self.shared.clone();
        let values = Arc::new((run, tasks));
        self.on_driver(async move {
            shared
                .call("submit the run", move |mut client, attempt| {
                    let values = values.clone();
                    Box::pin(async move {
                        let (run, tasks) = &*values;
                        let tx = client.transaction().await?;
                        let insert = tx.prepare_cached(rows::INSERT_RUN).await?;
                        let row = rows::RunRow::new(run);
                        if tx.execute(&insert, &row.params()).await? == 0 {
                            if attempt > 1 {
                                return Ok(()); // the first try committed, unseen
                            }
                            return Err(Failure::Refused(format!(
                                "a run `{}` is already in the log",
                                run.id
                            )));
                        }
                        tx.execute(
                            "INSERT INTO queued_runs (run_id, registry, remaining) VALUES ($1, $2, $3)",
                            &[&run.id, &run.registry, &(tasks.len() as i32)],
                        )
                        .await?;
                        let indices: Vec<i32> = tasks.iter().map(|t| t.index as i32).collect();
                        let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
                        let waiting: Vec<i32> =
                            tasks.iter().map(|t| t.waiting_for as i32).collect();
                        // Arrays of arrays must be rectangular: the dependents go as text.
                        let dependents: Vec<String> = tasks
                            .iter()
                            .map(|t| {
                                let list: Vec<String> =
                                    t.dependents.iter().map(usize::to_string).collect();
                                format!("{{{}}}", list.join(","))
                            })
                            .collect();
                        tx.execute(
                            "INSERT INTO task_queue (run_id, task_index, task_name, registry, state, waiting_for, dependents, ready_at)
                             SELECT $1, i, n, $2, CASE WHEN w = 0 THEN 'ready' ELSE 'waiting' END, w, d::integer[], CASE WHEN w = 0 THEN clock_timestamp() END
                             FROM unnest($3::integer[], $4::text[], $5::integer[], $6::text[]) AS t(i, n, w, d)",
                            &[&run.id, &run.registry, &indices, &names, &waiting, &dependents],
                        )
                        .await?;
                        tx.execute("SELECT pg_notify($1, $2)", &[&READY, &run.registry])
                            .await?;
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
        })
        .await
    }

    /// Claims up to `limit` tasks of `registry` for `worker`, each leased for `lease`: ready
    /// ones, oldest first, and, with `expired`, first the claimed ones whose lease has run out
    /// (their worker died, or lost the database). Apart, because each has an index of its
    /// own (a condition joining the two scanned the whole queue: 0.95 ms a claim at 4,000 rows).
    pub async fn claim(
        &self,
        registry: &str,
        worker: &str,
        limit: usize,
        lease: Duration,
        expired: bool,
    ) -> Result<Vec<Claim>, StorageError> {
        let shared = self.shared.clone();
        let values = Arc::new((
            registry.to_owned(),
            worker.to_owned(),
            limit as i64,
            ms(lease),
        ));
        self.on_driver(async move {
            shared
                .call("claim tasks", move |client, _| {
                    let values = values.clone();
                    Box::pin(async move {
                        let (registry, worker, limit, lease_ms) = &*values;
                        let mut claims = Vec::new();
                        let kinds: &[&str] = if expired {
                            &[CLAIM_EXPIRED, CLAIM_READY]
                        } else {
                            &[CLAIM_READY]
                        };
                        for sql in kinds {
                            let room = limit - claims.len() as i64;
                            if room == 0 {
                                break;
                            }
                            let statement = client.prepare_cached(sql).await?;
                            let claimed = client
                                .query(&statement, &[registry, &room, worker, lease_ms])
                                .await?;
                            claims.extend(claimed.iter().map(|row| Claim {
                                run_id: row.get(0),
                                task_index: row.get::<_, i32>(1) as usize,
                                task_name: row.get(2),
                                attempt: row.get::<_, i32>(3) as u32,
                            }));
                        }
                        Ok(claims)
                    })
                })
                .await
        })
        .await
    }

    /// Extends the leases of the tasks `worker` still holds; returns how many. A task whose
    /// lease ran out and that another worker took is not among them.
    pub async fn renew(&self, worker: &str, lease: Duration) -> Result<u64, StorageError> {
        let shared = self.shared.clone();
        let values = Arc::new((worker.to_owned(), ms(lease)));
        self.on_driver(async move {
            shared
                .call("renew the leases", move |client, _| {
                    let values = values.clone();
                    Box::pin(async move {
                        let (worker, lease_ms) = &*values;
                        let statement = client
                            .prepare_cached(
                                // Without waiting for the disk, as a claim (CLAIM_READY).
                                "WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
                                 UPDATE task_queue SET lease_until = clock_timestamp() + $2 * interval '1 millisecond'
                                 FROM async WHERE worker = $1 AND state = 'claimed'",
                            )
                            .await?;
                        Ok(client.execute(&statement, &[worker, lease_ms]).await?)
                    })
                })
                .await
        })
        .await
    }

    /// Stores the record of a claimed task, if the claim is still `worker`'s, in one
    /// transaction with what follows from it: a success readies the tasks whose inputs are now
    /// all present and finishes the run (succeeded) when it was the last; a failure cancels
    /// the run's tasks not yet started and finishes it (failed). A record is stored once: a
    /// second completion of the same claim, or a completion after the lease was lost, stores
    /// nothing.
    pub async fn complete(
        &self,
        claim: &Claim,
        worker: &str,
        record: TaskRecord,
        finished_at: String,
    ) -> Result<Completed, StorageError> {
        let shared = self.shared.clone();
        let values = Arc::new((claim.clone(), worker.to_owned(), record, finished_at));
        self.on_driver(async move {
            shared
                .call("complete the task", move |client, _| {
                    let values = values.clone();
                    Box::pin(async move {
                        let (claim, worker, record, finished_at) = &*values;
                        let run_error = record.error.as_ref().map(|error| {
                            format!("task `{}` failed: {error}", claim.task_name)
                        });
                        let statement = client
                            .prepare_cached(
                                "SELECT tasknet_complete($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                            )
                            .await?;
                        let row = rows::TaskRow::new(record);
                        let record_params = row.params();
                        let index = claim.task_index as i32;
                        let attempt = claim.attempt as i32;
                        // The record's own run id and index are the claim's.
                        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                            vec![&claim.run_id, &index, worker, &attempt];
                        params.extend_from_slice(&record_params[2..]);
                        params.push(finished_at);
                        params.push(&run_error);
                        let outcome: String = client.query_one(&statement, &params).await?.get(0);
                        Ok(match outcome.as_str() {
                            "lease_lost" => Completed::LeaseLost,
                            finished => Completed::Stored {
                                run_finished: finished == "stored_finished",
                            },
                        })
                    })
                })
                .await
        })
        .await
    }

    /// Hands claimed tasks back (a worker stopping before they ended): ready again at once, for
    /// another worker. Only claims still `worker`'s.
    pub async fn release(&self, claims: &[Claim], worker: &str) -> Result<u64, StorageError> {
        let shared = self.shared.clone();
        let runs: Vec<String> = claims.iter().map(|c| c.run_id.clone()).collect();
        let tasks: Vec<i32> = claims.iter().map(|c| c.task_index as i32).collect();
        let values = Arc::new((runs, tasks, worker.to_owned()));
        self.on_driver(async move {
            shared
                .call("hand the tasks back", move |client, _| {
                    let values = values.clone();
                    Box::pin(async move {
                        let (runs, tasks, worker) = &*values;
                        let n = client
                            .execute(
                                "UPDATE task_queue q SET state = 'ready', worker = NULL, lease_until = NULL, ready_at = clock_timestamp()
                                 FROM unnest($1::text[], $2::integer[]) AS c(run_id, task_index)
                                 WHERE q.run_id = c.run_id AND q.task_index = c.task_index AND q.worker = $3 AND q.state = 'claimed'",
                                &[runs, tasks, worker],
                            )
                            .await?;
                        if n > 0 {
                            client
                                .execute("SELECT pg_notify($1, registry) FROM queued_runs WHERE run_id = $2", &[&READY, &runs[0]])
                                .await?;
                        }
                        Ok(n)
                    })
                })
                .await
        })
        .await
    }

    /// A run and its task records, read in one transaction: what a worker rebuilds a task's
    /// state from.
    pub async fn load_run(
        &self,
        run_id: &str,
    ) -> Result<Option<(RunRecord, Vec<TaskRecord>)>, StorageError> {
        let shared = self.shared.clone();
        let id: Arc<str> = run_id.into();
        self.on_driver(async move {
            shared
                .call("read the run", move |client, _| {
                    let id = id.clone();
                    Box::pin(async move {
                        // Both queries sent at once, outside a transaction: a run's inputs never
                        // change, and the records a task reads were committed before the
                        // task became ready.
                        let run = client
                            .prepare_cached(&format!(
                                "SELECT {} FROM runs WHERE id = $1",
                                rows::RUN_COLUMNS
                            ))
                            .await?;
                        let tasks = client
                            .prepare_cached(&format!(
                                "SELECT {} FROM task_outputs WHERE run_id = $1 ORDER BY task_index",
                                rows::TASK_COLUMNS
                            ))
                            .await?;
                        let (run, tasks) = futures_util::future::try_join(
                            client.query_opt(&run, &[&&*id]),
                            client.query(&tasks, &[&&*id]),
                        )
                        .await?;
                        let Some(run) = run else {
                            return Ok(None);
                        };
                        let run = rows::run_from_row(&run).map_err(Failure::Refused)?;
                        let tasks = tasks
                            .iter()
                            .map(|row| rows::task_from_row(row, &id))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(Failure::Refused)?;
                        Ok(Some((run, tasks)))
                    })
                })
                .await
        })
        .await
    }

    /// Queues one task of a run that a server drives (a browser run): ready at once, and the
    /// server told when it ends. The run must be in the log; its queue entry is made with the
    /// first task (`tasks` in all: the run finishes with the last).
    pub async fn enqueue_task(
        &self,
        run_id: &str,
        registry: &str,
        tasks: usize,
        index: usize,
        name: &str,
    ) -> Result<(), StorageError> {
        let shared = self.shared.clone();
        let values = Arc::new((
            run_id.to_owned(),
            registry.to_owned(),
            tasks as i32,
            index as i32,
            name.to_owned(),
        ));
        self.on_driver(async move {
            shared
                .call("queue the task", move |mut client, _| {
                    let values = values.clone();
                    Box::pin(async move {
                        let (run_id, registry, tasks, index, name) = &*values;
                        let tx = client.transaction().await?;
                        tx.execute(
                            "INSERT INTO queued_runs (run_id, registry, remaining) VALUES ($1, $2, $3) ON CONFLICT (run_id) DO NOTHING",
                            &[run_id, registry, tasks],
                        )
                        .await?;
                        tx.execute(
                            "INSERT INTO task_queue (run_id, task_index, task_name, registry, state, waiting_for, dependents, ready_at, notify_done)
                             VALUES ($1, $2, $3, $4, 'ready', 0, '{}', clock_timestamp(), true)
                             ON CONFLICT (run_id, task_index) DO NOTHING",
                            &[run_id, index, name, registry],
                        )
                        .await?;
                        tx.execute("SELECT pg_notify($1, $2)", &[&READY, registry])
                            .await?;
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
        })
        .await
    }

    /// Waits until a task queued with [`PostgresStorage::enqueue_task`] has ended, or
    /// `timeout` passes; whether it ended. A task still waiting then is cancelled (a worker
    /// that has it finds its claim gone, and stores nothing).
    pub async fn wait_for_task(
        &self,
        run_id: &str,
        index: usize,
        timeout: Duration,
    ) -> Result<bool, StorageError> {
        let signals = self.signals();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = signals.task_done.notified();
            let shared = self.shared.clone();
            let values = Arc::new((
                run_id.to_owned(),
                index as i32,
                tokio::time::Instant::now() >= deadline,
            ));
            let ended = self
                .on_driver(async move {
                    shared
                        .call("read the task's state", move |client, _| {
                            let values = values.clone();
                            Box::pin(async move {
                                let (run_id, index, give_up) = &*values;
                                if *give_up {
                                    let cancelled = client
                                        .execute(
                                            "UPDATE task_queue SET state = 'cancelled' WHERE run_id = $1 AND task_index = $2 AND state IN ('ready', 'claimed')",
                                            &[run_id, index],
                                        )
                                        .await?;
                                    if cancelled > 0 {
                                        return Ok(None);
                                    }
                                }
                                let row = client
                                    .query_opt(
                                        "SELECT state IN ('done', 'failed', 'cancelled') FROM task_queue WHERE run_id = $1 AND task_index = $2",
                                        &[run_id, index],
                                    )
                                    .await?;
                                Ok(Some(row.is_none_or(|row| row.get::<_, bool>(0))))
                            })
                        })
                        .await
                })
                .await?;
            match ended {
                None => return Ok(false),
                Some(true) => return Ok(true),
                Some(false) => {}
            }
            let wait = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(Duration::from_secs(1));
            let _ = tokio::time::timeout(wait, done).await;
        }
    }

    /// Waits until the database says tasks are ready (any registry), or `timeout` passes:
    /// what an idle worker does instead of polling. Listening starts on first use.
    pub async fn wait_for_ready(&self, timeout: Duration) {
        let signals = self.signals();
        let _ = tokio::time::timeout(timeout, signals.ready.notified()).await;
    }

    /// Waits until a run finishes, or `timeout` passes; the run as it is then.
    pub async fn wait_for_run(
        &self,
        run_id: &str,
        timeout: Duration,
    ) -> Result<Option<RunRecord>, StorageError> {
        let signals = self.signals();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the run is read: a finish in between is not missed.
            let finished = signals.finished.notified();
            let id = run_id.to_owned();
            let shared = self.shared.clone();
            let run = self
                .on_driver(async move {
                    shared
                        .call("read the run", move |client, _| {
                            let id = id.clone();
                            Box::pin(async move {
                                // Its finish is notified only while someone waits for it.
                                client
                                    .execute(
                                        "UPDATE queued_runs SET notify_finished = true WHERE run_id = $1 AND NOT notify_finished",
                                        &[&id],
                                    )
                                    .await?;
                                let row = client
                                    .query_opt(
                                        &format!(
                                            "SELECT {} FROM runs WHERE id = $1",
                                            rows::RUN_COLUMNS
                                        ),
                                        &[&id],
                                    )
                                    .await?;
                                row.map(|row| rows::run_from_row(&row).map_err(Failure::Refused))
                                    .transpose()
                            })
                        })
                        .await
                })
                .await?;
            let done = run
                .as_ref()
                .is_none_or(|r| r.status != crate::RunStatus::Running);
            if done || tokio::time::Instant::now() >= deadline {
                return Ok(run);
            }
            // A notification can be lost while the listener reconnects: look again each second.
            let wait = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(Duration::from_secs(1));
            let _ = tokio::time::timeout(wait, finished).await;
        }
    }

    /// The store's signals, listening from the first call on.
    pub(crate) fn signals(&self) -> Arc<Signals> {
        let shared = &self.shared;
        shared
            .signals
            .get_or_init(|| {
                let signals = Arc::new(Signals::default());
                self.driver
                    .handle()
                    .spawn(listen(shared.clone(), Arc::downgrade(&signals)));
                signals
            })
            .clone()
    }
}

/// Keeps one connection listening on both channels while the store lives, reconnecting with
/// backoff; after each (re)connection every waiter is woken, since notifications sent while it
/// was away are lost.
async fn listen(shared: Arc<Shared>, signals: std::sync::Weak<Signals>) {
    let mut wait = Duration::from_millis(50);
    loop {
        let Some(strong) = signals.upgrade() else {
            return;
        };
        let forward = {
            let signals = Arc::downgrade(&strong);
            move |message: tokio_postgres::AsyncMessage| {
                if let (tokio_postgres::AsyncMessage::Notification(n), Some(signals)) =
                    (message, signals.upgrade())
                {
                    match n.channel() {
                        READY => signals.ready.notify_waiters(),
                        TASK_DONE => signals.task_done.notify_waiters(),
                        _ => signals.finished.notify_waiters(),
                    }
                }
            }
        };
        drop(strong);
        match shared.connector.connect(&shared.config, forward).await {
            Ok((client, connection)) => {
                let listening = client
                    .batch_execute(&format!(
                        "LISTEN {READY}; LISTEN {FINISHED}; LISTEN {TASK_DONE}"
                    ))
                    .await;
                if listening.is_ok() {
                    wait = Duration::from_millis(50);
                    if let Some(signals) = signals.upgrade() {
                        signals.ready.notify_waiters();
                        signals.finished.notify_waiters();
                        signals.task_done.notify_waiters();
                    }
                    // Until the connection ends (or the store goes: checked every second).
                    let mut connection = connection;
                    loop {
                        tokio::select! {
                            _ = &mut connection => break,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                                if signals.strong_count() == 0 {
                                    return;
                                }
                            }
                        }
                    }
                } else {
                    connection.abort();
                }
                tracing::warn!(target = %shared.target, "the PostgreSQL listener lost its connection; reconnecting");
            }
            Err(e) => {
                tracing::warn!(target = %shared.target, error = %e, retry_in = ?wait, "the PostgreSQL listener cannot connect; trying again");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}
