//! The log loses nothing. A process running a pipeline that logs to SQLite is killed with
//! SIGKILL at 50 points spread over its run: after each kill the log opens, passes
//! `PRAGMA integrity_check`, holds every record the process had been told was stored, and a
//! replay from the first missing task finishes the run. Two processes writing runs to one log
//! at once: neither sees `database is locked`, no record is lost.
//!
//! The child processes are this test binary again, running the test `child` with
//! `TASKNET_CHILD` set (without it, `child` does nothing).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tasknet::{
    Replay, RunRecord, RunStatus, Runner, SqliteStorage, Storage, StorageError, TaskContext,
    TaskError, TaskRecord, TaskStatus,
};

mod chain {
    tasknet::task_registry!(
        yaml = "
inputs: {start: u64}
t0: {requires: [start], produces: {v0: u64}}
t1: {requires: [v0], produces: {v1: u64}}
t2: {requires: [v1], produces: {v2: u64}}
t3: {requires: [v2], produces: {v3: u64}}
t4: {requires: [v3], produces: {v4: u64}}
t5: {requires: [v4], produces: {v5: u64}}
t6: {requires: [v5], produces: {v6: u64}}
t7: {requires: [v6], produces: {v7: u64}}
t8: {requires: [v7], produces: {v8: u64}}
t9: {requires: [v8], produces: {v9: u64}}
"
    );
}

use chain::*;

const TASKS: usize = 10;

/// Each task adds one to the previous value, after a pause of up to `pause_ms`.
struct Steps {
    pause_ms: u64,
}

impl Steps {
    async fn pause(&self) {
        if self.pause_ms > 0 {
            let jitter = u64::from(std::process::id()) ^ u64::from(now_nanos());
            tokio::time::sleep(Duration::from_millis(jitter % (self.pause_ms + 1))).await;
        }
    }
}

fn now_nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

macro_rules! steps {
    ($($task:ident: $input:ident -> $output:ident { $field:ident = $previous:ident + 1 })*) => {
        impl Tasks for Steps {
            $(
                async fn $task(&self, _: &TaskContext, i: $input) -> Result<$output, TaskError> {
                    self.pause().await;
                    Ok($output { $field: i.$previous + 1 })
                }
            )*
        }
    };
}

steps! {
    t0: T0Input -> T0Output { v0 = start + 1 }
    t1: T1Input -> T1Output { v1 = v0 + 1 }
    t2: T2Input -> T2Output { v2 = v1 + 1 }
    t3: T3Input -> T3Output { v3 = v2 + 1 }
    t4: T4Input -> T4Output { v4 = v3 + 1 }
    t5: T5Input -> T5Output { v5 = v4 + 1 }
    t6: T6Input -> T6Output { v6 = v5 + 1 }
    t7: T7Input -> T7Output { v7 = v6 + 1 }
    t8: T8Input -> T8Output { v8 = v7 + 1 }
    t9: T9Input -> T9Output { v9 = v8 + 1 }
}

/// The SQLite log, printing `stored TASK` once a record's write has returned: what the child
/// process has been told is in the log.
struct Reporting(SqliteStorage);

impl Storage for Reporting {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn create_run(&self, run: &RunRecord) -> Result<(), StorageError> {
        self.0.create_run(run)
    }
    fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        finished_at: &str,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        self.0.finish_run(run_id, status, finished_at, error)
    }
    fn put_task(&self, task: TaskRecord) -> Result<(), StorageError> {
        let name = task.task_name.clone();
        self.0.put_task(task)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "stored {name}").unwrap();
        out.flush().unwrap();
        Ok(())
    }
    fn update_task_at(
        &self,
        run_id: &str,
        task_index: usize,
        task: TaskRecord,
    ) -> Result<bool, StorageError> {
        self.0.update_task_at(run_id, task_index, task)
    }
    fn delete_tasks(&self, run_id: &str) -> Result<usize, StorageError> {
        self.0.delete_tasks(run_id)
    }
    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StorageError> {
        self.0.run(run_id)
    }
    fn runs(&self) -> Result<Vec<RunRecord>, StorageError> {
        self.0.runs()
    }
    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRecord>, StorageError> {
        self.0.tasks(run_id)
    }
    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StorageError> {
        self.0.delete_runs(run_ids)
    }
}

fn initial() -> State {
    State {
        start: Some(0),
        ..Default::default()
    }
}

