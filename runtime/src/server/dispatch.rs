//! What each message does: the protocol's requests, each answered by a typed frame.

use std::ops::ControlFlow;
use std::task::Poll;

use axum::extract::ws::Message;
use serde::Serialize;
use serde_json::{Value, json};

use super::Shared;
use super::connection::Session;
use super::state_json;
use crate::TaskSet;
use crate::executor::new_run_id;

/// One frame to send: `{type, id?, data}`, serialized straight from borrowed parts.
fn frame(kind: &str, id: &Value, data: impl Serialize) -> Message {
    #[derive(Serialize)]
    struct Frame<'a, D> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(skip_serializing_if = "Value::is_null")]
        id: &'a Value,
        data: D,
    }
    let text = serde_json::to_string(&Frame { kind, id, data }).unwrap_or_else(|e| {
        format!(
            r#"{{"type":"error","data":{{"error":{{"kind":"internal","message":{}}}}}}}"#,
            Value::from(e.to_string())
        )
    });
    Message::Text(text.into())
}

#[derive(Serialize)]
struct ErrorData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_name: Option<&'a str>,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    kind: &'a str,
    message: &'a str,
}

fn error_frame(id: &Value, kind: &str, message: impl AsRef<str>) -> Message {
    let error = ErrorBody {
        kind,
        message: message.as_ref(),
    };
    frame(
        "error",
        id,
        ErrorData {
            task_name: None,
            error,
        },
    )
}

fn task_error(id: &Value, task: &str, kind: &str, message: impl AsRef<str>) -> Message {
    let error = ErrorBody {
        kind,
        message: message.as_ref(),
    };
    frame(
        "task_error",
        id,
        ErrorData {
            task_name: Some(task),
            error,
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
                    "bad_message",
                    "send JSON text frames",
                ));
                return ControlFlow::Continue(());
            }
            Some(Ok(_)) => return ControlFlow::Continue(()),
        };
        let mut request: Value = match serde_json::from_str(text.as_str()) {
            Ok(value) => value,
            Err(e) => {
                outbox.push(error_frame(
                    &Value::Null,
                    "bad_json",
                    format!("not JSON: {e}"),
                ));
                return ControlFlow::Continue(());
            }
        };
        let id = request
            .get_mut("id")
            .map(Value::take)
            .unwrap_or(Value::Null);
        let data = request
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null);
        let kind = request.get("type").and_then(Value::as_str).unwrap_or("");
        let shared = &self.shared;
        if !self.authenticated {
            let token = request
                .get("token")
                .or_else(|| data.get("token"))
                .and_then(Value::as_str);
            if kind == "auth" && token.is_some() && shared.config.token_matches(token) {
                self.authenticated = true;
                outbox.push(frame("authenticated", &id, json!({})));
                return ControlFlow::Continue(());
            }
            outbox.push(error_frame(
                &id,
                "unauthorized",
                "a token is required: `?token=` on the URL or a first `auth` message",
            ));
            return ControlFlow::Break(());
        }
        let reply = match kind {
            "ping" => frame("pong", &id, json!({})),
            "list_tasks" => frame("tasks", &id, list_tasks(shared)),
            "execute_task" => match start_task(shared, &id, &data) {
                Ok((task, started)) => {
                    outbox.push(started);
                    let shared = shared.clone();
                    let mut run = Box::pin(async move { execute(&shared, &id, task, data).await });
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
            "" => error_frame(&id, "bad_message", "a message needs a string `type`"),
            other => error_frame(
                &id,
                "unknown_type",
                format!(
                    "unknown message type `{other}`: expected execute_task, list_tasks or ping"
                ),
            ),
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
    data: &Value,
) -> Result<(Started, Message), Message> {
    let registry = shared.runner.task_set().registry();
    let Some(name) = data.get("task_name").and_then(Value::as_str) else {
        return Err(error_frame(
            id,
            "bad_message",
            "execute_task needs `data.task_name` (a string)",
        ));
    };
    let Some(index) = registry.task_index(name) else {
        let names: Vec<&str> = registry.tasks.iter().map(|t| t.name).collect();
        return Err(task_error(
            id,
            name,
            "unknown_task",
            format!(
                "no task `{name}` in `{}` (tasks: {})",
                registry.name,
                names.join(", ")
            ),
        ));
    };
    let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
        return Err(task_error(
            id,
            name,
            "busy",
            format!(
                "{} tasks are already running; try again later",
                shared.config.max_concurrent_tasks
            ),
        ));
    };
    Ok((
        Started {
            index,
            _permit: permit,
        },
        frame("task_started", id, TaskName { task_name: name }),
    ))
}

#[derive(Serialize)]
struct TaskName<'a> {
    task_name: &'a str,
}

#[derive(Serialize)]
struct Completed<'a> {
    task_name: &'a str,
    run_id: &'a str,
    result: Value,
}

async fn execute<T: TaskSet>(
    shared: &Shared<T>,
    id: &Value,
    task: Started,
    mut data: Value,
) -> Message {
    let registry = shared.runner.task_set().registry();
    let spec = &registry.tasks[task.index];
    let input = match data.get_mut("input_data") {
        Some(input) => input.take(),
        None => json!({}),
    };
    let state: T::State = match state_json::decode(spec, &input) {
        Ok(state) => state,
        Err(e) => return task_error(id, spec.name, e.kind, e.message),
    };
    let run_id = data
        .get("run_id")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty() && r.len() <= 128)
        .map_or_else(new_run_id, str::to_owned);
    // The limit goes to the runner, which records the timeout and finishes the run; cutting
    // the runner's future off here would lose both.
    let limit = shared.config.task_timeout;
    let result = shared
        .runner
        .run_task(&run_id, task.index, state, Some(limit))
        .await;
    match result {
        Ok(state) => frame(
            "task_completed",
            id,
            Completed {
                task_name: spec.name,
                run_id: &run_id,
                result: state_json::encode(&input, &state),
            },
        ),
        Err(failure) => task_error(id, spec.name, failure.kind.as_str(), failure.message),
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
