//! What only a server database shows, on a real PostgreSQL cluster of the test's own: two
//! processes writing at once, connections killed mid-transaction, the server restarted
//! between two tasks, a newer schema refused, reading that never creates, backup with
//! pg_dump, TLS to a server with a private certificate authority.
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tasknet_runtime::storage::open_read_only;
use tasknet_runtime::{
    PostgresOptions, PostgresStorage, RunRecord, RunStatus, Storage, TaskRecord, TaskStatus,
};
use tasknet_testkit::postgres::Cluster;

fn run(id: &str) -> RunRecord {
    RunRecord {
        id: id.to_owned(),
        registry: "tasks".to_owned(),
        source_hash: "abc".to_owned(),
        started_at: tasknet_runtime::now_rfc3339(),
        finished_at: None,
        status: RunStatus::Running,
        inputs: json!({"topic": "mangoes"}),
        parent_run: None,
        replay_task: None,
        replay_mode: None,
        error: None,
    }
}

fn task(run_id: &str, index: usize) -> TaskRecord {
    TaskRecord {
        run_id: run_id.to_owned(),
        task_index: index,
        task_name: format!("task_{index}").into(),
        expected_output: "an output".into(),
        inputs: json!({"n": index}).into(),
        output: json!({"out": index}).into(),
        status: TaskStatus::Succeeded,
        error_kind: None,
        error: None,
        was_replayed: false,
        started_at: tasknet_runtime::now_rfc3339(),
        finished_at: tasknet_runtime::now_rfc3339(),
        duration_ms: 1.0,
        attempts: 1,
        llm: None,
    }
}

/// The writer that [`two_processes_write_runs_at_once`] starts twice, as a child process.
const WRITER: &str = "TASKNET_TEST_PG_WRITER";
const RUNS_PER_WRITER: usize = 40;
const TASKS_PER_RUN: usize = 5;

#[test]
fn writer_process() {
    let Ok(spec) = std::env::var(WRITER) else {
        return; // only as a child
    };
    let (url, name) = spec.split_once(' ').unwrap();
    let log = PostgresStorage::connect(url).unwrap();
    for r in 0..RUNS_PER_WRITER {
        let id = format!("{name}-{r}");
        log.create_run(&run(&id)).unwrap();
        for t in 0..TASKS_PER_RUN {
            log.put_task(task(&id, t)).unwrap();
        }
        log.finish_run(
            &id,
            RunStatus::Succeeded,
            &tasknet_runtime::now_rfc3339(),
            None,
        )
        .unwrap();
    }
}

#[test]
fn two_processes_write_runs_at_once() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url("postgres");
    let spawned: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "writer_process", "--test-threads=1"])
                .env(WRITER, format!("{url} {name}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in spawned {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let log = PostgresStorage::connect(&url).unwrap();
    let runs = log.runs().unwrap();
    assert_eq!(runs.len(), 2 * RUNS_PER_WRITER);
    for r in &runs {
        assert_eq!(r.status, RunStatus::Succeeded, "{}", r.id);
        assert_eq!(log.tasks(&r.id).unwrap().len(), TASKS_PER_RUN, "{}", r.id);
    }
}

/// Connections killed by the server mid-transaction (`pg_terminate_backend`, as a failover or
/// an operator would): every batch is stored whole once the call returns, none in part.
#[test]
fn a_connection_killed_mid_transaction_loses_nothing_and_stores_nothing_twice() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let log = Arc::new(PostgresStorage::connect(&cluster.url("postgres")).unwrap());
    const BATCHES: usize = 30;
    const PER_BATCH: usize = 200;
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for b in 0..BATCHES {
                let id = format!("batch-{b}");
                log.create_run(&run(&id)).unwrap();
                let records = (0..PER_BATCH).map(|t| task(&id, t)).collect();
                log.put_tasks(records).unwrap();
            }
        })
    };
    let mut killed = 0;
    while !writer.is_finished() {
        let n: usize = cluster
            .sql(
                "postgres",
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'tasknet' AND pid <> pg_backend_pid()",
            )
            .unwrap()
            .parse()
            .unwrap();
        killed += n;
        std::thread::sleep(Duration::from_millis(40));
    }
    writer.join().unwrap();
    assert!(
        killed > 0,
        "no connection was killed: the test proved nothing"
    );
    for b in 0..BATCHES {
        let tasks = log.tasks(&format!("batch-{b}")).unwrap();
        assert_eq!(tasks.len(), PER_BATCH, "batch {b}");
    }
    let rows = cluster
        .sql("postgres", "SELECT count(*) FROM task_outputs")
        .unwrap();
    assert_eq!(rows, (BATCHES * PER_BATCH).to_string());
    eprintln!("killed {killed} connections while {BATCHES} batches were written");
}

/// The server stops (as a crash: `immediate`) between two tasks and comes back: the second
/// task's call waits for it, and both records are there.
#[test]
fn the_server_restarted_between_two_tasks_delays_the_second_one() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let log = PostgresStorage::connect(&cluster.url("postgres")).unwrap();
    log.create_run(&run("r")).unwrap();
    log.put_task(task("r", 0)).unwrap();
    cluster.stop();
    let cluster = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(700));
            cluster.restart();
        });
        log.put_task(task("r", 1)).unwrap();
        &cluster
    });
    assert_eq!(log.tasks("r").unwrap().len(), 2);
    assert_eq!(
        cluster
            .sql("postgres", "SELECT count(*) FROM task_outputs")
            .unwrap(),
        "2"
    );
}

