//! The task server against a hostile client on loopback (issue 16): it keeps what it owns
//! (its inputs, its history), no slow or blocking peer stalls it, and settings that would open
//! it to anyone are refused. Each test is bounded in count and time; the ones about memory
//! print the process's peak RSS.

mod server_support;

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::json;
use server_support::*;
use tasknet::{MemoryStorage, RunStatus, Runner, Storage, TaskStatus};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

/// Finding 1: a field the server's kickoff inputs own is refused (`server_owned`) whatever
/// its value, nothing runs and nothing is logged; tasks get the server's value, and replies
/// and `/inputs.json` do not show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_set_what_the_server_owns() {
    let mut owned = serde_json::Map::new();
    owned.insert("topic".into(), json!("/srv/inbox"));
    let server = start(ServerConfig {
        server_inputs: owned,
        ..Default::default()
    })
    .await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    for value in [json!("/any/dir"), json!("/srv/inbox")] {
        let (first, _) = execute(&mut ws, "x", "research", json!({ "topic": value }), None).await;
        assert_eq!(first["data"]["error"]["kind"], "server_owned", "{first}");
        let message = first["data"]["error"]["message"].as_str().unwrap();
        assert!(message.contains("`topic`"), "{message}");
    }
    assert!(server.log.runs().unwrap().is_empty(), "nothing ran");
    let (_, done) = execute(&mut ws, "ok", "research", json!({}), None).await;
    assert_eq!(done["type"], "task_completed", "{done}");
    let result = &done["data"]["result"];
    assert_eq!(result["notes"], "notes on /srv/inbox", "the server's value");
    assert!(result.get("topic").is_none(), "{result}");
    // The next task takes the reply as it is.
    let run = done["data"]["run_id"].as_str().unwrap().to_owned();
    let (_, done) = execute(&mut ws, "w", "write", result.clone(), Some(run.as_str())).await;
    assert_eq!(done["type"], "task_completed", "{done}");
    let (status, inputs) = http_get(server.addr, "/inputs.json").await;
    assert_eq!(status, 200);
    assert!(!inputs.contains("/srv/inbox"), "{inputs}");
    // The log has the server's inputs.
    assert_eq!(
        server.log.run(&run).unwrap().unwrap().inputs["topic"],
        "/srv/inbox"
    );
}

/// Finding 2: runs are the server's. A made-up run id, a run made by the CLI in the same log,
/// and a finished run are refused (`run_not_open`) and left exactly as they were; a second
/// run of a task in a run too. A run the server started takes its tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_write_into_a_run_it_did_not_get_from_the_server() {
    let storage: std::sync::Arc<dyn Storage> = std::sync::Arc::new(MemoryStorage::new());
    let cli = Runner::new(Crew(Team))
        .shared_storage(storage.clone())
        .progress(false);
    let state = State {
        topic: Some("1".into()),
        ..State::default()
    };
    // A CLI run of the whole registry fails at `broken`: it is finished, failed.
    let cli_run = match cli.run(state).await {
        Err(tasknet::RunError::TasksFailed { run_id, .. }) => run_id,
        other => panic!("{other:?}"),
    };
    let cli_records = storage.tasks(&cli_run).unwrap();
    let server = start_on(ServerConfig::default(), storage.clone()).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let forged = json!({ "topic": "forged", "notes": "forged notes" });
    for run in ["made-up", cli_run.as_str()] {
        let (first, _) = execute(&mut ws, "f", "write", forged.clone(), Some(run)).await;
        assert_eq!(first["data"]["error"]["kind"], "run_not_open", "{first}");
    }
    assert!(storage.run("made-up").unwrap().is_none());
    assert_eq!(storage.tasks(&cli_run).unwrap(), cli_records);
    assert_eq!(
        storage.run(&cli_run).unwrap().unwrap().status,
        RunStatus::Failed
    );

    let run = start_run(&mut ws).await;
    let (_, done) = execute(
        &mut ws,
        "1",
        "research",
        json!({ "topic": "t" }),
        Some(run.as_str()),
    )
    .await;
    assert_eq!(done["type"], "task_completed", "{done}");
    let (first, _) = execute(&mut ws, "2", "research", forged.clone(), Some(run.as_str())).await;
    assert_eq!(
        first["data"]["error"]["kind"], "run_not_open",
        "a task runs once per run"
    );
    let (_, failed) = execute(
        &mut ws,
        "3",
        "broken",
        json!({ "topic": "t" }),
        Some(run.as_str()),
    )
    .await;
    assert_eq!(failed["data"]["error"]["kind"], "failed");
    let records = storage.tasks(&run).unwrap();
    assert_eq!(
        storage.run(&run).unwrap().unwrap().status,
        RunStatus::Failed
    );
    let (first, _) = execute(&mut ws, "4", "write", forged, Some(run.as_str())).await;
    assert_eq!(
        first["data"]["error"]["kind"], "run_not_open",
        "a finished run is closed"
    );
    assert_eq!(storage.tasks(&run).unwrap(), records);
    assert_eq!(
        storage.run(&run).unwrap().unwrap().status,
        RunStatus::Failed
    );
}

