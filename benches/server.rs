//! Load generator for the WebSocket task server, on loopback against a no-op task:
//! sequential round trips on one connection (p50/p99), throughput over 16 connections, and a
//! fresh connection per task (what the seed's `logica` does); and, for scale, the machine's
//! floor: a plain TCP echo round trip on the same loopback.
//! Run: `cargo bench --bench server` (prints medians of 5 rounds each).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tasknet::server::{Server, ServerConfig};
use tasknet::{MemoryStorage, Runner, TaskContext, TaskError};
use tokio_tungstenite::tungstenite::Message;

tasknet::task_registry!(
    name = "noop",
    yaml = "noop:\n  description: Does nothing.\n  expected_output: n.\n  produces: {n: u64}\n"
);

struct NoOp;

impl Tasks for NoOp {
    async fn noop(&self, _: &TaskContext, _: NoopInput) -> Result<NoopOutput, TaskError> {
        Ok(NoopOutput { n: 1 })
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const REQUEST: &str = r#"{"type":"execute_task","id":"1","data":{"task_name":"noop","input_data":{},"run_id":"bench"}}"#;

/// One task: send, then read until `task_completed`.
async fn round_trip(ws: &mut Socket) {
    ws.send(Message::Text(REQUEST.into())).await.unwrap();
    loop {
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
        match reply.expect("a reply within 5 s").unwrap().unwrap() {
            Message::Text(t) if t.as_str().contains("task_completed") => return,
            Message::Text(t) if t.as_str().contains("task_error") => panic!("{t}"),
            _ => {}
        }
    }
}

async fn connect(url: &str) -> Socket {
    // Nagle off on the client too, as browsers do for WebSockets; a small read buffer, since
    // tungstenite zeroes the whole buffer (128 KiB by default) before every read, and the
    // client shares the machine's two cores with the server.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024);
    tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .unwrap()
        .0
}

/// The machine's floor for a round trip: 100 bytes each way over loopback TCP (Nagle off),
/// echoed by a task on the same runtime; median of 5 rounds of 5,000.
async fn tcp_round_trip_p50() -> f64 {
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
    let mut p50s = Vec::new();
    for _ in 0..5 {
        let mut times = Vec::with_capacity(5_000);
        for _ in 0..5_000 {
            let t = Instant::now();
            client.write_all(&buf).await.unwrap();
            client.read_exact(&mut buf).await.unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        p50s.push(percentile(&times, 0.50).as_secs_f64() * 1e6);
    }
    drop(client);
    let _ = echo.await;
    median(p50s)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let runner = Runner::new(Crew(NoOp))
            .storage(MemoryStorage::new())
            .progress(false);
        let server = Server::bind(
            runner,
            ServerConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                max_concurrent_tasks: 1024,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let url = format!("ws://{}/", server.local_addr());
        tokio::spawn(server.run_until(std::future::pending()));

        let tcp_floor = tcp_round_trip_p50().await;
        let (mut p50s, mut p99s, mut throughputs, mut fresh) = (vec![], vec![], vec![], vec![]);
        for _ in 0..5 {
            // Sequential round trips on one connection.
            let mut ws = connect(&url).await;
            for _ in 0..500 {
                round_trip(&mut ws).await;
            }
            let mut times = Vec::with_capacity(5_000);
            for _ in 0..5_000 {
                let t = Instant::now();
                round_trip(&mut ws).await;
                times.push(t.elapsed());
            }
            times.sort();
            p50s.push(percentile(&times, 0.50).as_secs_f64() * 1e6);
            p99s.push(percentile(&times, 0.99).as_secs_f64() * 1e6);

            // 16 connections, each with 8 tasks in flight.
            let per_connection = 4_000;
            let started = Instant::now();
            let mut clients = Vec::new();
            for _ in 0..16 {
                let url = url.clone();
                clients.push(tokio::spawn(async move {
                    let mut ws = connect(&url).await;
                    let (mut sent, mut done) = (0, 0);
                    while sent < 8 {
                        ws.send(Message::Text(REQUEST.into())).await.unwrap();
                        sent += 1;
                    }
                    while done < per_connection {
                        if let Message::Text(t) = ws.next().await.unwrap().unwrap()
                            && t.as_str().contains("task_completed")
                        {
                            done += 1;
                            if sent < per_connection {
                                ws.send(Message::Text(REQUEST.into())).await.unwrap();
                                sent += 1;
                            }
                        }
                    }
                }));
            }
            for c in clients {
                c.await.unwrap();
            }
            throughputs.push((16 * per_connection) as f64 / started.elapsed().as_secs_f64());

            // A fresh connection per task, as the seed's logica does.
            let n = 300;
            let started = Instant::now();
            for _ in 0..n {
                let mut ws = connect(&url).await;
                round_trip(&mut ws).await;
                let _ = ws.close(None).await;
            }
            fresh.push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        println!("server (no-op task, loopback, medians of 5 rounds):");
        println!(
            "  sequential round trip, one connection: p50 {:.1} us, p99 {:.1} us",
            median(p50s),
            median(p99s)
        );
        println!(
            "  floor: a 100-byte TCP echo round trip on this loopback, no WebSocket: p50 {tcp_floor:.1} us"
        );
        println!(
            "  throughput, 16 connections x 8 in flight: {:.0} tasks/s",
            median(throughputs)
        );
        println!(
            "  fresh connection per task: {:.1} us per task",
            median(fresh)
        );
    });
}