/// A log written by a newer tasknet is refused, by name and version, and left as it is;
/// reading a database that holds no log creates nothing.
#[test]
fn a_newer_schema_is_refused_and_reading_never_creates() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.sql("postgres", "CREATE DATABASE empty").unwrap();
    let error = open_read_only(&cluster.url("empty"))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("holds no tasknet log"), "{error}");
    assert_eq!(
        cluster
            .sql(
                "empty",
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            )
            .unwrap(),
        "0",
        "reading created tables"
    );

    let url = cluster.url("postgres");
    let log = PostgresStorage::connect(&url).unwrap();
    log.create_run(&run("kept")).unwrap();
    drop(log);
    cluster
        .sql("postgres", "UPDATE tasknet_schema SET version = 99")
        .unwrap();
    for error in [
        PostgresStorage::connect(&url).unwrap_err().to_string(),
        open_read_only(&url).err().unwrap().to_string(),
    ] {
        assert!(
            error.contains("version 99, newer than this tasknet knows"),
            "{error}"
        );
    }
    assert_eq!(
        cluster.sql("postgres", "SELECT id FROM runs").unwrap(),
        "kept"
    );
    // Read-only opens cannot write, whatever is called.
    cluster
        .sql("postgres", "UPDATE tasknet_schema SET version = 1")
        .unwrap();
    let reader = open_read_only(&url).unwrap();
    assert_eq!(reader.runs().unwrap().len(), 1);
    let refused = reader.create_run(&run("new")).unwrap_err().to_string();
    assert!(refused.contains("read-only"), "{refused}");
}

/// Opening the same new database from many threads at once creates the schema once.
#[test]
fn concurrent_opens_create_the_schema_once() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url("postgres");
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                let options = PostgresOptions {
                    pool_size: 1,
                    ..PostgresOptions::default()
                };
                PostgresStorage::connect_with(&url, options).unwrap();
            });
        }
    });
    assert_eq!(
        cluster
            .sql("postgres", "SELECT count(*) FROM tasknet_schema")
            .unwrap(),
        "1"
    );
}

/// Backup as docs/postgres.md shows it: `pg_dump` while the log is in use, `pg_restore` into
/// another database, and the log read from there is the same.
#[test]
fn pg_dump_backs_the_log_up_and_it_restores() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let log = PostgresStorage::connect(&cluster.url("postgres")).unwrap();
    for r in 0..3 {
        let id = format!("run-{r}");
        log.create_run(&run(&id)).unwrap();
        log.put_tasks((0..4).map(|t| task(&id, t)).collect())
            .unwrap();
    }
    let dump = std::env::temp_dir().join(format!("tasknet-{}.dump", std::process::id()));
    let ran = |mut command: std::process::Command| {
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut pg_dump = cluster.program("pg_dump");
    pg_dump
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(cluster.url("postgres"));
    // In the temporary directory: as root the programs run as `postgres`, who can write there.
    ran(pg_dump);
    cluster.sql("postgres", "CREATE DATABASE restored").unwrap();
    let mut pg_restore = cluster.program("pg_restore");
    pg_restore
        .arg(format!("--dbname={}", cluster.url("restored")))
        .arg(&dump);
    ran(pg_restore);
    let _ = std::fs::remove_file(&dump);
    let restored = open_read_only(&cluster.url("restored")).unwrap();
    assert_eq!(restored.runs().unwrap(), log.runs().unwrap());
    for r in log.runs().unwrap() {
        assert_eq!(restored.tasks(&r.id).unwrap(), log.tasks(&r.id).unwrap());
    }
}

/// TLS to a server with a private certificate authority: `sslmode=require` with the CA given
/// connects over TLS (the server says so); without the CA the certificate is refused.
#[test]
fn tls_with_a_private_authority() {
    let Some(openssl) = tasknet_testkit::tool("openssl", "Debian: openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    let openssl = |args: &[&str]| {
        let out = openssl.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=tasknet test CA",
        "-keyout",
        &at("ca.key"),
        "-out",
        &at("ca.crt"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &at("server.key"),
        "-out",
        &at("server.csr"),
    ]);
    std::fs::write(at("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &at("server.csr"),
        "-CA",
        &at("ca.crt"),
        "-CAkey",
        &at("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &at("ext"),
        "-out",
        &at("server.crt"),
    ]);
    // The server reads its key only if no one else can.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(at("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::process::Command::new("chown")
        .args(["postgres", &at("server.key"), &at("server.crt")])
        .output();
    let Some(cluster) = Cluster::start_with(tasknet_testkit::postgres::ClusterOptions {
        settings: vec![
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", at("server.crt")),
            format!("ssl_key_file={}", at("server.key")),
        ],
        ..Default::default()
    }) else {
        return;
    };
    let url = format!("{}?sslmode=require", cluster.url("postgres"));
    let options = PostgresOptions {
        root_cert: Some(at("ca.crt").into()),
        ..PostgresOptions::default()
    };
    let log = PostgresStorage::connect_with(&url, options).unwrap();
    log.create_run(&run("over-tls")).unwrap();
    assert_eq!(
        cluster
            .sql(
                "postgres",
                "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'tasknet'"
            )
            .unwrap(),
        "t",
        "the log's connections are not TLS"
    );
    let untrusted = PostgresOptions {
        reconnect_for: Duration::from_millis(200),
        ..PostgresOptions::default()
    };
    let error = PostgresStorage::connect_with(&url, untrusted)
        .unwrap_err()
        .to_string();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}
