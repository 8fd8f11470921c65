//! The task server under test: a registry with quick, slow and failing tasks, a loopback
//! server on a free port, and a WebSocket/HTTP client whose every wait is bounded.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
pub use tasknet::server::{Server, ServerConfig};
use tasknet::{MemoryStorage, Runner, Storage, TaskContext, TaskError};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

tasknet::task_registry!(
    name = "server_test",
    yaml = r#"
inputs:
  topic: String
research:
  description: Research {topic}.
  expected_output: Notes.
  requires: [topic]
  produces: {notes: String, sources: u32}
write:
  description: Write about {topic}.
  expected_output: An article.
  requires: [notes, topic]
  produces: {article: String}
sleepy:
  description: Sleeps as long as the topic says (in ms).
  expected_output: Nothing.
  requires: [topic]
  produces: {slept: u64}
blocking:
  description: Blocks its thread as long as the topic says (in ms), as blocking code does.
  expected_output: Nothing.
  requires: [topic]
  produces: {blocked: u64}
broken:
  description: Always fails.
  expected_output: Nothing.
  requires: [topic]
  produces: {never: String}
"#
);

pub struct Team;

impl Tasks for Team {
    async fn research(
        &self,
        _: &TaskContext,
        input: ResearchInput,
    ) -> Result<ResearchOutput, TaskError> {
        Ok(ResearchOutput {
            notes: format!("notes on {}", input.topic),
            sources: 3,
        })
    }
    async fn write(&self, _: &TaskContext, input: WriteInput) -> Result<WriteOutput, TaskError> {
        Ok(WriteOutput {
            article: format!("{} ({})", input.notes, input.topic),
        })
    }
    async fn sleepy(&self, _: &TaskContext, input: SleepyInput) -> Result<SleepyOutput, TaskError> {
        let ms: u64 = input.topic.parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(SleepyOutput { slept: ms })
    }
    async fn blocking(
        &self,
        _: &TaskContext,
        input: BlockingInput,
    ) -> Result<BlockingOutput, TaskError> {
        let ms: u64 = input.topic.parse().unwrap_or(0);
        std::thread::sleep(Duration::from_millis(ms));
        Ok(BlockingOutput { blocked: ms })
    }
    async fn broken(&self, _: &TaskContext, _: BrokenInput) -> Result<BrokenOutput, TaskError> {
        Err(TaskError::msg("the broken task broke"))
    }
}

pub struct Running {
    pub addr: std::net::SocketAddr,
    pub log: std::sync::Arc<dyn Storage>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn start(config: ServerConfig) -> Running {
    start_on(config, std::sync::Arc::new(MemoryStorage::new())).await
}

/// A server logging to `storage`.
pub async fn start_on(config: ServerConfig, storage: std::sync::Arc<dyn Storage>) -> Running {
    let runner = Runner::new(Crew(Team))
        .shared_storage(storage.clone())
        .progress(false);
    let server = Server::bind(
        runner,
        ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..config
        },
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let done = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        log: storage,
        stop: Some(stop),
        done,
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(
    addr: std::net::SocketAddr,
    query: &str,
    origin: Option<&str>,
) -> Result<Socket, String> {
    let mut request = format!("ws://{addr}/{query}")
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
        .map_err(|e| e.to_string())
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

pub async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a reply within 10 s")
            .expect("the connection is open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// A new browser run: its id, issued by the server.
pub async fn start_run(socket: &mut Socket) -> String {
    send(socket, json!({ "type": "start_run", "id": "run" })).await;
    let reply = receive(socket).await;
    assert_eq!(reply["type"], "run_started", "{reply}");
    reply["data"]["run_id"].as_str().unwrap().to_owned()
}

/// Sends a request and returns the replies up to the final one for its id.
pub async fn execute(
    socket: &mut Socket,
    id: &str,
    task: &str,
    input: Value,
    run_id: Option<&str>,
) -> (Value, Value) {
    let mut data = json!({ "task_name": task, "input_data": input });
    if let Some(run) = run_id {
        data["run_id"] = run.into();
    }
    send(
        socket,
        json!({ "type": "execute_task", "id": id, "data": data }),
    )
    .await;
    let first = receive(socket).await;
    // A request refused before it starts has one reply: it is both.
    let second = if first["type"] == "task_started" {
        receive(socket).await
    } else {
        first.clone()
    };
    (first, second)
}

pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, path, &[("Host", &addr.to_string())]).await
}

/// A GET with exactly these headers (`Host` included, when given).
pub async fn http_request(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A WebSocket opened by hand on a raw TCP stream (for frames a client library will not send):
/// the stream after the server's `101`.
pub async fn raw_websocket(addr: std::net::SocketAddr, query: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /{query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("the upgrade answered")
            .unwrap();
        assert_eq!(
            n,
            1,
            "closed during the upgrade: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// A client frame's header (FIN, masked with a zero key) declaring `len` bytes of `opcode`.
pub fn frame_header(opcode: u8, len: u64) -> Vec<u8> {
    let mut header = vec![0x80 | opcode];
    match len {
        0..=125 => header.push(0x80 | len as u8),
        126..=65535 => {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            header.push(0x80 | 127);
            header.extend_from_slice(&len.to_be_bytes());
        }
    }
    header.extend_from_slice(&[0, 0, 0, 0]);
    header
}

/// Reads until the server closes the stream (or `within` passes: then panics); returns what
/// it sent.
pub async fn read_until_closed(stream: &mut tokio::net::TcpStream, within: Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return all,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// The close code of the first close frame in what a server sent, if any.
pub fn close_code(sent: &[u8]) -> Option<u16> {
    let mut at = 0;
    while at + 2 <= sent.len() {
        let opcode = sent[at] & 0x0f;
        let (len, start) = match sent[at + 1] & 0x7f {
            126 => (
                u16::from_be_bytes([sent[at + 2], sent[at + 3]]) as usize,
                at + 4,
            ),
            127 => (
                u64::from_be_bytes(sent[at + 2..at + 10].try_into().ok()?) as usize,
                at + 10,
            ),
            n => (n as usize, at + 2),
        };
        if opcode == 8 {
            return (len >= 2).then(|| u16::from_be_bytes([sent[start], sent[start + 1]]));
        }
        at = start + len;
    }
    None
}

/// Peak resident memory of this process (server and clients), from /proc.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A GET's whole response, head and body.
pub async fn http_response(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}
