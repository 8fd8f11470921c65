//! Runs spread over worker processes through a PostgreSQL log (a throwaway cluster of the
//! test's own): a fork and a join across workers, a worker killed with SIGKILL mid-task, a
//! worker stopped with SIGTERM, `submit --wait`, replay of a run that moved between workers.
//! The workers are this test binary started again as `queue_crew worker` (see `child_app`).

mod queue_crew;
mod server_support;

use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use queue_crew::{Crew, Shop, app_process, expected_sent, start_worker, stopped, terminate};
use tasknet::{PostgresStorage, Replay, RunStatus, Runner, Storage};
use tasknet_testkit::postgres::Cluster;

/// In a child only: the crew's App with the parent's arguments.
#[test]
fn child_app() {
    queue_crew::child_main();
}

fn runner(log: &Arc<PostgresStorage>) -> Runner<Crew<Shop>> {
    Runner::new(Crew(Shop))
        .shared_storage(log.clone())
        .progress(false)
}

async fn submit(
    runner: &Runner<Crew<Shop>>,
    log: &PostgresStorage,
    batch: u64,
    work_ms: u64,
) -> String {
    let state = queue_crew::State {
        batch: Some(batch),
        work_ms: Some(work_ms),
        ..Default::default()
    };
    runner.submit(log, state).await.unwrap()
}

/// Waits for every run, within `limit`; the runs as they ended.
async fn finished(
    log: &PostgresStorage,
    ids: &[String],
    limit: Duration,
) -> Vec<tasknet::RunRecord> {
    let deadline = Instant::now() + limit;
    let mut runs = Vec::new();
    for id in ids {
        let left = deadline.saturating_duration_since(Instant::now());
        let run = log.wait_for_run(id, left).await.unwrap().unwrap();
        assert_ne!(
            run.status,
            RunStatus::Running,
            "run {id} did not finish within {limit:?}"
        );
        runs.push(run);
    }
    runs
}

