//! What each message does: a request, read by the protocol's typed [`Envelope`], answered by
//! typed [`Frame`]s (`tasknet_contract::protocol`), written straight from borrowed parts.

use std::ops::ControlFlow;
use std::task::Poll;

use axum::extract::ws::Message;
use serde_json::{Value, json};
use tasknet_contract::protocol::{
    Envelope, ErrorBody, ErrorKind, ExecuteTask, Frame, ProtocolError, Reply, Request,
};

use super::Shared;
use super::connection::Session;
use super::state_json;
use crate::TaskSet;
use crate::executor::new_run_id;

fn send(id: &Value, reply: Reply<'_>) -> Message {
    Message::Text(Frame { id, reply }.to_text().into())
}

fn error_frame(id: &Value, kind: ErrorKind, message: &str) -> Message {
    send(
        id,
        Reply::Error {
            error: ErrorBody { kind, message },
        },
    )
}

fn task_error(id: &Value, task_name: &str, kind: ErrorKind, message: &str) -> Message {
    send(
        id,
        Reply::TaskError {
            task_name,
            error: ErrorBody { kind, message },
        },
    )
}

impl<T: TaskSet> Session<T> {
    /// Answers one incoming message into `outbox`; `Break` when the connection is to close.
    pub(super) async fn handle(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
        outbox: &mut Vec<Message>,
    ) -> ControlFlow<()> {
        let text = match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return ControlFlow::Break(()),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                outbox.push(error_frame(
                    &Value::Null,
                    ErrorKind::BadMessage,
                    "send JSON text frames",
                ));
                return ControlFlow::Continue(());
            }
            Some(Ok(_)) => return ControlFlow::Continue(()),
        };
        let mut envelope = match Envelope::parse(text.as_str()) {
            Ok(envelope) => envelope,
            Err(e) => {
                outbox.push(error_frame(&Value::Null, e.kind, &e.message));
                return ControlFlow::Continue(());
            }
        };
        let id = std::mem::take(&mut envelope.id);
        let request = envelope.request();
        let shared = &self.shared;
        if !self.authenticated {
            if let Ok(Request::Auth { token: Some(token) }) = &request
                && shared.config.token_matches(Some(token))
            {
                self.authenticated = true;
                outbox.push(send(&id, Reply::Authenticated));
                return ControlFlow::Continue(());
            }
            outbox.push(error_frame(
                &id,
                ErrorKind::Unauthorized,
                "a token is required: `?token=` on the URL or a first `auth` message",
            ));
            return ControlFlow::Break(());
        }
        let reply = match request {
            Ok(Request::Ping) => send(&id, Reply::Pong),
            // Already authenticated: nothing more to do.
            Ok(Request::Auth { .. }) => send(&id, Reply::Authenticated),
            Ok(Request::ListTasks) => send(&id, Reply::Tasks(list_tasks(shared))),
            Ok(Request::ExecuteTask(request)) => match start_task(shared, &id, &request) {
                Ok((task, started)) => {
                    outbox.push(started);
                    let shared = shared.clone();
                    let mut run =
                        Box::pin(async move { execute(&shared, &id, task, request).await });
                    // Polled once here first: a task that finishes without waiting (most do
                    // their work in one go) answers without a spawn and a hop to another
                    // worker thread; one that waits goes on in its own task.
                    let first = std::future::poll_fn(|cx| Poll::Ready(run.as_mut().poll(cx))).await;
                    match first {
                        Poll::Ready(reply) => reply,
                        Poll::Pending => {
                            let late_replies = self.late_replies.clone();
                            self.running.spawn(async move {
                                let reply = run.await;
                                let _ = late_replies.send(reply).await;
                            });
                            return ControlFlow::Continue(());
                        }
                    }
                }
                Err(reply) => reply,
            },
            Err(ProtocolError { kind, message }) => error_frame(&id, kind, &message),
        };
        outbox.push(reply);
        ControlFlow::Continue(())
    }
}

/// A started task: its index and the permit that counts it against the limit.
struct Started {
    index: usize,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

fn start_task<T: TaskSet>(
    shared: &Shared<T>,
    id: &Value,
    request: &ExecuteTask,
) -> Result<(Started, Message), Message> {
    let registry = shared.runner.task_set().registry();
    let name = request.task_name.as_str();
    let Some(index) = registry.task_index(name) else {
        let names: Vec<&str> = registry.tasks.iter().map(|t| t.name).collect();
        let message = format!(
            "no task `{name}` in `{}` (tasks: {})",
            registry.name,
            names.join(", ")
        );
        return Err(task_error(id, name, ErrorKind::UnknownTask, &message));
    };
    let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
        let message = format!(
            "{} tasks are already running; try again later",
            shared.config.max_concurrent_tasks
        );
        return Err(task_error(id, name, ErrorKind::Busy, &message));
    };
    Ok((
        Started {
            index,
            _permit: permit,
        },
        send(id, Reply::TaskStarted { task_name: name }),
    ))
}

async fn execute<T: TaskSet>(
    shared: &Shared<T>,
    id: &Value,
    task: Started,
    request: ExecuteTask,
) -> Message {
    let registry = shared.runner.task_set().registry();
    let spec = &registry.tasks[task.index];
    let input = request.input_data;
    let state: T::State = match state_json::decode(spec, &input) {
        Ok(state) => state,
        Err(e) => return task_error(id, spec.name, e.kind, &e.message),
    };
    let run_id = request.run_id.unwrap_or_else(new_run_id);
    // The limit goes to the runner, which records the timeout and finishes the run; cutting
    // the runner's future off here would lose both.
    let limit = shared.config.task_timeout;
    let result = shared
        .runner
        .run_task(&run_id, task.index, state, Some(limit))
        .await;
    match result {
        Ok(state) => send(
            id,
            Reply::TaskCompleted {
                task_name: spec.name,
                run_id: &run_id,
                result: state_json::encode(&input, &state),
            },
        ),
        Err(failure) => task_error(id, spec.name, failure.kind.into(), &failure.message),
    }
}

fn list_tasks<T: TaskSet>(shared: &Shared<T>) -> Value {
    let registry = shared.runner.task_set().registry();
    let tasks: Vec<Value> = registry
        .ordered_tasks()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "expected_output": t.expected_output,
                "agent": t.agent,
                "requires": t.requires,
                "produces": t.produces.iter().map(|f| json!({ "name": f.name, "type": f.ty })).collect::<Vec<_>>(),
                "depends_on": t.depends_on.iter().map(|&d| registry.tasks[d].name).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "registry": registry.name, "tasks": tasks })
}
