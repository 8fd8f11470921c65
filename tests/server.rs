//! The WebSocket task server: the seed's protocol, the log, and bad input (each a test). A
//! loopback server on a free port per test; every wait is bounded.

mod server_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server_support::*;
use tasknet::TaskStatus;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_tasks_by_name_and_logs_a_browser_run() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect(server.addr, "", Some("http://localhost:6308"))
        .await
        .unwrap();
    let run_a = start_run(&mut ws).await;
    let (started, done) = execute(
        &mut ws,
        "1",
        "research",
        json!({ "topic": "mangoes" }),
        Some(run_a.as_str()),
    )
    .await;
    assert_eq!(
        started,
        json!({ "type": "task_started", "id": "1", "data": { "task_name": "research" } })
    );
    assert_eq!(done["type"], "task_completed", "{done}");
    assert_eq!(done["id"], "1");
    let result = &done["data"]["result"];
    assert_eq!(result["notes"], "notes on mangoes");
    assert_eq!(result["sources"], 3);
    assert_eq!(result["topic"], "mangoes");
    assert_eq!(result["current_task"], "research");
    // The token's state goes on to the next task, log included.
    let (_, done) = execute(&mut ws, "2", "write", result.clone(), Some(run_a.as_str())).await;
    assert_eq!(done["type"], "task_completed", "{done}");
    let result = &done["data"]["result"];
    assert_eq!(result["article"], "notes on mangoes (mangoes)");
    let log: Vec<&str> = result["execution_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["task"].as_str().unwrap())
        .collect();
    assert_eq!(log, ["research", "write"]);
    // One run in the log, by the browser's run id, with both records.
    let run = server.log.run(&run_a).unwrap().unwrap();
    assert_eq!(run.inputs, json!({ "topic": "mangoes" }));
    let records = server.log.tasks(&run_a).unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.status == TaskStatus::Succeeded));
    // ping and list_tasks
    send(&mut ws, json!({ "type": "ping", "id": 7 })).await;
    assert_eq!(
        receive(&mut ws).await,
        json!({ "type": "pong", "id": 7, "data": {} })
    );
    send(&mut ws, json!({ "type": "list_tasks" })).await;
    let tasks = receive(&mut ws).await;
    assert_eq!(tasks["type"], "tasks");
    assert_eq!(tasks["data"]["registry"], "server_test");
    assert_eq!(tasks["data"]["tasks"][1]["depends_on"], json!(["research"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_tasks_run_at_once_on_one_connection() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let started = std::time::Instant::now();
    for (id, ms) in [("slow", "400"), ("fast", "10")] {
        send(&mut ws, json!({ "type": "execute_task", "id": id, "data": { "task_name": "sleepy", "input_data": { "topic": ms } } })).await;
    }
    let mut finished = Vec::new();
    while finished.len() < 2 {
        let message = receive(&mut ws).await;
        if message["type"] == "task_completed" {
            finished.push(message["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        finished,
        ["fast", "slow"],
        "the fast task did not wait for the slow one"
    );
    assert!(started.elapsed() < Duration::from_millis(1400));
}

/// A client that leaves while its task runs: the task still finishes and is in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_client_left_still_finishes_and_is_logged() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let run = start_run(&mut ws).await;
    send(&mut ws, json!({ "type": "execute_task", "id": "gone", "data": { "task_name": "sleepy", "input_data": { "topic": "300" }, "run_id": run } })).await;
    assert_eq!(receive(&mut ws).await["type"], "task_started");
    drop(ws);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let records = server.log.tasks(&run).unwrap();
        if let Some(record) = records.first() {
            assert_eq!(record.status, TaskStatus::Succeeded);
            assert_eq!(&*record.task_name, "sleepy");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no record of the task"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client that pipelines: 600 requests written at once (more than the server answers in one
/// write, more tasks than may run at once), quick tasks, pings, a bad one and tasks that wait,
/// mixed. Every request gets its answer (none `busy`: the connection waits for a slot), each
/// task its `task_started` before its result, and the requests the connection answers itself
/// (pings, errors, starts) come in the order they were sent; task results come as tasks end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_all_answered_in_order() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    for i in 0..600 {
        let id = format!("r{i}");
        let request = match i % 6 {
            0 => json!({ "type": "ping", "id": id }),
            1 => json!({ "type": "nonsense", "id": id }),
            5 if i % 60 == 5 => {
                json!({ "type": "execute_task", "id": id, "data": { "task_name": "sleepy", "input_data": { "topic": "20" } } })
            }
            _ => {
                json!({ "type": "execute_task", "id": id, "data": { "task_name": "research", "input_data": { "topic": format!("t{i}") } } })
            }
        };
        ws.feed(Message::Text(request.to_string().into()))
            .await
            .unwrap();
    }
    ws.flush().await.unwrap();
    let mut started = std::collections::HashSet::new();
    let mut in_order = Vec::new();
    let mut completed = std::collections::HashSet::new();
    let mut slept = 0;
    while completed.len() + slept < 400 || in_order.len() < 600 {
        let message = receive(&mut ws).await;
        let id = message["id"].as_str().unwrap().to_owned();
        match message["type"].as_str().unwrap() {
            "task_started" => {
                assert!(started.insert(id.clone()), "started twice");
                in_order.push(id);
            }
            "task_completed" if message["data"]["task_name"] == "sleepy" => {
                assert!(started.contains(&id), "{id}: completed before started");
                assert_eq!(message["data"]["result"]["slept"], 20);
                slept += 1;
            }
            "task_completed" => {
                assert!(started.contains(&id), "{id}: completed before started");
                let n = &id[1..];
                assert_eq!(message["data"]["result"]["notes"], format!("notes on t{n}"));
                assert!(completed.insert(id), "completed twice");
            }
            "pong" | "error" => in_order.push(id),
            other => panic!("unexpected {other}: {message}"),
        }
    }
    let sent_order: Vec<String> = (0..600).map(|i| format!("r{i}")).collect();
    assert_eq!(in_order, sent_order);
    assert_eq!(slept, 10);
    assert_eq!(completed.len(), 390);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_error_frame_and_the_connection_stays_up() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    ws.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(receive(&mut ws).await["data"]["error"]["kind"], "bad_json");
    send(&mut ws, json!({ "type": "dance", "id": "x" })).await;
    let reply = receive(&mut ws).await;
    assert_eq!(reply["data"]["error"]["kind"], "unknown_type");
    assert_eq!(reply["id"], "x");
    let (reply, _) = execute(&mut ws, "u", "reserch", json!({}), None).await;
    assert_eq!(reply["type"], "task_error");
    assert_eq!(reply["data"]["error"]["kind"], "unknown_task");
    // Unknown fields and wrong types are named.
    let (_, reply) = execute(
        &mut ws,
        "f",
        "write",
        json!({ "topic": 5, "notez": "x", "extra": 1 }),
        None,
    )
    .await;
    assert_eq!(reply["data"]["error"]["kind"], "bad_input", "{reply}");
    let message = reply["data"]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`notez`") && message.contains("`extra`") && message.contains("topic"),
        "{message}"
    );
    // Missing required fields are named.
    let (_, reply) = execute(&mut ws, "m", "write", json!({}), None).await;
    assert_eq!(reply["data"]["error"]["kind"], "missing_fields");
    let message = reply["data"]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`notes`") && message.contains("`topic`"),
        "{message}"
    );
    let (_, reply) = execute(&mut ws, "n", "research", json!([1, 2]), None).await;
    assert_eq!(reply["data"]["error"]["kind"], "bad_input");
    // A failing task: an error frame, the run marked failed in the log.
    let run_b = start_run(&mut ws).await;
    let (_, reply) = execute(
        &mut ws,
        "b",
        "broken",
        json!({ "topic": "t" }),
        Some(run_b.as_str()),
    )
    .await;
    assert_eq!(reply["type"], "task_error");
    assert_eq!(reply["data"]["error"]["kind"], "failed");
    assert!(
        reply["data"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the broken task broke")
    );
    assert_eq!(
        server.log.run(&run_b).unwrap().unwrap().status,
        tasknet::RunStatus::Failed
    );
    // Still serving, on this connection and on a new one.
    let (_, done) = execute(&mut ws, "ok", "research", json!({ "topic": "t" }), None).await;
    assert_eq!(done["type"], "task_completed");
    let mut other = connect(server.addr, "", None).await.unwrap();
    let (_, done) = execute(&mut other, "ok", "research", json!({ "topic": "t" }), None).await;
    assert_eq!(done["type"], "task_completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused_before_the_upgrade() {
    let server = start(ServerConfig {
        extra_origins: vec!["https://app.example".to_owned()],
        ..Default::default()
    })
    .await;
    for origin in [
        "https://evil.example",
        "http://localhost.evil.example",
        "null",
        "http://127.0.0.1.nip.io:80",
    ] {
        let err = connect(server.addr, "", Some(origin)).await.unwrap_err();
        assert!(err.contains("403"), "{origin}: {err}");
    }
    for origin in [
        "http://localhost",
        "http://localhost:3000",
        "https://127.0.0.1:8443",
        "http://[::1]:9000",
        "https://app.example",
    ] {
        connect(server.addr, "", Some(origin))
            .await
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_when_set_is_required() {
    let server = start(ServerConfig {
        token: Some("s3cret".to_owned()),
        ..Default::default()
    })
    .await;
    // In the URL.
    let mut ws = connect(server.addr, "?token=s3cret", None).await.unwrap();
    let (_, done) = execute(&mut ws, "1", "research", json!({ "topic": "t" }), None).await;
    assert_eq!(done["type"], "task_completed");
    // As a first message.
    let mut ws = connect(server.addr, "", None).await.unwrap();
    send(&mut ws, json!({ "type": "auth", "token": "s3cret" })).await;
    assert_eq!(receive(&mut ws).await["type"], "authenticated");
    let (_, done) = execute(&mut ws, "1", "research", json!({ "topic": "t" }), None).await;
    assert_eq!(done["type"], "task_completed");
    // Wrong or missing: an error, then the connection closes; no task runs.
    for query in ["?token=wrong", ""] {
        let mut ws = connect(server.addr, query, None).await.unwrap();
        let (reply, _) = execute(
            &mut ws,
            "1",
            "research",
            json!({ "topic": "t" }),
            Some("never"),
        )
        .await;
        assert_eq!(reply["data"]["error"]["kind"], "unauthorized");
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap();
        assert!(
            matches!(next, None | Some(Ok(Message::Close(_))) | Some(Err(_))),
            "{next:?}"
        );
    }
    assert!(server.log.run("never").unwrap().is_none());
}

/// The server reads 8 KiB at a time; frames far larger (under the limit) arrive whole, both
/// ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_larger_than_a_read_arrive_whole() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    // 150 KB: far over a read, under the 256 KiB a request may store.
    let topic = "mango ".repeat(25_000);
    let (started, done) =
        execute(&mut ws, "big", "research", json!({ "topic": topic }), None).await;
    assert_eq!(started["type"], "task_started", "{started}");
    assert_eq!(done["type"], "task_completed");
    assert_eq!(done["data"]["result"]["topic"], topic.as_str());
    assert_eq!(
        done["data"]["result"]["notes"],
        format!("notes on {topic}").as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_frame_size_time_and_concurrency() {
    let server = start(ServerConfig {
        max_message_bytes: 4096,
        task_timeout: Duration::from_millis(200),
        max_concurrent_tasks: 1,
        ..Default::default()
    })
    .await;
    // Over the frame limit: the connection is closed, the server keeps serving.
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let big = "x".repeat(10_000);
    let _ = ws
        .send(Message::Text(
            json!({ "type": "ping", "data": big }).to_string().into(),
        ))
        .await;
    let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert!(!matches!(next, Some(Ok(Message::Text(_)))), "{next:?}");
    // A task past its time limit: the reply says so, and so does the log, whose run is
    // finished (it once stayed `running`, with no record of the task).
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let run_late = start_run(&mut ws).await;
    let (_, reply) = execute(
        &mut ws,
        "t",
        "sleepy",
        json!({ "topic": "2000" }),
        Some(run_late.as_str()),
    )
    .await;
    assert_eq!(reply["data"]["error"]["kind"], "timeout", "{reply}");
    let records = server.log.tasks(&run_late).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, TaskStatus::Failed);
    assert_eq!(records[0].error_kind.as_deref(), Some("timeout"));
    let run = server.log.run(&run_late).unwrap().unwrap();
    assert_eq!(run.status, tasknet::RunStatus::Failed);
    // One task at a time: the second gets `busy` while the first runs (after waiting half a
    // second for the slot).
    let server = start(ServerConfig {
        task_timeout: Duration::from_secs(5),
        max_concurrent_tasks: 1,
        ..Default::default()
    })
    .await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    send(&mut ws, json!({ "type": "execute_task", "id": "a", "data": { "task_name": "sleepy", "input_data": { "topic": "1500" } } })).await;
    assert_eq!(receive(&mut ws).await["type"], "task_started");
    let (reply, _) = execute(&mut ws, "b", "sleepy", json!({ "topic": "1" }), None).await;
    assert_eq!(reply["data"]["error"]["kind"], "busy", "{reply}");
    assert_eq!(receive(&mut ws).await["type"], "task_completed");
    let (_, done) = execute(&mut ws, "c", "sleepy", json!({ "topic": "1" }), None).await;
    assert_eq!(done["type"], "task_completed");
}

/// With a token, every route but `/healthz` needs it (header or query), the log included:
/// it holds every task's inputs and outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_route_but_healthz_needs_the_token() {
    let server = start(ServerConfig {
        token: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    let mut ws = connect(server.addr, "?token=s3cret", None).await.unwrap();
    let run_p = start_run(&mut ws).await;
    execute(
        &mut ws,
        "1",
        "research",
        json!({ "topic": "t" }),
        Some(run_p.as_str()),
    )
    .await;
    let host = server.addr.to_string();
    for path in [
        "/",
        "/net.json",
        "/inputs.json",
        "/runs",
        &format!("/runs/{run_p}"),
        "/nope",
    ] {
        let without = http_request(server.addr, path, &[("Host", &host)]).await;
        assert_eq!(without.0, 401, "{path}");
        assert!(!without.1.contains("notes on t"), "{path} leaked the log");
        let wrong = http_request(
            server.addr,
            path,
            &[("Host", &host), ("Authorization", "Bearer s3cre")],
        )
        .await;
        assert_eq!(wrong.0, 401, "{path}");
        let by_header = http_request(
            server.addr,
            path,
            &[("Host", &host), ("Authorization", "Bearer s3cret")],
        )
        .await;
        let by_query = http_get(server.addr, &format!("{path}?token=s3cret")).await;
        let expected = if path == "/nope" { 404 } else { 200 };
        assert_eq!(by_header.0, expected, "{path}");
        assert_eq!(by_query.0, expected, "{path}");
    }
    let (_, runs) = http_get(server.addr, "/runs?token=s3cret").await;
    assert!(runs.contains(&run_p), "{runs}");
    assert_eq!(
        http_get(server.addr, "/healthz").await,
        (200, "ok".to_owned())
    );
}

/// A web page whose DNS name is rebound to 127.0.0.1 sends its own name as `Host`: 403 on
/// every route, the WebSocket's included; local names and addresses are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_header_is_refused_on_every_route() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let run_r = start_run(&mut ws).await;
    execute(
        &mut ws,
        "1",
        "research",
        json!({ "topic": "t" }),
        Some(run_r.as_str()),
    )
    .await;
    let port = server.addr.port();
    let evil = format!("evil.example:{port}");
    for path in [
        "/",
        "/net.json",
        "/inputs.json",
        "/runs",
        &format!("/runs/{run_r}"),
        "/healthz",
        "/nope",
    ] {
        let (status, body) = http_request(server.addr, path, &[("Host", &evil)]).await;
        assert_eq!(status, 403, "{path}");
        assert!(!body.contains(&run_r), "{path} leaked the log");
        let local = format!("localhost:{port}");
        assert_eq!(
            http_request(server.addr, path, &[("Host", &local)]).await.0,
            if path == "/nope" { 404 } else { 200 },
            "{path}"
        );
    }
    let upgrade = http_request(
        server.addr,
        "/",
        &[
            ("Host", &evil),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
    )
    .await;
    assert_eq!(upgrade.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_serves_the_page_the_net_and_the_log() {
    let mut server = start(ServerConfig::default()).await;
    let (status, page) = http_get(server.addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("<title>tasknet runner</title>"));
    let (status, net) = http_get(server.addr, "/net.json").await;
    assert_eq!(status, 200);
    let net: Value = serde_json::from_str(&net).unwrap();
    assert_eq!(net["nome"], "server_test");
    assert_eq!(
        http_get(server.addr, "/healthz").await,
        (200, "ok".to_owned())
    );
    let mut ws = connect(server.addr, "", None).await.unwrap();
    let run_h = start_run(&mut ws).await;
    execute(
        &mut ws,
        "1",
        "research",
        json!({ "topic": "t" }),
        Some(run_h.as_str()),
    )
    .await;
    let (status, runs) = http_get(server.addr, "/runs").await;
    assert_eq!(status, 200);
    let runs: Value = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs["runs"][0]["id"], run_h);
    assert_eq!(runs["next"], Value::Null);
    let (status, run) = http_get(server.addr, &format!("/runs/{run_h}")).await;
    assert_eq!(status, 200);
    let run: Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["tasks"][0]["task_name"], "research");
    assert_eq!(http_get(server.addr, "/runs/nope").await.0, 404);
    // Graceful shutdown: a running task finishes and is logged before the server returns.
    let run_s = start_run(&mut ws).await;
    send(&mut ws, json!({ "type": "execute_task", "id": "s", "data": { "task_name": "sleepy", "input_data": { "topic": "300" }, "run_id": run_s } })).await;
    assert_eq!(receive(&mut ws).await["type"], "task_started");
    server.stop.take().unwrap().send(()).unwrap();
    let done = receive(&mut ws).await;
    assert_eq!(done["type"], "task_completed", "{done}");
    tokio::time::timeout(Duration::from_secs(10), server.done)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(server.log.tasks(&run_s).unwrap().len(), 1);
}

/// xorshift64: reproducible noise without a dependency.
fn noise(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A valid request must still get its answer. While abusers' tasks hold every slot, `busy`
/// is the documented answer: the server must come back to serving within 15 s.
async fn still_serves(addr: std::net::SocketAddr, after: &str) {
    let mut ws = connect(addr, "", None)
        .await
        .unwrap_or_else(|e| panic!("after {after}: {e}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (first, done) = execute(
            &mut ws,
            "ok",
            "research",
            json!({ "topic": "mangoes" }),
            None,
        )
        .await;
        if first["data"]["error"]["kind"] == "busy" && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(
            done["type"], "task_completed",
            "after {after}: {first} {done}"
        );
        assert_eq!(
            done["data"]["result"]["notes"], "notes on mangoes",
            "after {after}"
        );
        return;
    }
}

/// Bounded in count and time, loopback only. After each abuse the server still answers a valid
/// `execute_task` correctly; the peak memory of the whole test process is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_abuse() {
    let server = start(ServerConfig {
        max_message_bytes: 64 * 1024,
        task_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let addr = server.addr;
    let valid = json!({ "type": "execute_task", "id": "v", "data": { "task_name": "research", "input_data": { "topic": "x" } } }).to_string();

    // 10,000 random or truncated frames over 10 connections, the replies read as they come.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..10 {
        let ws = connect(addr, "", None).await.unwrap();
        let (mut tx, mut rx) = ws.split();
        let reader = tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
        for _ in 0..1_000 {
            let frame = match noise(&mut seed) % 3 {
                0 => Message::Text(
                    valid[..(noise(&mut seed) as usize % valid.len())]
                        .to_owned()
                        .into(),
                ),
                1 => Message::Binary(
                    (0..noise(&mut seed) % 200)
                        .map(|_| noise(&mut seed) as u8)
                        .collect::<Vec<u8>>()
                        .into(),
                ),
                _ => Message::Text(
                    (0..noise(&mut seed) % 200)
                        .map(|_| char::from(b' ' + (noise(&mut seed) % 95) as u8))
                        .collect::<String>()
                        .into(),
                ),
            };
            if tx.send(frame).await.is_err() {
                break;
            }
        }
        let _ = tx.close().await;
        let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
    }
    still_serves(addr, "10,000 random or truncated frames").await;

    // A frame over the size limit.
    let mut ws = connect(addr, "", None).await.unwrap();
    let _ = ws.send(Message::Text("x".repeat(200_000).into())).await;
    still_serves(addr, "a frame over the limit").await;

    // 1,000 connections opened at once, each then used once: 512 (the limit) are served,
    // the others answered 503 at once, none hangs.
    let opened = tokio::time::timeout(
        Duration::from_secs(30),
        futures_util::future::join_all((0..1_000).map(|_| connect(addr, "", None))),
    )
    .await
    .expect("every connection answered");
    let refused = opened
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| e.contains("503")))
        .count();
    let mut sockets: Vec<Socket> = opened.into_iter().filter_map(Result::ok).collect();
    assert_eq!(sockets.len(), 512, "the connection limit");
    assert_eq!(refused, 488, "the others get 503");
    for ws in sockets.iter_mut().step_by(50) {
        let (_, done) = execute(ws, "c", "research", json!({ "topic": "t" }), None).await;
        assert_eq!(done["type"], "task_completed");
    }
    drop(sockets);
    still_serves(addr, "1,000 connections at once").await;

    // Slow clients that never read: requests keep coming, replies are never read.
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut ws = connect(addr, "", None).await.unwrap();
        for _ in 0..2_000 {
            let sent = tokio::time::timeout(
                Duration::from_millis(200),
                ws.send(Message::Text(valid.clone().into())),
            )
            .await;
            // The server stops reading a client whose replies pile up: sends then block.
            if !matches!(sent, Ok(Ok(()))) {
                break;
            }
        }
        slow.push(ws);
    }
    still_serves(addr, "slow clients that never read").await;
    drop(slow);

    // Tasks that hang past their time limit, and clients that leave mid-task.
    for i in 0..20 {
        let mut ws = connect(addr, "", None).await.unwrap();
        if i % 2 == 0 {
            send(&mut ws, json!({ "type": "execute_task", "id": "h", "data": { "task_name": "sleepy", "input_data": { "topic": "5000" } } })).await;
            drop(ws); // leaves mid-task
            continue;
        }
        for attempt in 0.. {
            let (first, reply) =
                execute(&mut ws, "h", "sleepy", json!({ "topic": "5000" }), None).await;
            // `busy` while the earlier hanging tasks hold their slots: asked again.
            if first["data"]["error"]["kind"] == "busy" && attempt < 300 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(reply["data"]["error"]["kind"], "timeout", "{first} {reply}");
            break;
        }
    }
    still_serves(addr, "hanging tasks and clients leaving mid-task").await;

    // A foreign Origin and a wrong token.
    assert!(
        connect(addr, "", Some("https://evil.example"))
            .await
            .is_err()
    );
    let guarded = start(ServerConfig {
        token: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    for _ in 0..100 {
        let mut ws = connect(guarded.addr, "?token=wrong", None).await.unwrap();
        let (reply, _) = execute(&mut ws, "w", "research", json!({ "topic": "t" }), None).await;
        assert_eq!(reply["data"]["error"]["kind"], "unauthorized");
    }
    let mut ws = connect(guarded.addr, "?token=s3cret", None).await.unwrap();
    let (_, done) = execute(&mut ws, "1", "research", json!({ "topic": "t" }), None).await;
    assert_eq!(
        done["type"], "task_completed",
        "the right token still works"
    );
    still_serves(addr, "a foreign Origin and a wrong token").await;

    let peak = peak_rss_mib();
    eprintln!("server abuse: peak resident memory of the test process {peak:.0} MiB");
    assert!(peak < 1024.0, "memory stays bounded: {peak:.0} MiB");
}
