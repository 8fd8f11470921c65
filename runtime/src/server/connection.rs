//! One WebSocket connection: the loop that reads requests, answers them in batches and waits
//! for the tasks still running when it closes.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::Shared;
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
) {
    let (late_replies, mut late) = mpsc::channel::<Message>(LATE_REPLIES);
    let mut session = Session {
        shared,
        authenticated,
        running: tokio::task::JoinSet::new(),
        late_replies,
    };
    let mut stopping = session.shared.stopping.clone();
    let mut outbox: Vec<Message> = Vec::with_capacity(BATCH);
    let mut closing = false;
    while !closing {
        if !outbox.is_empty() && write_all(&mut socket, &mut outbox).await.is_err() {
            break;
        }
        enum Event {
            Message(Option<Result<Message, axum::Error>>),
            Late(Message),
            Stop,
            Joined,
        }
        let event = tokio::select! {
            message = socket.next() => Event::Message(message),
            Some(reply) = late.recv() => Event::Late(reply),
            _ = stopping.wait_for(|s| *s) => Event::Stop,
            Some(_) = session.running.join_next(), if !session.running.is_empty() => Event::Joined,
        };
        match event {
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

/// What a connection knows between requests.
pub(super) struct Session<T: TaskSet> {
    pub(super) shared: Arc<Shared<T>>,
    pub(super) authenticated: bool,
    /// Tasks that had to wait, each in its own tokio task.
    pub(super) running: tokio::task::JoinSet<()>,
    /// Where those tasks send their replies.
    pub(super) late_replies: mpsc::Sender<Message>,
}
