//! The PostgreSQL log and work queue (`tasknet-compare pg-queue --url URL --workload W`):
//! dispatch latency with an idle worker, no-op throughput with 1, 2 and 4 workers, failover
//! after a worker dies, and the per-task cost of the PostgreSQL log against SQLite in one
//! process. Workers run in this process, each with its own connections (`PostgresStorage`),
//! on the same tokio runtime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasknet::{PostgresStorage, Runner, SqliteStorage, Storage, WorkerOptions};

use crate::ws_load::median;
use crate::{Args, fail};

mod noop {
    tasknet::task_registry!("crew/queue_noop.yaml");

    pub struct NoOp;

    impl Tasks for NoOp {
        async fn noop(
            &self,
            _: &tasknet::TaskContext,
            input: NoopInput,
        ) -> Result<NoopOutput, tasknet::TaskError> {
            // The time first: whoever sees the count move reads this start's time.
            super::LAST_START.store(super::since_epoch(), std::sync::atomic::Ordering::SeqCst);
            super::STARTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if input.sleep_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(input.sleep_ms)).await;
            }
            Ok(NoopOutput { done: 1 })
        }
    }
}

/// Tasks started, and when the last one started (ns since `EPOCH`).
static STARTS: AtomicU64 = AtomicU64::new(0);
static LAST_START: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn since_epoch() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

type NoopRunner = Runner<noop::Crew<noop::NoOp>>;

fn runner(log: Arc<dyn Storage>) -> Arc<NoopRunner> {
    Arc::new(
        Runner::new(noop::Crew(noop::NoOp))
            .shared_storage(log)
            .progress(false),
    )
}

fn state(sleep_ms: u64) -> noop::State {
    noop::State {
        sleep_ms: Some(sleep_ms),
        ..Default::default()
    }
}

fn connect(url: &str) -> Arc<PostgresStorage> {
    Arc::new(PostgresStorage::connect(url).unwrap_or_else(|e| fail(&e.to_string())))
}

/// Workers on their own connections, working until `stop` is notified.
fn start_workers(
    url: &str,
    count: usize,
    options: &WorkerOptions,
    stop: &Arc<tokio::sync::Notify>,
) -> Vec<tokio::task::JoinHandle<tasknet::WorkerReport>> {
    (0..count)
        .map(|i| {
            let store = connect(url);
            let runner = runner(store.clone());
            let options = WorkerOptions {
                name: format!("bench-{i}-{}", std::process::id()),
                ..options.clone()
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                runner
                    .work(&store, &options, async move { stop.notified().await })
                    .await
            })
        })
        .collect()
}

pub fn pg_queue(args: &Args) -> Value {
    let url = args
        .text("url")
        .unwrap_or_else(|| fail("--url is required"))
        .to_owned();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    since_epoch();
    match args.text("workload") {
        Some("dispatch") => rt.block_on(dispatch(&url, args.number("samples", Some(200)))),
        Some("throughput") => rt.block_on(throughput(
            &url,
            args.number("workers", Some(1)) as usize,
            args.number("tasks", Some(2_000)),
        )),
        Some("failover") => rt.block_on(failover(&url, args.number("samples", Some(3)))),
        Some("per-task") => per_task(&url, args, &rt),
        Some("calls") => rt.block_on(calls(&url)),
        other => fail(&format!(
            "--workload dispatch|throughput|failover|per-task, not {other:?}"
        )),
    }
}