/// Finding 3: tasks whose code blocks their threads (more of them than there are task
/// threads) stall nothing else: `/healthz` answers at once, each blocked task is answered
/// `timeout` and recorded a second after its limit though its code never returned, and a
/// shutdown ends within the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_that_block_their_threads_stall_nothing_else() {
    let mut server = start(ServerConfig {
        task_threads: 2,
        task_timeout: Duration::from_millis(500),
        shutdown_grace: Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let started = Instant::now();
    for i in 0..3 {
        let request = json!({ "type": "execute_task", "id": format!("b{i}"), "data": { "task_name": "blocking", "input_data": { "topic": "8000" } } });
        send(&mut ws, request).await;
    }
    for _ in 0..3 {
        assert_eq!(receive(&mut ws).await["type"], "task_started");
    }
    let healthz = Instant::now();
    assert_eq!(
        http_get(server.addr, "/healthz").await,
        (200, "ok".to_owned())
    );
    assert!(
        healthz.elapsed() < Duration::from_secs(1),
        "{:?}",
        healthz.elapsed()
    );
    let mut runs = Vec::new();
    for _ in 0..3 {
        let reply = receive(&mut ws).await;
        assert_eq!(reply["data"]["error"]["kind"], "timeout", "{reply}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        runs.push(reply);
    }
    let logged = server.log.runs().unwrap();
    assert_eq!(logged.len(), 3);
    for run in &logged {
        assert_eq!(run.status, RunStatus::Failed);
        let records = server.log.tasks(&run.id).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].status, TaskStatus::Failed);
        assert_eq!(records[0].error_kind.as_deref(), Some("timeout"));
    }
    let stopping = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(3), server.done)
        .await
        .expect("the server stops within its grace period")
        .unwrap()
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(3));
}

/// Finding 4: 200 clients that send their headers a line at a time are cut off at the
/// header-read timeout; 50 WebSockets stalled half-way through a frame that declares 1 MB are
/// closed at the idle timeout; memory stays bounded (peak RSS printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_stalled_peers_are_closed() {
    let server = start(ServerConfig {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let addr = server.addr;
    let started = Instant::now();
    let slow = (0..200).map(|_| async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        // One header line every 200 ms, for ever: the server must close first.
        let dripping = async {
            for i in 0.. {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let line = format!("X-Slow-{i}: {}\r\n", "a".repeat(100));
                if tcp.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), dripping)
            .await
            .expect("closed at the header-read timeout");
    });
    futures_util::future::join_all(slow).await;
    assert!(started.elapsed() < Duration::from_secs(5));

    let started = Instant::now();
    let stalled = (0..50).map(|_| async move {
        let mut ws = raw_websocket(addr, "").await;
        ws.write_all(&frame_header(1, 1_000_000)).await.unwrap();
        ws.write_all(&vec![b'x'; 500_000]).await.unwrap();
        read_until_closed(&mut ws, Duration::from_secs(6)).await;
    });
    futures_util::future::join_all(stalled).await;
    assert!(started.elapsed() < Duration::from_secs(8));
    eprintln!(
        "peak RSS with 200 slow and 50 stalled peers: {:.0} MiB",
        peak_rss_mib()
    );
    let mut ws = connect(addr, "", None).await.unwrap();
    let (_, done) = execute(&mut ws, "ok", "research", json!({ "topic": "t" }), None).await;
    assert_eq!(done["type"], "task_completed");
}