/// The child's side: `crash` runs one pipeline with pauses under the given run id (and is
/// killed by the parent); `writer` runs `TASKNET_RUNS` pipelines one after the other.
#[test]
fn child() {
    let Ok(mode) = std::env::var("TASKNET_CHILD") else {
        return;
    };
    let db = std::env::var("TASKNET_DB").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    match mode.as_str() {
        "crash" => {
            let runner = Runner::new(Crew(Steps { pause_ms: 2 }))
                .storage(Reporting(SqliteStorage::open(&db).unwrap()))
                .progress(false);
            let run_id = std::env::var("TASKNET_RUN").unwrap();
            rt.block_on(runner.run_with_id(run_id, initial())).unwrap();
        }
        "writer" => {
            let runner = Runner::new(Crew(Steps { pause_ms: 0 }))
                .storage(SqliteStorage::open(&db).unwrap())
                .progress(false);
            let prefix = std::env::var("TASKNET_RUN").unwrap();
            let runs: usize = std::env::var("TASKNET_RUNS").unwrap().parse().unwrap();
            for k in 0..runs {
                // An error here (e.g. `database is locked`) fails the child, and the test.
                let run = rt
                    .block_on(runner.run_with_id(format!("{prefix}-{k}"), initial()))
                    .unwrap();
                assert_eq!(run.state.v9, Some(10));
            }
        }
        "fill" => {
            let runner = Runner::new(Crew(Steps { pause_ms: 0 }))
                .storage(SqliteStorage::open(&db).unwrap_or_else(|e| {
                    eprintln!("error: {e}");
                    std::process::exit(3)
                }))
                .progress(false);
            for k in 0.. {
                if let Err(e) = rt.block_on(runner.run_with_id(format!("fill-{k}"), initial())) {
                    // What a user's binary shows: the error, and a non-zero exit.
                    eprintln!("error: {e}");
                    std::process::exit(3);
                }
                println!("finished fill-{k}");
            }
        }
        "one" => {
            let log = SqliteStorage::open(&db).unwrap_or_else(|e| {
                eprintln!("error: {e}");
                std::process::exit(3)
            });
            let runner = Runner::new(Crew(Steps { pause_ms: 0 }))
                .storage(log)
                .progress(false);
            if let Err(e) = rt.block_on(runner.run_with_id("one".to_owned(), initial())) {
                eprintln!("error: {e}");
                std::process::exit(3);
            }
            println!("finished one");
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// Runs the child in `mode` (run id = mode) with files limited to `blocks` (`ulimit -f`) and
/// SIGXFSZ ignored, so that writes past the limit fail with EFBIG as on a full disk.
fn child_with_file_limit(mode: &str, db: &Path, blocks: u32) -> std::process::Output {
    let child = child_command(mode, db, mode);
    let args: Vec<String> = child
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" {}",
            args.join(" ")
        ))
        .arg(child.get_program())
        .env("TASKNET_CHILD", mode)
        .env("TASKNET_DB", db)
        .env("TASKNET_RUN", mode)
        .output()
        .unwrap()
}

fn child_command(mode: &str, db: &Path, run: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("TASKNET_CHILD", mode)
        .env("TASKNET_DB", db)
        .env("TASKNET_RUN", run);
    command
}

#[test]
fn sigkill_at_random_points_loses_no_stored_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (mut before_any, mut mid_run, mut after_all) = (0, 0, 0);
    for kill in 0..50u64 {
        let run_id = format!("crash-{kill}");
        let mut child = child_command("crash", &db, &run_id)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("stored ").map(str::to_owned))
                .collect::<Vec<_>>()
        });
        // Spread over start-up, the run and its end: 0 to 48 ms after the spawn, in an order
        // that mixes early and late kills.
        std::thread::sleep(Duration::from_millis(kill * 37 % 49));
        child.kill().unwrap();
        child.wait().unwrap();
        let stored = reader.join().unwrap();

        let log = SqliteStorage::open(&db).unwrap();
        log.integrity_check()
            .unwrap_or_else(|e| panic!("kill {kill}: {e}"));
        let records = log.tasks(&run_id).unwrap();
        for name in &stored {
            let record = records
                .iter()
                .find(|r| &r.task_name == name)
                .unwrap_or_else(|| panic!("kill {kill}: `{name}` was stored, not in the log"));
            let i: u64 = name[1..].parse().unwrap();
            assert_eq!(record.status, TaskStatus::Succeeded, "kill {kill}: {name}");
            assert_eq!(
                record.output.value(),
                json!({ format!("v{i}"): i + 1 }),
                "kill {kill}"
            );
        }
        match (log.run(&run_id).unwrap(), records.len()) {
            (None, _) | (Some(_), 0) => before_any += 1,
            (Some(_), n) if n == TASKS => after_all += 1,
            (Some(_), n) => {
                mid_run += 1;
                // Replay from the first task the log does not hold: the run finishes.
                let missing = TASKNET_ORDER
                    .iter()
                    .find(|t| !records.iter().any(|r| r.task_name == **t))
                    .unwrap();
                let runner = Runner::new(Crew(Steps { pause_ms: 0 }))
                    .storage(log)
                    .progress(false);
                let replay = rt
                    .block_on(runner.replay(&Replay::from(&run_id, *missing)))
                    .unwrap_or_else(|e| panic!("kill {kill} after {n} records: {e}"));
                assert_eq!(replay.state.v9, Some(10), "kill {kill}");
                assert_eq!(replay.tasks_run, TASKS - n, "kill {kill}");
            }
        }
    }
    eprintln!(
        "50 kills: {before_any} before the first record, {mid_run} mid-run, {after_all} after the last"
    );
    assert!(
        mid_run >= 10,
        "too few kills landed mid-run ({mid_run}) for the test to mean much"
    );
}

