//! The CLI on hostile input (issue 16): reading a log never writes to it, damaged rows are
//! named and the rest still shown, stdout that is full or closed, oversized and malformed yaml,
//! text that would drive a terminal or a spreadsheet, and project names cargo refuses.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tasknet_runtime::{
    JsonText, RunRecord, RunStatus, SqliteStorage, Storage, TaskRecord, TaskStatus,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tasknet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tasknet"))
        .current_dir(workspace())
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn task(run_id: &str, index: usize, name: &str, error: Option<&str>) -> TaskRecord {
    TaskRecord {
        run_id: run_id.to_owned(),
        task_index: index,
        task_name: Cow::Owned(name.to_owned()),
        expected_output: Cow::Borrowed("out"),
        inputs: JsonText::from(serde_json::json!({ "topic": "t" })),
        output: JsonText::from(serde_json::json!({ "notes": "n" })),
        status: if error.is_some() {
            TaskStatus::Failed
        } else {
            TaskStatus::Succeeded
        },
        error_kind: error.map(|_| "failed".to_owned()),
        error: error.map(str::to_owned),
        was_replayed: false,
        started_at: "2026-12-02T00:00:00Z".to_owned(),
        finished_at: "2026-12-02T00:00:01Z".to_owned(),
        duration_ms: 1.0,
        attempts: 1,
        llm: None,
    }
}

/// A log with `runs`, two task records each (the second failing with `error`).
fn write_log(log: &dyn Storage, runs: &[&str], error: &str) {
    for (i, id) in runs.iter().enumerate() {
        log.create_run(&RunRecord {
            id: (*id).to_owned(),
            registry: "crew".to_owned(),
            source_hash: "0".to_owned(),
            started_at: format!("2026-12-02T00:00:0{i}Z"),
            finished_at: None,
            status: RunStatus::Running,
            inputs: serde_json::json!({}),
            parent_run: None,
            replay_task: None,
            replay_mode: None,
            error: None,
        })
        .unwrap();
        log.put_task(task(id, 0, "research", None)).unwrap();
        log.put_task(task(id, 1, "write", Some(error))).unwrap();
        log.finish_run(id, RunStatus::Failed, "2026-12-02T00:01:00Z", Some(error))
            .unwrap();
    }
}

