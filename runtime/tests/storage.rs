//! Every Storage method, on both stores; the seed's handler semantics; retention; export;
//! SQLite durability, backup and bad files.

use std::sync::Arc;

use serde_json::json;
use tasknet_runtime::seed::{ExecutionLog, TaskOutputStorageHandler};
use tasknet_runtime::storage::{export_csv, export_jsonl};
use tasknet_runtime::{
    LlmUsage, MemoryStorage, RunRecord, RunStatus, SqliteStorage, Storage, TaskRecord, TaskStatus,
};

fn run(id: &str, started_at: &str) -> RunRecord {
    RunRecord {
        id: id.to_owned(),
        registry: "tasks".to_owned(),
        source_hash: "abc".to_owned(),
        started_at: started_at.to_owned(),
        finished_at: None,
        status: RunStatus::Running,
        inputs: json!({"topic": "mangoes"}),
        parent_run: None,
        replay_task: None,
        replay_mode: None,
        error: None,
    }
}

fn task(run_id: &str, index: usize, name: &str, output: serde_json::Value) -> TaskRecord {
    TaskRecord {
        run_id: run_id.to_owned(),
        task_index: index,
        task_name: name.to_owned().into(),
        expected_output: format!("the output of {name}").into(),
        inputs: json!({"topic": "mangoes, \"ripe\""}).into(),
        output: output.into(),
        status: TaskStatus::Succeeded,
        error_kind: None,
        error: None,
        was_replayed: false,
        started_at: "2026-11-21T06:00:00.000Z".to_owned(),
        finished_at: "2026-11-21T06:00:01.000Z".to_owned(),
        duration_ms: 1000.0,
        attempts: 1,
        llm: None,
    }
}

/// What keeps a store's backing alive for the test (a directory, a PostgreSQL cluster).
type Backing = Box<dyn std::any::Any>;

/// Every store, each fresh: memory, SQLite, and PostgreSQL on a throwaway cluster of its own
/// (skipped, saying so, where PostgreSQL is not installed).
fn stores() -> Vec<(&'static str, Arc<dyn Storage>, Backing)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStorage::open(dir.path().join("log.db")).unwrap();
    #[allow(unused_mut)]
    let mut stores: Vec<(&'static str, Arc<dyn Storage>, Backing)> = vec![
        ("memory", Arc::new(MemoryStorage::new()), Box::new(())),
        ("sqlite", Arc::new(sqlite), Box::new(dir)),
    ];
    #[cfg(feature = "postgres")]
    if let Some(cluster) = tasknet_testkit::postgres::Cluster::start() {
        let store = tasknet_runtime::PostgresStorage::connect(&cluster.url("postgres")).unwrap();
        stores.push(("postgres", Arc::new(store), Box::new(cluster)));
    }
    stores
}

#[test]
fn runs_and_tasks_round_trip() {
    for (name, s, _dir) in stores() {
        s.create_run(&run("r1", "2026-11-21T06:00:00.000Z"))
            .unwrap();
        assert!(
            s.create_run(&run("r1", "2026-11-21T06:00:00.000Z"))
                .is_err(),
            "{name}: duplicate run"
        );
        s.put_task(task("r1", 1, "b", json!({"x": 2}))).unwrap();
        s.put_task(task("r1", 0, "a", json!({"x": 1}))).unwrap();
        // Same run and name: replaced, not duplicated.
        s.put_task(task("r1", 0, "a", json!({"x": 10}))).unwrap();
        let tasks = s.tasks("r1").unwrap();
        assert_eq!(tasks.len(), 2, "{name}");
        assert_eq!(tasks[0].task_name, "a", "{name}: ordered by task index");
        assert_eq!(tasks[0].output.value(), json!({"x": 10}), "{name}");
        assert_eq!(
            tasks[1],
            task("r1", 1, "b", json!({"x": 2})),
            "{name}: every column kept"
        );
        // An agent task's LLM use is kept with its record.
        let llm = LlmUsage {
            model: "gpt-4o-mini".into(),
            calls: 2,
            prompt_tokens: 180,
            completion_tokens: 42,
            llm_ms: 812.5,
        };
        let agent_task = TaskRecord {
            llm: Some(llm.clone()),
            ..task("r1", 2, "c", json!({"y": 3}))
        };
        s.put_tasks(vec![agent_task.clone()]).unwrap();
        assert_eq!(s.tasks("r1").unwrap()[2], agent_task, "{name}");
        s.finish_run("r1", RunStatus::Succeeded, "2026-11-21T06:00:02.000Z", None)
            .unwrap();
        let r = s.run("r1").unwrap().unwrap();
        assert_eq!(r.status, RunStatus::Succeeded, "{name}");
        assert_eq!(r.finished_at.as_deref(), Some("2026-11-21T06:00:02.000Z"));
        assert_eq!(r.inputs, json!({"topic": "mangoes"}));
        assert!(s.run("nope").unwrap().is_none());
        assert!(
            s.finish_run("nope", RunStatus::Failed, "t", None).is_err(),
            "{name}"
        );
        assert_eq!(s.delete_tasks("r1").unwrap(), 3);
        assert!(s.tasks("r1").unwrap().is_empty());
        assert!(
            s.run("r1").unwrap().is_some(),
            "{name}: deleting tasks keeps the run"
        );
    }
}

