//! What each message does: a request, read by the protocol's typed [`Envelope`], answered by
//! typed [`Frame`]s (`tasknet_contract::protocol`), written straight from borrowed parts.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::extract::ws::{Message, close_code};
use serde_json::{Value, json};
use tasknet_contract::protocol::{
    Envelope, ErrorBody, ErrorKind, ExecuteTask, Frame, ProtocolError, Reply, Request,
};

use super::Shared;
use super::connection::{Session, close, close_for};
use super::state_json;
use crate::TaskSet;
use crate::executor::TaskOverrides;

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
            None | Some(Ok(Message::Close(_))) => return ControlFlow::Break(()),
            Some(Err(e)) => {
                outbox.extend(close_for(e));
                return ControlFlow::Break(());
            }
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
        let frame_bytes = text.len();
        let request = envelope.request();
        let shared = &self.shared;
        if !self.authenticated {
            if let Ok(Request::Auth { token: Some(token) }) = &request
                && shared.config.token_matches(Some(token))
            {
                self.authenticated = true;
                if let Some(transport) = &self.transport {
                    transport.authenticated();
                }
                outbox.push(send(&id, Reply::Authenticated));
                return ControlFlow::Continue(());
            }
            outbox.push(error_frame(
                &id,
                ErrorKind::Unauthorized,
                "a token is required: `?token=` on the URL or a first `auth` message",
            ));
            outbox.push(close(close_code::POLICY, "unauthorized"));
            return ControlFlow::Break(());
        }
        let reply = match request {
            Ok(Request::Ping) => send(&id, Reply::Pong),
            // Already authenticated: nothing more to do.
            Ok(Request::Auth { .. }) => send(&id, Reply::Authenticated),
            Ok(Request::ListTasks) => send(&id, Reply::Tasks(list_tasks(shared))),
            Ok(Request::StartRun) => {
                let run_id = shared.runner.start_browser_run();
                send(&id, Reply::RunStarted { run_id: &run_id })
            }
            Ok(Request::ExecuteTask(request)) => {
                match start_task(shared, &id, request, frame_bytes).await {
                    Ok((task, started)) => {
                        outbox.push(started);
                        let late_replies = self.late_replies.clone();
                        let overrides = self.overrides(&id, &task);
                        let shared = shared.clone();
                        self.running.spawn(async move {
                            let reply = execute(shared, id, task, overrides).await;
                            let _ = late_replies.send(reply).await;
                        });
                        return ControlFlow::Continue(());
                    }
                    Err(reply) => reply,
                }
            }
            Ok(Request::HumanFeedback {
                request_id,
                feedback,
            }) => {
                #[cfg(feature = "llm")]
                let given = self.feedback.answer(&request_id, feedback);
                #[cfg(not(feature = "llm"))]
                let given = {
                    drop(feedback);
                    false
                };
                if given {
                    send(
                        &id,
                        Reply::FeedbackReceived {
                            request_id: &request_id,
                        },
                    )
                } else {
                    let message = format!(
                        "no task of this connection waits for human input `{}`",
                        request_id.escape_debug()
                    );
                    error_frame(&id, ErrorKind::UnknownRequest, &message)
                }
            }
            Err(ProtocolError { kind, message }) => error_frame(&id, kind, &message),
        };
        outbox.push(reply);
        ControlFlow::Continue(())
    }
}

impl<T: TaskSet> Session<T> {
    /// What a task asked for on this connection runs with: the server's time limit, and, for
    /// a `human_input` task (only: the others pay nothing for it), this client as the
    /// reviewer of its answers.
    fn overrides(&self, id: &Value, task: &Started<T::State>) -> TaskOverrides {
        #[cfg(not(feature = "llm"))]
        let _ = (id, task);
        TaskOverrides {
            overall: Some(self.shared.config.task_timeout),
            #[cfg(feature = "llm")]
            human: self.shared.runner.task_set().registry().tasks[task.index]
                .human_input
                .then(|| {
                    crate::llm::Reviewer(Arc::new(super::review::ClientReviewer {
                        id: id.clone(),
                        run_id: task.run_id.clone(),
                        pending: self.feedback.clone(),
                        replies: self.late_replies.clone(),
                    }))
                }),
        }
    }
}

/// The watchdog's margin over a task's limit: the task's own timer fires first unless its
/// code blocks the thread it runs on.
const WATCHDOG_SLACK: Duration = Duration::from_secs(1);

/// How long a request waits for a task slot before it is answered `busy`.
const BUSY_WAIT: Duration = Duration::from_millis(500);

/// A task admitted to run: the permit that counts it against the limit, and its input,
/// checked and decoded.
struct Started<S> {
    index: usize,
    permit: tokio::sync::OwnedSemaphorePermit,
    run_id: String,
    input: Arc<Value>,
    state: S,
}