/// Every run succeeded with the output its inputs call for, and every task has its one
/// record.
fn check_runs(log: &PostgresStorage, runs: &[tasknet::RunRecord], batches: &[u64]) {
    for (run, batch) in runs.iter().zip(batches) {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        let tasks = log.tasks(&run.id).unwrap();
        assert_eq!(tasks.len(), 5, "run {}", run.id);
        let sent = tasks.iter().find(|t| t.task_name == "send_reply").unwrap();
        let sent: Vec<String> =
            serde_json::from_value(sent.output.value()["sent"].clone()).unwrap();
        assert_eq!(sent, expected_sent(*batch), "run {}", run.id);
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn forks_and_joins_run_across_workers_and_each_record_is_stored_once() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url("postgres");
    let log = Arc::new(PostgresStorage::connect(&url).unwrap());
    let workers: Vec<Child> = (0..3).map(|_| start_worker(&url, &[])).collect();
    let rt = rt();
    let runner = runner(&log);
    let batches: Vec<u64> = (0..30).collect();
    let ids: Vec<String> = rt.block_on(async {
        let mut ids = Vec::new();
        for &b in &batches {
            ids.push(submit(&runner, &log, b, 5).await);
        }
        ids
    });
    let runs = rt.block_on(finished(&log, &ids, Duration::from_secs(60)));
    check_runs(&log, &runs, &batches);
    let mut stored = 0;
    let mut busy = 0;
    for worker in workers {
        terminate(&worker);
        let (s, failed, lost, handed_back, _) = stopped(worker);
        assert_eq!((failed, lost, handed_back), (0, 0, 0));
        stored += s;
        busy += u64::from(s > 0);
    }
    assert_eq!(stored, 30 * 5, "the workers stored each record once");
    assert!(
        busy >= 2,
        "the runs were spread over the workers: {busy} of 3 worked"
    );
    // The fork's two branches ran at the same time in some run.
    let overlapped = runs.iter().any(|run| {
        let tasks = log.tasks(&run.id).unwrap();
        let branch = |name: &str| tasks.iter().find(|t| t.task_name == name).unwrap().clone();
        let (a, b) = (branch("check_stock_availability"), branch("draft_reply"));
        a.started_at < b.finished_at && b.started_at < a.finished_at
    });
    assert!(overlapped, "no run had its two branches running at once");
}

#[test]
fn a_worker_killed_mid_task_loses_nothing_and_its_runs_replay() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url("postgres");
    let log = Arc::new(PostgresStorage::connect(&url).unwrap());
    let mut victim = start_worker(&url, &[]);
    let rt = rt();
    let runner = runner(&log);
    let batches: Vec<u64> = (0..8).collect();
    let ids: Vec<String> = rt.block_on(async {
        let mut ids = Vec::new();
        for &b in &batches {
            ids.push(submit(&runner, &log, b, 400).await);
        }
        ids
    });
    // The victim alone takes the first tasks; killed while they run.
    let claimed = Instant::now();
    while cluster
        .sql(
            "postgres",
            "SELECT count(*) FROM task_queue WHERE state = 'claimed'",
        )
        .unwrap()
        == "0"
    {
        assert!(
            claimed.elapsed() < Duration::from_secs(20),
            "the worker claimed nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let killed_at = Instant::now();
    let survivors: Vec<Child> = (0..2).map(|_| start_worker(&url, &[])).collect();
    let runs = rt.block_on(finished(&log, &ids, Duration::from_secs(60)));
    check_runs(&log, &runs, &batches);
    let retried: u32 = cluster
        .sql(
            "postgres",
            "SELECT count(*) FROM task_queue WHERE attempts > 1",
        )
        .unwrap()
        .parse()
        .unwrap();
    assert!(retried > 0, "no task was taken over from the dead worker");
    let counted = runs
        .iter()
        .any(|run| log.tasks(&run.id).unwrap().iter().any(|t| t.attempts > 1));
    assert!(
        counted,
        "the taken-over tasks' records count the lost attempt"
    );
    let mut stored = 0;
    for worker in survivors {
        terminate(&worker);
        stored += stopped(worker).0;
    }
    // The victim stored none (it died in its first tasks): the survivors stored them all.
    assert_eq!(stored, 8 * 5);
    eprintln!(
        "{retried} tasks taken over; all runs done {:?} after the kill",
        killed_at.elapsed()
    );
    // A run that moved between workers replays from the log.
    let replayed = rt
        .block_on(runner.replay(&Replay::from(ids[0].clone(), "draft_reply")))
        .unwrap();
    assert_eq!(replayed.state.sent, Some(expected_sent(0)));
}

#[test]
fn a_stopped_worker_finishes_its_tasks_or_hands_them_back() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url("postgres");
    let log = Arc::new(PostgresStorage::connect(&url).unwrap());
    let rt = rt();
    let runner = runner(&log);
    // Stopped while its task runs: it finishes it before it exits.
    let patient = start_worker(&url, &[]);
    let first = rt.block_on(submit(&runner, &log, 1, 1_500));
    std::thread::sleep(Duration::from_millis(700));
    terminate(&patient);
    let (stored, _, _, handed_back, stderr) = stopped(patient);
    assert_eq!((stored, handed_back), (1, 0), "{stderr}");
    // Stopped with no time to finish: it hands the task back, and another worker runs it.
    let hasty = start_worker(&url, &["--drain", "0.1"]);
    std::thread::sleep(Duration::from_millis(700));
    terminate(&hasty);
    let (stored, _, _, handed_back, stderr) = stopped(hasty);
    assert_eq!((stored, handed_back), (0, 1), "{stderr}");
    let finisher = start_worker(&url, &[]);
    // `submit --wait`, as a user runs it, beside the worker: prints the id, waits, succeeds.
    let out = app_process(&[
        "--log",
        &url,
        "submit",
        "--wait",
        "--set",
        "batch=2",
        "--set",
        "work_ms=0",
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The child is a test binary: its harness prints lines of its own around the id.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let second = stdout
        .split_whitespace()
        .find(|word| stderr.contains(&format!("run {word} succeeded")))
        .unwrap_or_else(|| panic!("no run id printed: {stdout}; {stderr}"))
        .to_owned();
    let runs = rt.block_on(finished(&log, &[first, second], Duration::from_secs(30)));
    check_runs(&log, &runs, &[1, 2]);
    terminate(&finisher);
    stopped(finisher);
}

#[test]
fn workers_need_a_shared_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let out = app_process(&["--log", db.to_str().unwrap(), "worker"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`worker` needs a PostgreSQL log"),
        "{stderr}"
    );
}

/// `tasknet::serve` with `hand_to_workers`: a browser plays the run task by task through the
/// server, and every task runs in the worker process, on the state rebuilt from the log.
#[test]
fn a_server_hands_browser_runs_to_the_workers() {
    use serde_json::json;
    use server_support::{Server, ServerConfig, connect, execute, start_run};
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url("postgres");
    let log = Arc::new(PostgresStorage::connect(&url).unwrap());
    let worker = start_worker(&url, &[]);
    let rt = rt();
    let (run_id, sent) = rt.block_on(async {
        let runner = Runner::new(Crew(Shop))
            .hand_to_workers(log.clone())
            .progress(false);
        let config = ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..ServerConfig::default()
        };
        let server = Server::bind(runner, config).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        let mut ws = connect(addr, "", None).await.unwrap();
        let run_id = start_run(&mut ws).await;
        let mut state = json!({"batch": 4, "work_ms": 0});
        for task in [
            "read_email",
            "classify_message",
            "check_stock_availability",
            "draft_reply",
            "send_reply",
        ] {
            let (_, done) = execute(&mut ws, task, task, state.clone(), Some(&run_id)).await;
            assert_eq!(done["type"], "task_completed", "{task}: {done}");
            state = done["data"]["result"].clone();
        }
        let _ = stop.send(());
        serving.await.unwrap().unwrap();
        (run_id, state["sent"].clone())
    });
    assert_eq!(sent, json!(expected_sent(4)));
    let run = log.run(&run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(log.tasks(&run_id).unwrap().len(), 5);
    terminate(&worker);
    let (stored, ..) = stopped(worker);
    assert_eq!(stored, 5, "the worker ran every task");
}
