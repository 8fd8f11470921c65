//! Human input through the server: a `human_input` task asked for by a client is reviewed by
//! that client. The task sends `human_input_request` on the client's connection and waits for
//! the `human_feedback` naming it; the page shows the answer and a feedback box.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Message;
use serde_json::Value;
use tasknet_contract::protocol::{Frame, Reply};
use tokio::sync::{mpsc, oneshot};

use crate::llm::{FeedbackFuture, HumanFeedback};

/// The requests a connection's tasks wait on, by request id.
#[derive(Default)]
pub(super) struct PendingFeedback {
    waiting: Mutex<HashMap<String, oneshot::Sender<String>>>,
    issued: AtomicU64,
}

impl PendingFeedback {
    /// Hands `feedback` to the task waiting on `request_id`; `false` when none is.
    pub(super) fn answer(&self, request_id: &str, feedback: String) -> bool {
        let waiting = self.lock().remove(request_id);
        waiting.is_some_and(|task| task.send(feedback).is_ok())
    }

    /// The connection is closing: every task still waiting fails (the client left).
    pub(super) fn abandon(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<String>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The reviewer of one task asked for on a connection.
pub(super) struct ClientReviewer {
    /// The `execute_task` request's id, echoed so that the client knows which task asks.
    pub(super) id: Value,
    pub(super) run_id: String,
    pub(super) pending: Arc<PendingFeedback>,
    pub(super) replies: mpsc::Sender<Message>,
}

impl HumanFeedback for ClientReviewer {
    fn feedback<'a>(&'a self, task: &'a str, answer: &'a str) -> FeedbackFuture<'a> {
        Box::pin(async move {
            let n = self.pending.issued.fetch_add(1, Ordering::Relaxed);
            let request_id = format!("h{n}");
            let (give, given) = oneshot::channel();
            self.pending.lock().insert(request_id.clone(), give);
            let frame = Frame {
                id: &self.id,
                reply: Reply::HumanInputRequest {
                    task_name: task,
                    run_id: &self.run_id,
                    request_id: &request_id,
                    answer,
                },
            };
            if self
                .replies
                .send(Message::Text(frame.to_text().into()))
                .await
                .is_err()
            {
                self.pending.lock().remove(&request_id);
                return Err("the client left before it could be asked for human input".to_owned());
            }
            given
                .await
                .map_err(|_| "the client left without giving human input".to_owned())
        })
    }
}