#[test]
fn batched_writes_and_many_runs_are_kept() {
    for (name, s, _dir) in stores() {
        for r in 0..3 {
            let id = format!("r{r}");
            s.create_run(&run(&id, &format!("2026-11-2{r}T00:00:00.000Z")))
                .unwrap();
            s.put_tasks(
                (0..50)
                    .map(|i| task(&id, i, &format!("t{i}"), json!({"i": i})))
                    .collect(),
            )
            .unwrap();
        }
        assert_eq!(s.runs().unwrap().len(), 3, "{name}: every run is kept");
        assert_eq!(s.tasks("r1").unwrap().len(), 50, "{name}");
        assert_eq!(s.tasks("r2").unwrap()[49].output.value(), json!({"i": 49}));
    }
}

#[test]
fn a_batch_naming_a_task_twice_keeps_the_later_record() {
    for (name, s, _dir) in stores() {
        s.create_run(&run("r", "2026-11-21T00:00:00.000Z")).unwrap();
        // 40 records (two full statements of 16 and a remainder): `t3` again at 20 and 35, in
        // another statement, and `t17` twice in the same statement.
        let batch: Vec<TaskRecord> = (0..40)
            .map(|i| match i {
                20 | 35 => task("r", i, "t3", json!({"again": i})),
                18 => task("r", i, "t17", json!({"again": i})),
                _ => task("r", i, &format!("t{i}"), json!({"i": i})),
            })
            .collect();
        s.put_tasks(batch).unwrap();
        let tasks = s.tasks("r").unwrap();
        assert_eq!(tasks.len(), 37, "{name}: one record per task name");
        let t3 = tasks.iter().find(|t| t.task_name == "t3").unwrap();
        assert_eq!(
            (t3.task_index, t3.output.value()),
            (35, json!({"again": 35})),
            "{name}"
        );
        let t17 = tasks.iter().find(|t| t.task_name == "t17").unwrap();
        assert_eq!(
            (t17.task_index, t17.output.value()),
            (18, json!({"again": 18})),
            "{name}"
        );
        // A batch for a run that does not exist stores nothing.
        let orphan = vec![task("nope", 0, "t0", json!({}))];
        assert!(s.put_tasks(orphan).is_err() || name == "memory", "{name}");
    }
}

#[test]
fn seed_handler_semantics() {
    for (name, s, _dir) in stores() {
        s.create_run(&run("r1", "2026-11-21T06:00:00.000Z"))
            .unwrap();
        let handler = TaskOutputStorageHandler::new(s.clone(), "r1");
        let log = |index: usize, task: &str, out: i64, replayed: bool| ExecutionLog {
            task_id: task.to_owned(),
            expected_output: "e".to_owned(),
            output: json!({"out": out}),
            timestamp: "2026-11-21T06:00:00.000Z".to_owned(),
            task_index: index,
            inputs: json!({}),
            was_replayed: replayed,
        };
        handler.add(&log(0, "a", 1, false)).unwrap();
        handler.add(&log(1, "b", 2, false)).unwrap();
        // A replayed entry replaces the row at its index.
        handler.update(1, &log(1, "b", 20, true)).unwrap();
        // Any other entry is added.
        handler.update(2, &log(2, "c", 3, false)).unwrap();
        let loaded = handler.load().unwrap();
        let outs: Vec<_> = loaded
            .iter()
            .map(|l| {
                (
                    l.task_id.as_str(),
                    l.output["out"].as_i64().unwrap(),
                    l.was_replayed,
                )
            })
            .collect();
        assert_eq!(
            outs,
            [("a", 1, false), ("b", 20, true), ("c", 3, false)],
            "{name}"
        );
        // A replayed entry with no row at its index is added.
        handler.update(7, &log(7, "h", 8, true)).unwrap();
        assert_eq!(handler.load().unwrap().len(), 4);
        // Reset empties this run only.
        s.create_run(&run("r2", "2026-11-21T07:00:00.000Z"))
            .unwrap();
        TaskOutputStorageHandler::new(s.clone(), "r2")
            .add(&log(0, "a", 1, false))
            .unwrap();
        handler.reset().unwrap();
        assert!(handler.load().unwrap().is_empty(), "{name}");
        assert_eq!(
            s.tasks("r2").unwrap().len(),
            1,
            "{name}: other runs untouched"
        );
    }
}

