//! A scripted stand-in for an OpenAI-compatible server, for what a real model cannot be made
//! to do on demand (a 429, a hang, a truncated body): each accepted connection gets the next
//! step of the script, and every request is kept for the test to read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the fake server does with one request.
#[derive(Clone)]
pub enum Step {
    /// Answers with this status, extra header lines and body.
    Reply(u16, &'static str, String),
    /// Reads the request and never answers.
    Hang,
    /// Promises a longer body than it sends, then closes.
    Truncate,
    /// The step this function makes of the request's JSON body: for requests sent at once,
    /// which reach the server in no fixed order.
    By(Arc<dyn Fn(&Value) -> Step + Send + Sync>),
}

/// `n` steps answering each request with `respond`'s step for it.
pub fn answer_each(
    n: usize,
    respond: impl Fn(&Value) -> Step + Send + Sync + 'static,
) -> Vec<Step> {
    let respond: Arc<dyn Fn(&Value) -> Step + Send + Sync> = Arc::new(respond);
    vec![Step::By(respond); n]
}

/// A chat completion answering `content`, with usage 10 + 4 tokens.
pub fn completion(content: &str) -> Step {
    Step::Reply(
        200,
        "",
        json!({
            "id": "x", "object": "chat.completion", "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
        })
        .to_string(),
    )
}

/// A chat completion asking for `calls` (name, JSON arguments), ids `call_0`, `call_1`, ...,
/// with usage 10 + 4 tokens.
pub fn tool_calls(calls: &[(&str, Value)]) -> Step {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, arguments))| {
            json!({"id": format!("call_{i}"), "type": "function",
                   "function": {"name": name, "arguments": arguments.to_string()}})
        })
        .collect();
    Step::Reply(
        200,
        "",
        json!({
            "id": "x", "object": "chat.completion", "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
        })
        .to_string(),
    )
}

/// A running fake server.
pub struct FakeServer {
    /// The server's `/v1` base URL.
    pub url: String,
    /// Each request's headers and JSON body, in order.
    pub seen: Arc<Mutex<Vec<(String, Value)>>>,
}

/// Starts a fake server on a free loopback port that plays `script`, one step per
/// connection, then stops accepting.
pub async fn fake_server(script: Vec<Step>) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for step in script {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (head, body) = read_request(&mut socket).await;
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let step = match step {
                Step::By(respond) => respond(&body),
                step => step,
            };
            log.lock().unwrap().push((head, body));
            let reply = match step {
                Step::Reply(status, headers, body) => format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                    body.len()
                ),
                Step::Hang => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    continue;
                }
                Step::Truncate => "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"choices\": [".to_owned(),
                Step::By(_) => panic!("a `Step::By` function made another `Step::By`"),
            };
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    FakeServer { url, seen }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let (head, body) = read_message(socket).await;
    (head.to_lowercase(), body)
}

/// One HTTP message's head (as sent) and body (by its `content-length`).
async fn read_message(socket: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return (String::from_utf8_lossy(&data).into_owned(), Vec::new());
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then_some(value)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            return (head, data[end + 4..].to_vec());
        }
    }
}

/// A head with its `connection` header replaced by `connection: close` (one exchange per
/// connection, so that a message ends where its body does).
fn closing(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|l| {
            !l.split_once(':')
                .is_some_and(|(name, _)| name.eq_ignore_ascii_case("connection"))
        })
        .collect();
    lines.push("connection: close");
    lines.join("\r\n") + "\r\n\r\n"
}

/// A proxy in front of a real server that keeps the `usage` of each reply it passes on (the
/// server's own token counts, to check the execution log against).
pub struct RecordingProxy {
    /// The proxy's `/v1` base URL.
    pub url: String,
    /// Each successful reply's (prompt, completion) tokens, in order.
    pub usage: Arc<Mutex<Vec<(u64, u64)>>>,
}

/// Starts a [`RecordingProxy`] on a free loopback port for the server at `upstream`
/// (`127.0.0.1:PORT`).
pub async fn recording_proxy(upstream: std::net::SocketAddr) -> RecordingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let usage = Arc::new(Mutex::new(Vec::new()));
    let log = usage.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let (head, body) = read_message(&mut client).await;
                let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = server.write_all(closing(&head).as_bytes()).await;
                let _ = server.write_all(&body).await;
                let (reply_head, reply) = read_message(&mut server).await;
                if reply_head.starts_with("HTTP/1.1 200")
                    && let Ok(json) = serde_json::from_slice::<Value>(&reply)
                {
                    let count = |key: &str| json["usage"][key].as_u64().unwrap_or(0);
                    log.lock()
                        .unwrap()
                        .push((count("prompt_tokens"), count("completion_tokens")));
                }
                let _ = client.write_all(closing(&reply_head).as_bytes()).await;
                let _ = client.write_all(&reply).await;
                let _ = client.shutdown().await;
            });
        }
    });
    RecordingProxy { url, usage }
}
