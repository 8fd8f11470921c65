//! The WebSocket load generator against a task server running a no-op task named `noop`,
//! shared by `tasknet-compare ws-load` (every server of bench/compare) and
//! `cargo bench --bench server` (which includes this file): sequential round trips on one
//! connection, many connections with tasks in flight, a fresh connection per task, and the
//! loopback's own floor.

use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// No `run_id`: each task is a run of its own, which the server starts (a run id of the
/// client's choosing is refused).
pub const REQUEST: &str =
    r#"{"type":"execute_task","id":"1","data":{"task_name":"noop","input_data":{}}}"#;

pub async fn connect(url: &str) -> Socket {
    // Nagle off on the client too, as browsers do for WebSockets; a small read buffer, since
    // tungstenite zeroes the whole buffer (128 KiB by default) before every read, and the
    // client shares the machine's two cores with the server.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024);
    tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
        .0
}

/// One task: send, then read until `task_completed`.
pub async fn round_trip(ws: &mut Socket) {
    ws.send(Message::Text(REQUEST.into())).await.unwrap();
    loop {
        let reply = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
        match reply.expect("a reply within 30 s").unwrap().unwrap() {
            Message::Text(t) if t.as_str().contains("task_completed") => return,
            Message::Text(t) if t.as_str().contains("task_error") => panic!("{t}"),
            _ => {}
        }
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// p50 and p99 in µs of `n` sequential round trips on one connection, after up to 500 to
/// warm up.
pub async fn sequential(url: &str, n: usize) -> (f64, f64) {
    let mut ws = connect(url).await;
    for _ in 0..n.min(500) {
        round_trip(&mut ws).await;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        round_trip(&mut ws).await;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.50), percentile(&times, 0.99))
}

/// Tasks per second over `connections`, each with 8 tasks in flight until `per_connection`
/// have completed; each connection sends a new request per completed task.
pub async fn throughput(url: &str, connections: usize, per_connection: usize) -> f64 {
    let mut sockets = Vec::new();
    for _ in 0..connections {
        sockets.push(connect(url).await);
    }
    let started = Instant::now();
    let clients: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let (mut sent, mut done) = (0, 0);
                while sent < 8.min(per_connection) {
                    ws.send(Message::Text(REQUEST.into())).await.unwrap();
                    sent += 1;
                }
                while done < per_connection {
                    // Requests for the replies already read go out in one write: flushed only
                    // when no further reply is waiting (a pipelining client; the server does
                    // the same with its replies).
                    let reply = match ws.next().now_or_never() {
                        Some(reply) => reply,
                        None => {
                            ws.flush().await.unwrap();
                            ws.next().await
                        }
                    };
                    if let Message::Text(t) = reply.unwrap().unwrap()
                        && t.as_str().contains("task_completed")
                    {
                        done += 1;
                        if sent < per_connection {
                            ws.feed(Message::Text(REQUEST.into())).await.unwrap();
                            sent += 1;
                        }
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    (connections * per_connection) as f64 / started.elapsed().as_secs_f64()
}

/// µs per task with a new connection for each, as the seed's `logica` does.
pub async fn fresh(url: &str, n: usize) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        let mut ws = connect(url).await;
        round_trip(&mut ws).await;
        let _ = ws.close(None).await;
    }
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// The machine's floor for a round trip: the p50 in µs of `n` 100-byte echoes over loopback
/// TCP (Nagle off), by a task on the same runtime, without WebSocket or any server.
pub async fn tcp_round_trip_p50(n: usize) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        socket.set_nodelay(true).unwrap();
        let mut buf = [0u8; 100];
        while socket.read_exact(&mut buf).await.is_ok() {
            socket.write_all(&buf).await.unwrap();
        }
    });
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    let mut buf = [0u8; 100];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        client.write_all(&buf).await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(client);
    let _ = echo.await;
    median(times)
}