#[test]
fn retention() {
    for (name, s, _dir) in stores() {
        for r in 1..=5 {
            let id = format!("r{r}");
            s.create_run(&run(&id, &format!("2026-11-0{r}T00:00:00.000Z")))
                .unwrap();
            s.put_task(task(&id, 0, "a", json!({}))).unwrap();
        }
        assert_eq!(
            s.delete_runs_before("2026-11-03T00:00:00.000Z").unwrap(),
            2,
            "{name}"
        );
        assert_eq!(s.keep_last_runs(2).unwrap(), 1, "{name}");
        let ids: Vec<String> = s.runs().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["r4", "r5"], "{name}");
        assert!(
            s.tasks("r1").unwrap().is_empty(),
            "{name}: tasks of deleted runs go too"
        );
        assert_eq!(s.tasks("r5").unwrap().len(), 1);
    }
}

#[test]
fn exports() {
    for (name, s, _dir) in stores() {
        s.create_run(&run("r1", "2026-11-21T06:00:00.000Z"))
            .unwrap();
        s.put_task(task("r1", 0, "a", json!({"x": "line1\nline2"})))
            .unwrap();
        let mut jsonl = Vec::new();
        assert_eq!(export_jsonl(s.as_ref(), &mut jsonl).unwrap().records, 2);
        let lines: Vec<serde_json::Value> = String::from_utf8(jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["type"], "run", "{name}");
        assert_eq!(lines[1]["task"]["output"]["x"], "line1\nline2");
        let mut csv = Vec::new();
        assert_eq!(export_csv(s.as_ref(), &mut csv).unwrap().records, 1);
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.starts_with("run_id,registry,run_status,task_index,task_name,"),
            "{csv}"
        );
        // Quotes doubled, the field quoted: RFC 4180.
        assert!(
            csv.contains(r#","{""topic"":""mangoes, \""ripe\""""}","#),
            "{csv}"
        );
    }
}

#[test]
fn sqlite_survives_reopening_and_backs_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    {
        let s = SqliteStorage::open(&path).unwrap();
        s.create_run(&run("r1", "2026-11-21T06:00:00.000Z"))
            .unwrap();
        s.put_task(task("r1", 0, "a", json!({"x": 1}))).unwrap();
    }
    let s = SqliteStorage::open(&path).unwrap();
    assert_eq!(s.tasks("r1").unwrap()[0].output.value(), json!({"x": 1}));
    s.integrity_check().unwrap();
    let copy = dir.path().join("backup.db");
    s.backup_to(&copy).unwrap();
    let b = SqliteStorage::open(&copy).unwrap();
    assert_eq!(b.runs().unwrap().len(), 1);
    assert_eq!(b.tasks("r1").unwrap().len(), 1);
}

/// The WAL is preallocated for a new log and kept when the log closes (commits then overwrite
/// it instead of growing it); the database file alone is complete after a close, and a WAL
/// that exists (another connection's, holding commits) is never overwritten.
#[test]
fn sqlite_wal_is_preallocated_kept_and_never_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let wal = dir.path().join("log.db-wal");
    let first = SqliteStorage::open(&path).unwrap();
    let preallocated = std::fs::metadata(&wal).unwrap().len();
    assert!(preallocated >= 4_000_000, "{preallocated}");
    first
        .create_run(&run("r1", "2026-11-21T06:00:00.000Z"))
        .unwrap();
    for i in 0..50 {
        first
            .put_task(task("r1", i, &format!("t{i}"), json!({"i": i})))
            .unwrap();
    }
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), preallocated);
    // A second connection while the first holds commits in the WAL.
    let second = SqliteStorage::open(&path).unwrap();
    assert_eq!(second.tasks("r1").unwrap().len(), 50);
    drop(second);
    drop(first);
    assert!(wal.exists(), "the WAL is kept on close");
    // The database file alone holds everything: checkpointed on close.
    let alone = dir.path().join("alone.db");
    std::fs::copy(&path, &alone).unwrap();
    let copy = SqliteStorage::open(&alone).unwrap();
    copy.integrity_check().unwrap();
    assert_eq!(copy.tasks("r1").unwrap().len(), 50);
    let reopened = SqliteStorage::open(&path).unwrap();
    reopened.integrity_check().unwrap();
    assert_eq!(
        reopened.tasks("r1").unwrap()[49].output.value(),
        json!({"i": 49})
    );
}