async fn start_task<T: TaskSet>(
    shared: &Shared<T>,
    id: &Value,
    request: ExecuteTask,
    frame_bytes: usize,
) -> Result<(Started<T::State>, Message), Message> {
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
    let spec = &registry.tasks[index];
    let limit = shared.config.max_input_bytes;
    // The frame holds the input: only a frame over the limit needs its input measured, so
    // the common request pays nothing for the check.
    let size = if frame_bytes > limit {
        json_size(&request.input_data)
    } else {
        0
    };
    if size > limit {
        let message = format!(
            "input_data is {size} bytes; this server stores at most {limit} per request (`max_input_bytes`)"
        );
        return Err(task_error(id, spec.name, ErrorKind::TooLarge, &message));
    }
    let state = state_json::decode_with(spec, &request.input_data, &shared.config.server_inputs)
        .map_err(|e| task_error(id, spec.name, e.kind, &e.message))?;
    // A free slot, or one that frees soon: a client that pipelines waits (and is not read
    // meanwhile) rather than being told `busy` for every request past the limit.
    let permit = match shared.permits.clone().try_acquire_owned() {
        Ok(permit) => Ok(permit),
        Err(_) => tokio::time::timeout(BUSY_WAIT, shared.permits.clone().acquire_owned())
            .await
            .map_err(|_| ())
            .and_then(|p| p.map_err(|_| ())),
    };
    let Ok(permit) = permit else {
        let message = format!(
            "{} tasks are already running; try again later",
            shared.config.max_concurrent_tasks
        );
        return Err(task_error(id, name, ErrorKind::Busy, &message));
    };
    if let Some(run_id) = &request.run_id
        && let Err(why) = shared.runner.browser_task_admissible(run_id, index)
    {
        return Err(task_error(id, spec.name, ErrorKind::RunNotOpen, &why));
    }
    let run_id = request
        .run_id
        .unwrap_or_else(|| shared.runner.start_browser_run());
    Ok((
        Started {
            index,
            permit,
            run_id,
            input: Arc::new(request.input_data),
            state,
        },
        send(
            id,
            Reply::TaskStarted {
                task_name: spec.name,
            },
        ),
    ))
}

/// The length of a value's JSON text, without writing it anywhere.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Runs the task on the task threads, and answers: its result, or `timeout` from the
/// watchdog when its code has not returned a second after its limit (it blocks its thread).
async fn execute<T: TaskSet>(
    shared: Arc<Shared<T>>,
    id: Value,
    task: Started<T::State>,
    overrides: TaskOverrides,
) -> Message {
    let registry = shared.runner.task_set().registry();
    let spec = &registry.tasks[task.index];
    let limit = shared.config.task_timeout;
    let settled = Arc::new(AtomicBool::new(false));
    let Started {
        index,
        permit,
        run_id,
        input,
        state,
    } = task;
    let running = shared.tasks.spawn({
        let (shared, settled, input, run_id, id) = (
            shared.clone(),
            settled.clone(),
            input.clone(),
            run_id.clone(),
            id.clone(),
        );
        async move {
            let _permit = permit;
            // The limit goes to the runner, which records the timeout and finishes the run;
            // cutting the runner's future off here would lose both.
            let result = shared
                .runner
                .run_task_settled(&run_id, index, state, overrides, &settled)
                .await;
            match result {
                Ok(state) => {
                    let mut result = state_json::encode(&input, &state);
                    // The server's own inputs stay the server's: not shown, not sent back.
                    if let Value::Object(fields) = &mut result {
                        for key in shared.config.server_inputs.keys() {
                            fields.remove(key);
                        }
                    }
                    send(
                        &id,
                        Reply::TaskCompleted {
                            task_name: spec.name,
                            run_id: &run_id,
                            result,
                        },
                    )
                }
                Err(failure) => task_error(&id, spec.name, failure.kind.into(), &failure.message),
            }
        }
    });
    match tokio::time::timeout(limit + WATCHDOG_SLACK, running).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => task_error(
            &id,
            spec.name,
            ErrorKind::Internal,
            &format!("the task was lost: {e}"),
        ),
        Err(_) => {
            let inputs = crate::JsonText::from((*input).clone());
            let kickoff = kickoff_inputs(registry.inputs, &input, &shared.config.server_inputs);
            let recorded = shared
                .runner
                .record_abandoned(&run_id, index, inputs, kickoff, limit, &settled)
                .await;
            match recorded {
                Ok(Some(failure)) => {
                    task_error(&id, spec.name, ErrorKind::Timeout, &failure.message)
                }
                // It returned just now: its own record stands, and its reply was lost with
                // the join handle; say it timed out, which the log also says if it did.
                Ok(None) => task_error(
                    &id,
                    spec.name,
                    ErrorKind::Timeout,
                    "the task ended as it was timed out; see the log",
                ),
                Err(e) => task_error(&id, spec.name, ErrorKind::Internal, &e.to_string()),
            }
        }
    }
}

/// A run's kickoff inputs from a request: the server's own, and the client's for the others.
fn kickoff_inputs(
    fields: &[crate::FieldSpec],
    input: &Value,
    server_inputs: &serde_json::Map<String, Value>,
) -> Value {
    let mut kickoff = server_inputs.clone();
    for field in fields {
        if let Some(value) = input.get(field.name) {
            kickoff.entry(field.name).or_insert_with(|| value.clone());
        }
    }
    Value::Object(kickoff)
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