/// Finding 4, on a server with a token: a WebSocket opened without it may send 16 KiB and
/// must send `auth` within its deadline, else it is closed (1008); a connection over the limit
/// is answered 503 at once, and the server serves again when connections close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_and_surplus_connections_are_bounded() {
    let server = start(ServerConfig {
        token: Some("s3cret".into()),
        auth_timeout: Duration::from_millis(500),
        max_connections: 20,
        ..Default::default()
    })
    .await;
    let addr = server.addr;
    // A large frame before `auth`: cut off at the budget, long before it is all read.
    let mut ws = raw_websocket(addr, "").await;
    ws.write_all(&frame_header(1, 900_000)).await.unwrap();
    let _ = ws.write_all(&vec![b'x'; 100_000]).await;
    read_until_closed(&mut ws, Duration::from_secs(3)).await;
    // Silent: closed with 1008 at the deadline.
    let mut ws = raw_websocket(addr, "").await;
    let sent = read_until_closed(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(close_code(&sent), Some(1008));
    // `auth` in time: served, large frames included.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({ "type": "auth", "token": "s3cret" })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(receive(&mut ws).await["type"], "authenticated");
    let topic = "m".repeat(100_000);
    let (_, done) = execute(&mut ws, "big", "research", json!({ "topic": topic }), None).await;
    assert_eq!(done["type"], "task_completed", "{done}");
    drop(ws);
    // 20 idle connections hold every slot: once the server has taken them in (on a loaded
    // machine its accept loop may need more than a moment), the next ones get 503 at once.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let asked = Instant::now();
        let (status, body) = http_get(addr, "/healthz").await;
        if status == 503 {
            assert!(asked.elapsed() < Duration::from_secs(2), "refused at once");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "20 idle connections never filled the server's 20 slots: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    while http_get(addr, "/healthz").await.0 != 200 {
        assert!(Instant::now() < deadline, "serving again once they closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Finding 13: protocol errors close with their code: a message over the limit 1009, text
/// that is not UTF-8 1007, an unmasked client frame 1002.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_close_with_their_code() {
    let server = start(ServerConfig {
        max_message_bytes: 4096,
        ..Default::default()
    })
    .await;
    let mut ws = raw_websocket(server.addr, "").await;
    ws.write_all(&frame_header(1, 10_000)).await.unwrap();
    let _ = ws.write_all(&[b'x'; 10_000]).await;
    let sent = read_until_closed(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(close_code(&sent), Some(1009));

    let mut ws = raw_websocket(server.addr, "").await;
    ws.write_all(&frame_header(1, 2)).await.unwrap();
    ws.write_all(&[0xff, 0xfe]).await.unwrap();
    let sent = read_until_closed(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(close_code(&sent), Some(1007));

    let mut ws = raw_websocket(server.addr, "").await;
    ws.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let sent = read_until_closed(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(close_code(&sent), Some(1002));
}

/// Finding 13: settings that open the server to anyone are refused when it binds: an empty
/// token, a `null` (or malformed) origin, a non-loopback address without a token unless
/// allowed explicitly; the page may be framed by no one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risky_settings_are_refused_and_the_page_is_never_framed() {
    let bind = |config: ServerConfig| async move {
        let runner = Runner::new(Crew(Team)).progress(false);
        Server::bind(runner, config).await.map(|_| ())
    };
    let local = || ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    for (config, expected) in [
        (
            ServerConfig {
                token: Some(String::new()),
                ..local()
            },
            "token is empty",
        ),
        (
            ServerConfig {
                token: Some("  ".into()),
                ..local()
            },
            "token is empty",
        ),
        (
            ServerConfig {
                extra_origins: vec!["null".into()],
                ..local()
            },
            "`null`",
        ),
        (
            ServerConfig {
                extra_origins: vec!["https://*.example".into()],
                ..local()
            },
            "wildcard",
        ),
        (
            ServerConfig {
                addr: "0.0.0.0:0".parse().unwrap(),
                ..local()
            },
            "no token is set",
        ),
    ] {
        let error = bind(config).await.expect_err(expected).to_string();
        assert!(error.contains(expected), "{error}");
    }
    bind(ServerConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        allow_remote_without_token: true,
        ..local()
    })
    .await
    .expect("allowed explicitly");
    bind(ServerConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        token: Some("s3cret".into()),
        ..local()
    })
    .await
    .expect("a token makes it safe");

    let server = start(ServerConfig::default()).await;
    let response = http_response(server.addr, "/").await;
    let head = response
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert!(
        head.contains("content-security-policy: frame-ancestors 'none'"),
        "{head}"
    );
}

/// Finding 5: the log stays bounded. An `input_data` over `max_input_bytes` is refused
/// (`too_large`) and nothing is stored; `GET /runs` answers a bounded page, newest first, and
/// its `next` pages through every run exactly once; retention keeps the newest finished runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_bounded_per_request_over_http_and_on_disk() {
    let server = start(ServerConfig {
        max_input_bytes: 64 * 1024,
        keep_runs: Some(30),
        retention_every: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let (first, _) = execute(
        &mut ws,
        "big",
        "research",
        json!({ "topic": "x".repeat(900_000) }),
        None,
    )
    .await;
    assert_eq!(first["type"], "task_error", "{first}");
    assert_eq!(first["data"]["error"]["kind"], "too_large");
    assert!(server.log.runs().unwrap().is_empty(), "nothing stored");

    for i in 0..40 {
        let (_, done) = execute(
            &mut ws,
            "r",
            "research",
            json!({ "topic": format!("t{i}") }),
            None,
        )
        .await;
        assert_eq!(done["type"], "task_completed");
    }
    // Each of these is a one-task run, left running (the registry has more tasks); 40 runs.
    let (status, page) = http_get(server.addr, "/runs?limit=1000").await;
    assert_eq!(status, 200);
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(
        page["runs"].as_array().unwrap().len(),
        40,
        "under the page cap of 500"
    );
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let path = if next.is_empty() {
            "/runs?limit=7".to_owned()
        } else {
            format!("/runs?limit=7&before={next}")
        };
        let (status, body) = http_get(server.addr, &path).await;
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        let runs = page["runs"].as_array().unwrap();
        assert!(runs.len() <= 7);
        seen.extend(runs.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(id) => next = id.to_owned(),
            None => break,
        }
    }
    let mut all = server.log.runs().unwrap();
    all.sort_by(|a, b| (&b.started_at, &b.id).cmp(&(&a.started_at, &a.id)));
    let all: Vec<String> = all.into_iter().map(|r| r.id).collect();
    assert_eq!(seen, all, "every run once, newest first");
    assert_eq!(http_get(server.addr, "/runs?limit=0").await.0, 400);
    assert_eq!(http_get(server.addr, "/runs?before=nope").await.0, 400);

    // Retention: running runs are kept; finished ones beyond the newest 30 go.
    for i in 0..40 {
        let (_, done) = execute(
            &mut ws,
            "b",
            "broken",
            json!({ "topic": format!("b{i}") }),
            None,
        )
        .await;
        assert_eq!(done["data"]["error"]["kind"], "failed");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let runs = server.log.runs().unwrap();
        let finished = runs
            .iter()
            .filter(|r| r.status != RunStatus::Running)
            .count();
        if finished == 30 {
            assert_eq!(runs.len(), 70, "the 40 running runs are kept");
            break;
        }
        assert!(Instant::now() < deadline, "{finished} finished runs left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