/// One idle worker; one-task runs submitted one at a time. From `submit` returning (its
/// commit acknowledged) to the task's code starting, and from `submit` being called.
async fn dispatch(url: &str, samples: u64) -> Value {
    let stop = Arc::new(tokio::sync::Notify::new());
    let options = WorkerOptions {
        concurrency: 1,
        ..WorkerOptions::default()
    };
    let workers = start_workers(url, 1, &options, &stop);
    let queue = connect(url);
    let submitter = runner(queue.clone());
    let mut after_commit = Vec::new();
    let mut from_call = Vec::new();
    for i in 0..samples + 5 {
        tokio::time::sleep(Duration::from_millis(20)).await; // the worker is idle again
        let before = STARTS.load(Ordering::SeqCst);
        let called = since_epoch();
        submitter.submit(&queue, state(0)).await.unwrap();
        let committed = since_epoch();
        let deadline = Instant::now() + Duration::from_secs(10);
        while STARTS.load(Ordering::SeqCst) == before {
            assert!(
                Instant::now() < deadline,
                "the worker never started the task"
            );
            tokio::task::yield_now().await;
        }
        let started = LAST_START.load(Ordering::SeqCst);
        if i >= 5 {
            after_commit.push(started.saturating_sub(committed) as f64 / 1e3);
            from_call.push(started.saturating_sub(called) as f64 / 1e3);
        }
    }
    stop.notify_waiters();
    for w in workers {
        let _ = w.await;
    }
    json!({
        "samples": samples,
        "after_commit_us": percentiles(&mut after_commit),
        "from_submit_us": percentiles(&mut from_call),
    })
}

fn percentiles(values: &mut [f64]) -> Value {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    json!({ "p50": at(0.5), "p99": at(0.99), "max": at(1.0) })
}

