//! One WebSocket connection: the loop that reads requests, answers them in batches and waits
//! for the tasks still running when it closes.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Shared;
use super::listen::Transport;
use crate::TaskSet;

/// How much a connection reads at once.
pub(super) const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Replies of tasks that had to wait, queued for the connection; past this, such tasks wait
/// for a slow reader.
const LATE_REPLIES: usize = 256;

/// Replies written in one flush at most: a client that sends faster than it reads gets its
/// replies in bounded batches, and its further requests wait in the socket.
const BATCH: usize = 64;

/// One connection, on one tokio task: it reads requests, runs each task once in place (most
/// finish without waiting), and writes the replies itself, every reply that is ready in one
/// flush. A writer task of its own would cost a wake-up and a hop between threads per batch.
/// Tasks that wait go on in tasks of their own and send their replies back through a channel.
pub(super) async fn connection<T: TaskSet>(
    shared: Arc<Shared<T>>,
    mut socket: WebSocket,
    authenticated: bool,
    transport: Option<Transport>,
) {
    let (late_replies, mut late) = mpsc::channel::<Message>(LATE_REPLIES);
    let idle = shared.config.idle_timeout;
    let auth_deadline = Instant::now() + shared.config.auth_timeout;
    let mut session = Session {
        shared,
        authenticated,
        transport,
        running: tokio::task::JoinSet::new(),
        late_replies,
        #[cfg(feature = "llm")]
        feedback: Default::default(),
    };
    let mut stopping = session.shared.stopping.clone();
    let mut outbox: Vec<Message> = Vec::with_capacity(BATCH);
    let mut closing = false;
    // A peer that is there answers pings; one that is not (or is stuck half-way through a
    // frame) stops sending, and its transport's read-idle timeout closes it.
    let mut next_ping = Instant::now() + idle / 2;
    while !closing {
        if !outbox.is_empty() && write_all(&mut socket, &mut outbox).await.is_err() {
            break;
        }
        enum Event {
            Message(Option<Result<Message, axum::Error>>),
            Late(Message),
            Stop,
            Joined,
            Ping,
            AuthTimeout,
        }
        let event = tokio::select! {
            message = socket.next() => Event::Message(message),
            Some(reply) = late.recv() => Event::Late(reply),
            _ = stopping.wait_for(|s| *s) => Event::Stop,
            Some(_) = session.running.join_next(), if !session.running.is_empty() => Event::Joined,
            _ = tokio::time::sleep_until(next_ping) => Event::Ping,
            _ = tokio::time::sleep_until(auth_deadline), if !session.authenticated => Event::AuthTimeout,
        };
        next_ping = Instant::now() + idle / 2;
        match event {
            Event::Ping => outbox.push(Message::Ping(Default::default())),
            Event::AuthTimeout => {
                outbox.push(close(close_code::POLICY, "no `auth` message in time"));
                closing = true;
            }
            Event::Message(mut message) => loop {
                if session.handle(message, &mut outbox).await.is_break() {
                    closing = true;
                    break;
                }
                // Requests already read go together, with one flush for all their replies.
                if outbox.len() >= BATCH {
                    break;
                }
                match socket.next().now_or_never() {
                    Some(next) => message = next,
                    None => break,
                }
            },
            Event::Late(reply) => {
                outbox.push(reply);
                while outbox.len() < BATCH {
                    match late.try_recv() {
                        Ok(reply) => outbox.push(reply),
                        Err(_) => break,
                    }
                }
            }
            Event::Stop => closing = true,
            Event::Joined => {}
        }
    }
    // Let this connection's running tasks finish (the grace period bounds a shutdown) and send
    // what they answer; the channel ends when the last of them is done.
    // Dropping the JoinSet would abort them: it is kept until they are all done, even when the
    // client has gone (their records still go to the log).
    // Tasks waiting for this client's human input can no longer get it: they fail now rather
    // than at their time limit.
    #[cfg(feature = "llm")]
    session.feedback.abandon();
    let Session {
        late_replies,
        mut running,
        ..
    } = session;
    drop(late_replies);
    let mut sending = write_all(&mut socket, &mut outbox).await.is_ok();
    while let Some(reply) = late.recv().await {
        outbox.push(reply);
        if sending {
            sending = write_all(&mut socket, &mut outbox).await.is_ok();
        }
        outbox.clear();
    }
    while running.join_next().await.is_some() {}
    let _ = socket.close().await;
}

async fn write_all(socket: &mut WebSocket, outbox: &mut Vec<Message>) -> Result<(), axum::Error> {
    for message in outbox.drain(..) {
        socket.feed(message).await?;
    }
    socket.flush().await
}

/// A close frame.
pub(super) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// The close frame for a read that failed: 1009 for a message over the limit, 1007 for text
/// that is not UTF-8, 1002 for any other breach of the protocol; none when the peer is gone.
pub(super) fn close_for(error: axum::Error) -> Option<Message> {
    use tungstenite::Error;
    let inner = error.into_inner();
    let error = inner.downcast_ref::<Error>()?;
    Some(match error {
        Error::Capacity(_) => close(close_code::SIZE, "message too big"),
        Error::Utf8(_) => close(close_code::INVALID, "text is not UTF-8"),
        Error::Protocol(_) => close(close_code::PROTOCOL, "protocol error"),
        _ => return None,
    })
}

/// What a connection knows between requests.
pub(super) struct Session<T: TaskSet> {
    pub(super) shared: Arc<Shared<T>>,
    pub(super) authenticated: bool,
    /// The connection's transport (its read budget is lifted once `auth` succeeds).
    pub(super) transport: Option<Transport>,
    /// Tasks that had to wait, each in its own tokio task.
    pub(super) running: tokio::task::JoinSet<()>,
    /// Where those tasks send their replies.
    pub(super) late_replies: mpsc::Sender<Message>,
    /// This connection's tasks waiting for human input.
    #[cfg(feature = "llm")]
    pub(super) feedback: Arc<super::review::PendingFeedback>,
}