const TASKNET_ORDER: [&str; TASKS] = ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"];

#[test]
fn two_processes_write_to_one_log_without_locking_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let runs = 40;
    let started = Instant::now();
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|prefix| {
            child_command("writer", &db, prefix)
                .env("TASKNET_RUNS", runs.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a writer failed: {stderr}");
        assert!(!stderr.contains("locked"), "{stderr}");
    }
    let log = SqliteStorage::open(&db).unwrap();
    log.integrity_check().unwrap();
    let all = log.runs().unwrap();
    assert_eq!(all.len(), 2 * runs, "every run of both processes is kept");
    for run in &all {
        assert_eq!(run.status, RunStatus::Succeeded, "{}", run.id);
        let records = log.tasks(&run.id).unwrap();
        assert_eq!(records.len(), TASKS, "{}", run.id);
        assert!(records.iter().all(|r| r.status == TaskStatus::Succeeded));
    }
    eprintln!(
        "two writers, {} runs of {TASKS} durable records: {:?}",
        2 * runs,
        started.elapsed()
    );
}

/// Pre-sizing a new log's WAL (~4 MB of zeros) where a file may hold 2 MB (`ulimit -f 4000`
/// in 512-byte blocks, as on a nearly full disk): the extension fails, is cut back, and the
/// run, which needs far less, succeeds. (Before, 2 MB of zeros stayed.)
#[test]
fn a_wal_that_cannot_be_pre_sized_takes_no_room() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("small.db");
    let out = child_with_file_limit("one", &db, 4000);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("finished one"));
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal_bytes = std::fs::metadata(std::path::PathBuf::from(wal)).map_or(0, |m| m.len());
    assert!(wal_bytes < 1 << 20, "the WAL kept {wal_bytes} bytes");
    let log = SqliteStorage::open_read_only(&db).unwrap();
    assert_eq!(
        log.run("one").unwrap().unwrap().status,
        RunStatus::Succeeded
    );
}

/// A full disk, as a file-size limit (`ulimit -f`; SIGXFSZ ignored, so writes fail with EFBIG
/// as on a full disk): the run fails with an error naming the log file and the operation,
/// the process exits non-zero, and every run finished before is intact.
#[test]
fn a_full_disk_fails_clearly_and_keeps_earlier_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("full.db");
    // 3,000 blocks (1.5 or 3 MB, depending on the shell's block size) per file.
    let out = child_with_file_limit("fill", &db, 3000);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "exits non-zero: {stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        error.contains(&db.display().to_string()),
        "names the file: {error}"
    );
    assert!(
        ["store", "create", "commit", "insert", "finish"]
            .iter()
            .any(|op| error.contains(op)),
        "names the operation: {error}"
    );
    let finished: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("finished "))
        .collect();
    assert!(finished.len() >= 3, "some runs fit first: {stdout}");
    let log = SqliteStorage::open(&db).unwrap();
    log.integrity_check().unwrap();
    for run_id in &finished {
        let run = log.run(run_id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{run_id}");
        assert_eq!(log.tasks(run_id).unwrap().len(), TASKS, "{run_id}");
    }
    eprintln!("full disk after {} runs: {error}", finished.len());
}