/// `tasks` one-task no-op runs submitted first, then `workers` workers (16 at once each) start;
/// the time until every run has finished.
async fn throughput(url: &str, workers: usize, tasks: u64) -> Value {
    let queue = connect(url);
    let submitter = runner(queue.clone());
    let mut ids = Vec::new();
    for _ in 0..tasks {
        ids.push(submitter.submit(&queue, state(0)).await.unwrap());
    }
    let stop = Arc::new(tokio::sync::Notify::new());
    let options = WorkerOptions {
        concurrency: 16,
        ..WorkerOptions::default()
    };
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let started = Instant::now();
    let handles = start_workers(url, workers, &options, &stop);
    // Polled every 5 ms on a connection of its own: waiting per run would ask the workers to
    // notify each finish, which no user of throughput does.
    let ids_sql: Vec<&str> = ids.iter().map(String::as_str).collect();
    loop {
        let running: i64 = client
            .query_one(
                "SELECT count(*) FROM runs WHERE id = ANY($1) AND status = 'running'",
                &[&ids_sql],
            )
            .await
            .unwrap()
            .get(0);
        if running == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{running} runs never finished"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let failed: i64 = client
        .query_one(
            "SELECT count(*) FROM runs WHERE id = ANY($1) AND status <> 'succeeded'",
            &[&ids_sql],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(failed, 0, "every run succeeded");
    stop.notify_waiters();
    let mut stored = 0;
    for h in handles {
        stored += h.await.unwrap().stored;
    }
    assert_eq!(stored, tasks, "every record stored once");
    json!({
        "workers": workers,
        "tasks": tasks,
        "seconds": elapsed.as_secs_f64(),
        "tasks_per_s": tasks as f64 / elapsed.as_secs_f64(),
    })
}

/// A worker with a 1 s lease takes a long task and dies (its future dropped: no renewal, no
/// hand-back, as after SIGKILL); an idle worker (1 s idle poll) takes the task over. The time
/// from the death to the task starting again, and how much of it came after the lease ran out
/// (the lease's end read from the queue at the death).
async fn failover(url: &str, samples: u64) -> Value {
    let lease = Duration::from_secs(1);
    let options = WorkerOptions {
        concurrency: 1,
        lease,
        ..WorkerOptions::default()
    };
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut after_death = Vec::new();
    let mut after_lease = Vec::new();
    for _ in 0..samples {
        let queue = connect(url);
        let submitter = runner(queue.clone());
        let stop = Arc::new(tokio::sync::Notify::new());
        let victim = start_workers(url, 1, &options, &stop).pop().unwrap();
        let before = STARTS.load(Ordering::SeqCst);
        submitter.submit(&queue, state(3_600_000)).await.unwrap();
        while STARTS.load(Ordering::SeqCst) == before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        victim.abort();
        let _ = victim.await;
        let died = since_epoch();
        // How long the lease still had to run, by the database's clock.
        let left_ms: f64 = client
            .query_one(
                "SELECT (EXTRACT(EPOCH FROM (max(lease_until) - clock_timestamp())) * 1000)::float8 FROM task_queue WHERE state = 'claimed'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, Option<f64>>(0)
            .unwrap_or(0.0);
        let heir = start_workers(url, 1, &options, &stop);
        while STARTS.load(Ordering::SeqCst) == before + 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let restarted = since_epoch();
        let ms = (restarted - died) as f64 / 1e6;
        after_death.push(ms);
        after_lease.push(ms - left_ms.max(0.0));
        // The heir's task sleeps for an hour: cancel the run's queue rows and move on.
        client
            .execute(
                "UPDATE task_queue SET state = 'cancelled' WHERE state = 'claimed'",
                &[],
            )
            .await
            .unwrap();
        for h in heir {
            h.abort();
        }
    }
    json!({
        "lease_ms": lease.as_millis() as u64,
        "death_to_restart_ms": percentiles(&mut after_death),
        "lease_end_to_restart_ms": percentiles(&mut after_lease),
    })
}

/// The per-task cost of the log in one process: the 10-task chain through `Runner::run`, on
/// PostgreSQL and on SQLite (durable, `synchronous = FULL`), alternated.
fn per_task(url: &str, args: &Args, rt: &tokio::runtime::Runtime) -> Value {
    use crate::chain_10::{Crew, NoOp, State};
    let rounds = args.number("runs", Some(200));
    let dir = tempfile_dir();
    let sqlite: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.join("per_task.db")).unwrap());
    let postgres: Arc<dyn Storage> = connect(url);
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds + 5 {
        for (side, log) in [&postgres, &sqlite].into_iter().enumerate() {
            let runner = Runner::new(Crew(NoOp))
                .shared_storage(log.clone())
                .progress(false);
            let state = State {
                start: Some(1),
                ..Default::default()
            };
            let started = Instant::now();
            rt.block_on(runner.run(state)).unwrap();
            if round >= 5 {
                times[side].push(started.elapsed().as_secs_f64() * 1e6 / 10.0);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    json!({
        "tasks_per_run": 10,
        "postgres_us_per_task": median(times[0].clone()),
        "sqlite_us_per_task": median(times[1].clone()),
    })
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tasknet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The round trip of each queue call alone, sequentially: where dispatch time goes.
async fn calls(url: &str) -> Value {
    let queue = connect(url);
    let submitter = runner(queue.clone());
    let mut submit = Vec::new();
    let mut claim = Vec::new();
    let mut load = Vec::new();
    let mut empty_claim = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let id = submitter.submit(&queue, state(0)).await.unwrap();
        submit.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let claims = queue
            .claim("queue_noop", "probe", 1, Duration::from_secs(10), false)
            .await
            .unwrap();
        claim.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(claims.len(), 1);
        let t = Instant::now();
        queue.load_run(&id).await.unwrap();
        load.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        queue
            .claim("queue_noop", "probe", 1, Duration::from_secs(10), false)
            .await
            .unwrap();
        empty_claim.push(t.elapsed().as_secs_f64() * 1e6);
    }
    // From submit's return to a listener of another store being woken.
    let listener = connect(url);
    listener.wait_for_ready(Duration::from_millis(200)).await;
    let mut woken = Vec::new();
    for _ in 0..100 {
        let wait = {
            let listener = listener.clone();
            tokio::spawn(async move {
                listener.wait_for_ready(Duration::from_secs(5)).await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        submitter.submit(&queue, state(0)).await.unwrap();
        let t = Instant::now();
        let at = wait.await.unwrap();
        woken.push(at.saturating_duration_since(t).as_secs_f64() * 1e6);
    }
    json!({
        "woken_after_submit_us": percentiles(&mut woken),
        "submit_us": percentiles(&mut submit),
        "claim_us": percentiles(&mut claim),
        "load_us": percentiles(&mut load),
        "empty_claim_us": percentiles(&mut empty_claim),
    })
}