#[test]
fn sqlite_bad_files_give_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(
        &corrupt,
        b"this is not an SQLite database, just text. ".repeat(200),
    )
    .unwrap();
    let err = SqliteStorage::open(&corrupt).unwrap_err().to_string();
    assert!(err.contains("corrupt.db"), "{err}");
    assert!(err.starts_with("cannot "), "{err}");
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        b"this is not an SQLite database, just text. ".repeat(200),
        "the file is left as it was"
    );

    let missing_dir = dir.path().join("no/such/dir/log.db");
    let err = SqliteStorage::open(&missing_dir).unwrap_err().to_string();
    assert!(
        err.contains("cannot open the database in") && err.contains("no/such/dir/log.db"),
        "{err}"
    );
}

/// A log whose pages were damaged (a disk error, a bad copy): the damage is reported with the
/// file and the operation, and tasknet's own reads and checks leave the file as it was.
#[test]
fn sqlite_damaged_pages_are_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.db");
    {
        let s = SqliteStorage::open(&path).unwrap();
        for r in 0..3 {
            let id = format!("r{r}");
            s.create_run(&run(&id, "2026-11-21T06:00:00.000Z")).unwrap();
            s.put_tasks(
                (0..200)
                    .map(|i| task(&id, i, &format!("t{i}"), json!({"text": "x".repeat(300)})))
                    .collect(),
            )
            .unwrap();
        }
    }
    // The file alone (a copy without its WAL), then garbage over its last pages, where the
    // task records are; the header and the schema stay.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    assert!(len > 16 * 4096, "{len}");
    for (i, b) in bytes[len - 8 * 4096..].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();

    let s = SqliteStorage::open(&path).unwrap();
    let err = s.integrity_check().unwrap_err().to_string();
    assert!(err.contains("damaged.db"), "{err}");
    let read = (0..3)
        .map(|r| s.tasks(&format!("r{r}")))
        .find_map(Result::err)
        .expect("reading the damaged records fails")
        .to_string();
    assert!(
        read.contains("damaged.db") && read.starts_with("cannot "),
        "names the file and the operation: {read}"
    );
    drop(s);
    assert!(
        std::fs::read(&path).unwrap() == bytes,
        "opening, checking and reading never write to a damaged log"
    );
}

#[cfg(unix)]
#[test]
fn sqlite_read_only_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    {
        let s = SqliteStorage::open(&path).unwrap();
        s.create_run(&run("r1", "2026-11-21T06:00:00.000Z"))
            .unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    // root ignores permissions: only check when they bite.
    let writable = std::fs::write(dir.path().join("probe"), b"x").is_ok();
    let result = SqliteStorage::open(&path).and_then(|s| s.create_run(&run("r2", "t")));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    if !writable {
        let err = result.unwrap_err().to_string();
        assert!(err.contains("log.db"), "{err}");
    }
    // Earlier rows are intact.
    assert!(
        SqliteStorage::open(&path)
            .unwrap()
            .run("r1")
            .unwrap()
            .is_some()
    );
}

