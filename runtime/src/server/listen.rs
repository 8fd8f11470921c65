//! The accept loop and what every connection is held to, below HTTP: a bound on connections
//! open at once (past it, `503` and close), a header-read timeout (hyper's), a read-idle
//! timeout, and, on a server with a token, a small read budget until the connection has
//! authenticated. Slow or silent peers are closed; none of them can hold memory or file
//! descriptors for long.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};

/// Bytes an unauthenticated connection may send on a server with a token: an upgrade
/// request and an `auth` message fit, a large frame does not.
pub(super) const UNAUTHENTICATED_READ_BYTES: usize = 16 * 1024;

/// Request headers held at most per connection.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What the connection's request handlers can tell its transport: the connection has
/// authenticated (its read budget is lifted).
/// Held by whatever serves the connection (hyper, then the WebSocket after an upgrade): the
/// connection counts against the limit until the last clone is dropped.
#[derive(Clone)]
pub(super) struct Transport {
    authenticated: Arc<AtomicBool>,
    _open: Arc<tokio::sync::OwnedSemaphorePermit>,
}

impl Transport {
    pub(super) fn authenticated(&self) {
        self.authenticated.store(true, Ordering::Release);
    }
}

/// A TCP stream whose reads fail once it has been silent for `idle`, or once it has read
/// more than its budget without having authenticated.
struct Guarded {
    tcp: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    read: usize,
    transport: Transport,
    budget: Option<usize>,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                if n > 0 {
                    let next = Instant::now() + this.idle;
                    this.deadline.as_mut().reset(next);
                    this.read = this.read.saturating_add(n);
                    if let Some(budget) = this.budget
                        && this.read > budget
                        && !this.transport.authenticated.load(Ordering::Acquire)
                    {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            "sent more than an unauthenticated connection may",
                        )));
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                ready!(this.deadline.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer was silent for too long",
                )))
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// The limits the loop applies, from the server's config.
pub(super) struct Limits {
    pub(super) max_connections: usize,
    pub(super) header_read_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) token_required: bool,
}

/// Accepts until `stopping` turns true, serving each connection with `router`; returns once
/// every connection has ended (the caller bounds that with its grace period).
pub(super) async fn accept_loop(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut connections = tokio::task::JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    let http = Arc::new(http);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|s| *s) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors, most likely: say so, and let connections close.
                tracing::error!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small frames both ways: without TCP_NODELAY, Nagle's algorithm and delayed ACKs
        // add ~40 ms to every task's round trip.
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = open.clone().try_acquire_owned() else {
            if refused.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
                tracing::warn!(
                    limit = limits.max_connections,
                    "too many connections: answering 503 (logged once per 1,000)"
                );
            }
            connections.spawn(refuse(tcp));
            continue;
        };
        let transport = Transport {
            authenticated: Arc::default(),
            _open: Arc::new(permit),
        };
        let io = Guarded {
            tcp,
            idle: limits.idle_timeout,
            deadline: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            read: 0,
            transport: transport.clone(),
            budget: limits.token_required.then_some(UNAUTHENTICATED_READ_BYTES),
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(transport.clone());
            tower_service::Service::call(&mut router.clone(), request)
        });
        let http = http.clone();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let conn = http
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stopping.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    // Upgraded connections (WebSockets) hold their permit until they end.
    let _ = open.acquire_many(limits.max_connections as u32).await;
}

/// Answers a connection over the limit and closes it (within a second: a peer that does not
/// read is not waited for).
async fn refuse(mut tcp: TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BODY: &str = "{\"error\":\"too many connections; try again later\"}";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = tcp.write_all(response.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}