fn bytes_of(paths: &[PathBuf]) -> Vec<Option<Vec<u8>>> {
    paths.iter().map(|p| std::fs::read(p).ok()).collect()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Finding 6: `log` and `export` open the log read-only. A log whose file was truncated while
/// its WAL still holds every run is refused by name and both files are left byte for byte; a
/// foreign SQLite file is refused and not touched (no tables added, no WAL made); a log in a
/// read-only directory can be read; a missing path is refused and not created.
#[test]
fn reading_a_log_never_writes_to_it() {
    let dir = tempfile::tempdir().unwrap();
    // A live log: its runs are still in the WAL while the writer is open.
    let live = dir.path().join("live.db");
    let writer = SqliteStorage::open(&live).unwrap();
    write_log(&writer, &["r1", "r2"], "broke");
    let damaged = dir.path().join("damaged.db");
    std::fs::write(&damaged, b"").unwrap();
    std::fs::copy(with_suffix(&live, "-wal"), with_suffix(&damaged, "-wal")).unwrap();
    drop(writer);
    let files = [
        damaged.clone(),
        with_suffix(&damaged, "-wal"),
        with_suffix(&damaged, "-shm"),
    ];
    let before = bytes_of(&files);
    assert!(
        before[1].as_ref().is_some_and(|wal| wal.len() > 4096),
        "the WAL holds the runs"
    );
    for command in [&["log"][..], &["export"][..]] {
        let mut args = command.to_vec();
        let path = damaged.display().to_string();
        args.push(&path);
        let out = tasknet(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("empty") && stderr.contains("write-ahead log"),
            "{stderr}"
        );
        assert_eq!(bytes_of(&files), before, "{args:?} changed the files");
    }

    let foreign = dir.path().join("notes.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
    }
    let files = [foreign.clone(), with_suffix(&foreign, "-wal")];
    let before = bytes_of(&files);
    let out = tasknet(&["log", &foreign.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a tasknet log"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(bytes_of(&files), before, "the foreign file was changed");

    let missing = dir.path().join("typo/x.dbb");
    let out = tasknet(&["log", &missing.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("there is no log there"),
        "{}",
        text(&out.stderr)
    );
    assert!(!missing.exists() && !dir.path().join("typo").exists());

    // A read-only directory (for a user other than root: root writes anywhere, so the CLI is
    // run as `nobody` then).
    let shelf = tempfile::Builder::new()
        .prefix("tasknet-ro-")
        .tempdir_in("/tmp")
        .unwrap();
    let kept = shelf.path().join("kept.db");
    write_log(&SqliteStorage::open(&kept).unwrap(), &["kept-run"], "broke");
    set_mode(&kept, 0o444);
    set_mode(shelf.path(), 0o555);
    let files = [
        kept.clone(),
        with_suffix(&kept, "-wal"),
        with_suffix(&kept, "-shm"),
    ];
    let before = bytes_of(&files);
    let out = as_unprivileged(&["log", &kept.display().to_string()]);
    set_mode(shelf.path(), 0o755);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("kept-run"), "{stdout}");
    assert_eq!(bytes_of(&files), before);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs the CLI as a user who cannot write what it is given: itself, or `nobody` when this
/// process is root (through util-linux's `setpriv`).
fn as_unprivileged(args: &[&str]) -> Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0");
    if !root {
        return tasknet(args);
    }
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_tasknet"))
        .args(args)
        .current_dir("/")
        .output()
        .unwrap()
}

/// Finding 8: a row that cannot be decoded is named (run, task, what is wrong), the other
/// rows are still printed and exported, and the exit code says so; `export -o FILE` replaces
/// FILE whole or not at all (a log that fails half-way leaves FILE as it was).
#[test]
fn an_undecodable_row_is_named_and_the_rest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    write_log(
        &SqliteStorage::open(&db).unwrap(),
        &["good-run", "bad-run"],
        "broke",
    );
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE task_outputs SET status = 'exploded' WHERE run_id = 'bad-run' AND task_name = 'write'",
            [],
        )
        .unwrap();
    let db_arg = db.display().to_string();
    let out = tasknet(&["log", &db_arg]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("good-run") && stdout.contains("bad-run"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("run `bad-run`, task `write`") && stderr.contains("exploded"),
        "{stderr}"
    );
    let export = dir.path().join("export.jsonl");
    let out = tasknet(&["export", &db_arg, "-o", &export.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        lines.lines().count(),
        5,
        "two runs and three readable records: {lines}"
    );

    // A log whose pages are garbage past its header: the export fails, FILE keeps its old
    // content and no temporary file is left.
    let broken = dir.path().join("broken.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let mut wal = std::fs::read(with_suffix(&db, "-wal")).unwrap_or_default();
    if bytes.len() < 8192 || !wal.is_empty() {
        // Make it one file: checkpoint into the database first.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        drop(conn);
        bytes = std::fs::read(&db).unwrap();
        wal.clear();
    }
    for b in &mut bytes[4096..] {
        *b = 0xa5;
    }
    std::fs::write(&broken, &bytes).unwrap();
    std::fs::write(&export, "the old export\n").unwrap();
    let out = tasknet(&[
        "export",
        &broken.display().to_string(),
        "-o",
        &export.display().to_string(),
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&export).unwrap(),
        "the old export\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".tasknet-export-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Finding 10: a full stdout is an error exit, never a panic or a success with nothing
/// written; a closed pipe ends quietly; `-o` onto a device writes without reading it, and a
/// huge regular file is replaced without being read whole.
#[test]
fn full_and_closed_outputs_are_handled() {
    let tasks = "examples/tropical_sales/tasks.yaml";
    for args in [
        vec!["check", tasks],
        vec!["generate", tasks],
        vec!["petri", tasks],
        vec!["graph", tasks],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tasknet"))
            .current_dir(workspace())
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to stdout"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A reader that goes away at once.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasknet"))
        .current_dir(workspace())
        .args(["generate", tasks])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    let out = tasknet(&["petri", tasks, "-o", "/dev/full"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/dev/full"),
        "{}",
        text(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("net.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    let started = Instant::now();
    let out = tasknet(&["petri", tasks, "-o", &huge.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::metadata(&huge).unwrap().len() < 1 << 20);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// Finding 11: `check` reads at most 64 MiB (`/dev/zero` is refused at once), an alias bomb
/// is refused early, and a byte that is not UTF-8 is reported at its line and column.
#[test]
fn oversized_and_malformed_yaml_is_refused_early() {
    let started = Instant::now();
    let out = tasknet(&["check", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("over 64 MiB"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.yaml");
    let mut yaml = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        yaml.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    assert!(yaml.len() < 700);
    std::fs::write(&bomb, &yaml).unwrap();
    let started = Instant::now();
    let out = tasknet(&["check", &bomb.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).to_lowercase().contains("alias"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"research:\n  description: Caf\xe9 notes.\n").unwrap();
    let out = tasknet(&["check", &latin1.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("latin1.yaml:2:19: byte 0xe9 is not UTF-8"),
        "{stderr}"
    );
}

/// Finding 12: stored text reaches a terminal with its control characters escaped (no live
/// escape sequence, no forged table line), and a CSV cell a spreadsheet would run as a
/// formula is neutralised.
#[test]
fn stored_text_cannot_drive_a_terminal_or_a_spreadsheet() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let evil_id = "r\u{1b}[2J\u{1b}[31mred\nFAKE LINE";
    write_log(
        &SqliteStorage::open(&db).unwrap(),
        &[evil_id],
        "=HYPERLINK(\"http://evil\")",
    );
    let db_arg = db.display().to_string();
    for args in [vec!["log", &db_arg], vec!["log", &db_arg, "--run", evil_id]] {
        let out = tasknet(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(!stdout.contains('\u{1b}'), "a live escape: {stdout:?}");
        assert!(
            !stdout.lines().any(|l| l.starts_with("FAKE LINE")),
            "{stdout}"
        );
        assert!(stdout.contains("\\u{1b}"), "{stdout}");
    }
    let out = tasknet(&["export", &db_arg, "--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{csv}"
    );
    assert!(
        !csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"),
        "{csv}"
    );
}

/// Finding 14: `tasknet new` refuses the names cargo refuses, and leaves nothing behind when
/// it cannot write the project.
#[test]
fn new_refuses_what_cargo_refuses_and_writes_whole_projects() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["self", "crate", "test", "std", "core", "fn", "proc-macro"] {
        let target = dir.path().join(format!("p-{name}"));
        let out = tasknet(&["new", name, "--dir", &target.display().to_string()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            text(&out.stderr).contains("cannot name a crate"),
            "{name}: {}",
            text(&out.stderr)
        );
        assert!(!target.exists(), "{name}");
    }
    let ok = dir.path().join("my-crew");
    let out = tasknet(&["new", "my-crew", "--dir", &ok.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(ok.join("src/main.rs").is_file() && ok.join("Cargo.toml").is_file());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["my-crew"], "no staging directory left");
}