/// `storage::open(url)`: what `App`'s `--db` and the CLI take. A path or `sqlite:` is an SQLite
/// file, `memory:` a log in memory; a scheme tasknet does not have is refused by name.
#[test]
fn logs_open_from_a_url_or_a_path() {
    use tasknet_runtime::storage::{LogLocation, open};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let shown = path.display().to_string();
    for url in [
        shown.clone(),
        format!("sqlite:{shown}"),
        format!("sqlite://{shown}"),
    ] {
        assert_eq!(
            LogLocation::parse(&url).unwrap(),
            LogLocation::Sqlite(path.clone()),
            "{url}"
        );
    }
    assert_eq!(LogLocation::parse("memory:").unwrap(), LogLocation::Memory);
    let log = open(&format!("sqlite:{shown}")).unwrap();
    log.create_run(&run("r1", "2026-01-01T00:00:00Z")).unwrap();
    drop(log);
    assert_eq!(
        open(&shown).unwrap().runs().unwrap().len(),
        1,
        "the same file"
    );
    let memory = open("memory:").unwrap();
    assert!(
        memory.describe().contains("memory"),
        "{}",
        memory.describe()
    );
    for (url, says) in [
        (
            "redis://:hunter2@localhost/0",
            "`redis://` logs are not supported",
        ),
        ("", "empty"),
    ] {
        let error = open(url).err().unwrap().to_string();
        assert!(error.contains(says), "{url}: {error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
    // A server database: its password is never shown, nor debug-printed.
    let url = "postgres://tasks:hunter2@db.example:5433/runs?sslmode=require";
    let location = LogLocation::parse(url).unwrap();
    assert!(matches!(location, LogLocation::Postgres(_)), "{location:?}");
    assert_eq!(
        location.to_string(),
        "postgres://tasks@db.example:5433/runs"
    );
    assert!(!format!("{location:?}").contains("hunter2"));
    assert!(matches!(
        LogLocation::parse("postgresql://localhost/runs").unwrap(),
        LogLocation::Postgres(_)
    ));
}

/// A PostgreSQL log that cannot be reached fails after its patience, saying why and where,
/// without the password.
#[cfg(feature = "postgres")]
#[test]
fn an_unreachable_postgres_log_fails_saying_why() {
    use tasknet_runtime::{PostgresOptions, PostgresStorage};
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let options = PostgresOptions {
        reconnect_for: std::time::Duration::from_millis(300),
        ..PostgresOptions::default()
    };
    let url = format!("postgres://tasks:hunter2@127.0.0.1:{port}/runs");
    let error = PostgresStorage::connect_with(&url, options)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("postgres://tasks@127.0.0.1:{port}/runs")),
        "{error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

/// `runs_page` (what `GET /runs` serves): newest first, runs that started at the same instant
/// ordered by id, each run on exactly one page, the same on every store.
#[test]
fn pages_of_runs_cover_the_log_once_newest_first() {
    for (name, s, _dir) in stores() {
        let mut ids = Vec::new();
        for i in 0..25 {
            // Three runs per instant: ties are common on a busy server.
            let id = format!("run-{:02}", (i * 7) % 25);
            s.create_run(&run(&id, &format!("2026-12-02T00:00:{:02}Z", i / 3)))
                .unwrap();
            ids.push((format!("2026-12-02T00:00:{:02}Z", i / 3), id));
        }
        ids.sort();
        ids.reverse();
        let expected: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = s.runs_page(cursor.as_ref(), 4).unwrap();
            assert!(page.len() <= 4, "{name}");
            let Some(last) = page.last() else { break };
            cursor = Some(tasknet_runtime::storage::RunCursor::after(last));
            seen.extend(page.into_iter().map(|r| r.id));
        }
        assert_eq!(seen, expected, "{name}");
    }
}

/// A log written before tasks recorded their LLM use (schema 1) is read as it is when opened
/// read-only, and migrated (the new column added, nothing lost) when opened to write.
#[test]
fn sqlite_schema_1_logs_are_read_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, registry TEXT NOT NULL, source_hash TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, inputs TEXT NOT NULL, parent_run TEXT REFERENCES runs(id) ON DELETE SET NULL, replay_task TEXT, replay_mode TEXT, error TEXT);
             CREATE TABLE task_outputs (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, task_index INTEGER NOT NULL, task_name TEXT NOT NULL, expected_output TEXT NOT NULL, inputs TEXT NOT NULL, output TEXT NOT NULL, status TEXT NOT NULL, error_kind TEXT, error TEXT, was_replayed INTEGER NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL, duration_ms REAL NOT NULL, attempts INTEGER NOT NULL, PRIMARY KEY (run_id, task_name)) WITHOUT ROWID;
             INSERT INTO runs VALUES ('r1', 'tasks', 'abc', '2026-11-21T06:00:00.000Z', NULL, 'running', '{}', NULL, NULL, NULL, NULL);
             INSERT INTO task_outputs VALUES ('r1', 0, 'a', 'x', '{}', '{\"x\":1}', 'succeeded', NULL, NULL, 0, 't0', 't1', 1.0, 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let read = SqliteStorage::open_read_only(&path).unwrap();
    let tasks = read.tasks("r1").unwrap();
    assert_eq!(tasks[0].output.value(), json!({"x": 1}));
    assert_eq!(tasks[0].llm, None);
    drop(read);
    let version = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&path), 1, "reading left it alone");
    let log = SqliteStorage::open(&path).unwrap();
    assert_eq!(version(&path), 2);
    assert_eq!(log.tasks("r1").unwrap()[0].task_name, "a");
    let with_llm = TaskRecord {
        llm: Some(LlmUsage {
            model: "m".into(),
            calls: 1,
            prompt_tokens: 5,
            completion_tokens: 6,
            llm_ms: 7.0,
        }),
        ..task("r1", 1, "b", json!({}))
    };
    log.put_task(with_llm.clone()).unwrap();
    assert_eq!(log.tasks("r1").unwrap()[1], with_llm);
}
