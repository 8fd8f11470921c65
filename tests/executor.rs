//! The executor: order, concurrency of independent branches, failure propagation, timeouts,
//! retries, panics, missing inputs, the task context; and replay (from a task, only a task,
//! across a restart, refused for another yaml).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use tasknet::{
    MemoryStorage, Replay, RetryPolicy, RunError, RunStatus, Runner, SqliteStorage, Storage,
    TaskContext, TaskError, TaskErrorKind, TaskStatus,
};

mod diamond {
    tasknet::task_registry!(
        yaml = "
inputs: {seed: i64}
start:
  requires: [seed]
  produces: {a: i64}
left:
  requires: [a]
  produces: {l: i64}
right:
  requires: [a]
  produces: {r: i64}
  timeout: 300ms
join:
  description: Join {l} and {r} ({mode}).
  requires: [l, r]
  produces: {sum: i64}
  input_data: {mode: add}
"
    );
}

use diamond::*;

#[derive(Default)]
enum Behaviour {
    #[default]
    Fine,
    Fail,
    Panic,
    Hang,
    /// Fails this many times, then succeeds.
    Flaky(AtomicU32),
}

#[derive(Default)]
struct Team {
    right: Behaviour,
    left: Behaviour,
    calls: Mutex<Vec<String>>,
    contexts: Mutex<HashMap<String, TaskContext>>,
}

impl Team {
    fn called(&self, ctx: &TaskContext) {
        self.calls.lock().unwrap().push(ctx.task.to_owned());
        self.contexts
            .lock()
            .unwrap()
            .insert(ctx.task.to_owned(), ctx.clone());
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    async fn behave(behaviour: &Behaviour, value: i64) -> Result<i64, TaskError> {
        match behaviour {
            Behaviour::Fine => Ok(value),
            Behaviour::Fail => Err(TaskError::msg("the warehouse API said 503")),
            Behaviour::Panic => panic!("index out of bounds in the agent"),
            Behaviour::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(value)
            }
            Behaviour::Flaky(left) => {
                if left.load(Ordering::SeqCst) > 0 {
                    left.fetch_sub(1, Ordering::SeqCst);
                    Err(TaskError::msg("flaky"))
                } else {
                    Ok(value)
                }
            }
        }
    }
}

impl Tasks for Team {
    async fn start(&self, ctx: &TaskContext, input: StartInput) -> Result<StartOutput, TaskError> {
        self.called(ctx);
        Ok(StartOutput { a: input.seed + 1 })
    }

    async fn left(&self, ctx: &TaskContext, input: LeftInput) -> Result<LeftOutput, TaskError> {
        self.called(ctx);
        Ok(LeftOutput {
            l: Team::behave(&self.left, input.a * 10).await?,
        })
    }

    async fn right(&self, ctx: &TaskContext, input: RightInput) -> Result<RightOutput, TaskError> {
        self.called(ctx);
        Ok(RightOutput {
            r: Team::behave(&self.right, input.a * 100).await?,
        })
    }

    async fn join(&self, ctx: &TaskContext, input: JoinInput) -> Result<JoinOutput, TaskError> {
        self.called(ctx);
        Ok(JoinOutput {
            sum: input.l + input.r,
        })
    }
}

fn seeded() -> State {
    State {
        seed: Some(1),
        ..State::default()
    }
}

fn statuses(storage: &dyn Storage, run_id: &str) -> Vec<(String, TaskStatus, bool)> {
    storage
        .tasks(run_id)
        .unwrap()
        .into_iter()
        .map(|t| (t.task_name.into_owned(), t.status, t.was_replayed))
        .collect()
}

#[tokio::test]
async fn runs_in_dependency_order_and_logs_each_task() {
    let runner = Runner::new(Crew(Team::default())).progress(false);
    let run = runner.run(seeded()).await.unwrap();
    assert_eq!(run.state.sum, Some(20 + 200));
    assert_eq!(run.state.a, Some(2));
    let log: Vec<&str> = run
        .state
        .execution_log
        .iter()
        .map(|e| e.task.as_ref())
        .collect();
    assert_eq!(log.first(), Some(&"start"));
    assert_eq!(log.last(), Some(&"join"));
    assert_eq!(log.len(), 4);
    assert_eq!(run.tasks_run, 4);

    let rows = runner.log().tasks(&run.id).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|r| r.status == TaskStatus::Succeeded && !r.was_replayed)
    );
    let join = &rows[3];
    assert_eq!(
        join.inputs.value(),
        json!({"l": 20, "r": 200, "input_data": {"mode": "add"}})
    );
    assert_eq!(join.output.as_str(), r#"{"sum":220}"#);
    assert_eq!(join.produced(), ["sum"]);
    let stored = runner.log().run(&run.id).unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Succeeded);
    assert_eq!(stored.inputs, json!({"seed": 1}));
    assert_eq!(stored.source_hash, TASK_REGISTRY.source_hash);
}

#[tokio::test]
async fn the_task_context_is_rendered_from_the_input() {
    let runner = Runner::new(Crew(Team::default())).progress(false);
    let run = runner.run(seeded()).await.unwrap();
    let contexts = runner.task_set().0.contexts.lock().unwrap().clone();
    let join = &contexts["join"];
    assert_eq!(join.description, "Join 20 and 200 (add).");
    assert_eq!(&*join.run_id, run.id);
    assert_eq!(join.task, "join");
}

#[tokio::test]
async fn independent_branches_run_concurrently() {
    // Both branches wait at one barrier of two: it only opens when both are in flight, so a
    // sequential executor would wait forever.
    let shared = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    struct Pair(std::sync::Arc<tokio::sync::Barrier>);
    impl Tasks for Pair {
        async fn start(&self, _: &TaskContext, i: StartInput) -> Result<StartOutput, TaskError> {
            Ok(StartOutput { a: i.seed })
        }
        async fn left(&self, _: &TaskContext, i: LeftInput) -> Result<LeftOutput, TaskError> {
            self.0.wait().await;
            Ok(LeftOutput { l: i.a })
        }
        async fn right(&self, _: &TaskContext, i: RightInput) -> Result<RightOutput, TaskError> {
            self.0.wait().await;
            Ok(RightOutput { r: i.a })
        }
        async fn join(&self, _: &TaskContext, i: JoinInput) -> Result<JoinOutput, TaskError> {
            Ok(JoinOutput { sum: i.l + i.r })
        }
    }
    let runner = Runner::new(Crew(Pair(shared))).progress(false);
    let run = tokio::time::timeout(Duration::from_secs(10), runner.run(seeded()))
        .await
        .expect("both branches were in flight at the same time")
        .unwrap();
    assert_eq!(run.state.sum, Some(2));
}

#[tokio::test]
async fn a_failure_stops_its_dependants_and_lets_other_branches_finish() {
    let runner = Runner::new(Crew(Team {
        right: Behaviour::Fail,
        ..Team::default()
    }))
    .progress(false);
    let err = runner.run(seeded()).await.unwrap_err();
    let RunError::TasksFailed {
        run_id,
        failures,
        skipped,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].task, "right");
    assert_eq!(failures[0].kind, TaskErrorKind::Failed);
    assert_eq!(skipped, &["join"]);
    assert_eq!(
        err.to_string(),
        format!(
            "run {run_id} failed: task `right` failed: the warehouse API said 503; not run because of it: join"
        )
    );
    let calls = runner.task_set().0.calls();
    assert!(
        calls.contains(&"left".to_owned()),
        "the independent branch ran"
    );
    assert!(!calls.contains(&"join".to_owned()));
    let rows = statuses(runner.log().as_ref(), run_id);
    assert_eq!(
        rows.iter()
            .map(|(n, s, _)| (n.as_str(), *s))
            .collect::<Vec<_>>(),
        [
            ("start", TaskStatus::Succeeded),
            ("left", TaskStatus::Succeeded),
            ("right", TaskStatus::Failed),
            ("join", TaskStatus::Skipped),
        ]
    );
    let failed = &runner.log().tasks(run_id).unwrap()[2];
    assert_eq!(failed.error.as_deref(), Some("the warehouse API said 503"));
    assert_eq!(failed.error_kind.as_deref(), Some("failed"));
    let run = runner.log().run(run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.unwrap().contains("task `right` failed"));
}

#[tokio::test]
async fn a_panic_is_that_tasks_error() {
    let runner = Runner::new(Crew(Team {
        right: Behaviour::Panic,
        ..Team::default()
    }))
    .progress(false);
    let RunError::TasksFailed { failures, .. } = runner.run(seeded()).await.unwrap_err() else {
        panic!()
    };
    assert_eq!(failures[0].kind, TaskErrorKind::Panicked);
    assert!(
        failures[0]
            .message
            .contains("index out of bounds in the agent"),
        "{}",
        failures[0].message
    );
    assert!(runner.task_set().0.calls().contains(&"left".to_owned()));
}

#[tokio::test]
async fn the_yaml_timeout_applies_and_code_can_override_it() {
    let hang = || Team {
        right: Behaviour::Hang,
        ..Team::default()
    };
    let runner = Runner::new(Crew(hang())).progress(false);
    let RunError::TasksFailed { failures, .. } = runner.run(seeded()).await.unwrap_err() else {
        panic!()
    };
    assert_eq!(failures[0].kind, TaskErrorKind::Timeout);
    assert_eq!(failures[0].message, "no result within 300ms");

    let runner = Runner::new(Crew(hang()))
        .task_timeout("right", Duration::from_millis(50))
        .progress(false);
    let RunError::TasksFailed { failures, .. } = runner.run(seeded()).await.unwrap_err() else {
        panic!()
    };
    assert_eq!(failures[0].message, "no result within 50ms");
}

#[tokio::test]
async fn retries_until_success_and_records_the_attempts() {
    let runner = Runner::new(Crew(Team {
        right: Behaviour::Flaky(AtomicU32::new(2)),
        ..Team::default()
    }))
    .task_retry("right", RetryPolicy::new(3, Duration::from_millis(1)))
    .progress(false);
    let run = runner.run(seeded()).await.unwrap();
    let right = &runner.log().tasks(&run.id).unwrap()[2];
    assert_eq!(right.attempts, 3);
    assert_eq!(right.status, TaskStatus::Succeeded);

    let runner = Runner::new(Crew(Team {
        right: Behaviour::Flaky(AtomicU32::new(5)),
        ..Team::default()
    }))
    .retry(RetryPolicy::new(2, Duration::ZERO))
    .progress(false);
    let RunError::TasksFailed { failures, .. } = runner.run(seeded()).await.unwrap_err() else {
        panic!()
    };
    assert_eq!(failures[0].attempts, 2);
    assert_eq!(
        failures[0].to_string(),
        "task `right` failed after 2 attempts: flaky"
    );
}

#[tokio::test]
async fn missing_kickoff_inputs_are_named() {
    let runner = Runner::new(Crew(Team::default())).progress(false);
    let err = runner.run(State::default()).await.unwrap_err();
    assert!(matches!(&err, RunError::MissingInputs { inputs } if inputs == &["seed"]));
    assert_eq!(
        err.to_string(),
        "missing kickoff input: `seed` (the registry declares it under `inputs`)"
    );
    assert!(runner.log().runs().unwrap().is_empty(), "nothing started");
}

#[tokio::test]
async fn replay_from_a_task_is_a_new_linked_run() {
    let runner = Runner::new(Crew(Team::default())).progress(false);
    let first = runner.run(seeded()).await.unwrap();
    let before = runner.log().tasks(&first.id).unwrap();
    let replay = runner
        .replay(&Replay::from(&first.id, "right"))
        .await
        .unwrap();
    assert_ne!(replay.id, first.id);
    assert_eq!(replay.state.sum, Some(220));
    // start and left came from the log; right and join ran again.
    let calls = runner.task_set().0.calls();
    assert_eq!(calls[4..], ["right".to_owned(), "join".to_owned()]);
    assert_eq!(
        statuses(runner.log().as_ref(), &replay.id),
        [
            ("start".to_owned(), TaskStatus::Restored, false),
            ("left".to_owned(), TaskStatus::Restored, false),
            ("right".to_owned(), TaskStatus::Succeeded, true),
            ("join".to_owned(), TaskStatus::Succeeded, true),
        ]
    );
    let run = runner.log().run(&replay.id).unwrap().unwrap();
    assert_eq!(run.parent_run.as_deref(), Some(first.id.as_str()));
    assert_eq!(run.replay_task.as_deref(), Some("right"));
    assert_eq!(
        runner.log().tasks(&first.id).unwrap(),
        before,
        "history is never overwritten"
    );
}

#[tokio::test]
async fn replay_only_one_task() {
    let runner = Runner::new(Crew(Team::default())).progress(false);
    let first = runner.run(seeded()).await.unwrap();
    let replay = runner
        .replay(&Replay::only(&first.id, "left"))
        .await
        .unwrap();
    assert_eq!(runner.task_set().0.calls()[4..], ["left".to_owned()]);
    assert_eq!(replay.tasks_run, 1);
    assert_eq!(replay.state.l, Some(20));
    assert_eq!(replay.state.sum, None, "join was not re-run");
    let rows = statuses(runner.log().as_ref(), &replay.id);
    assert_eq!(rows[1], ("left".to_owned(), TaskStatus::Succeeded, true));
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn replay_survives_a_restart_and_a_failed_run_can_be_finished() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let failed_id = {
        let runner = Runner::new(Crew(Team {
            right: Behaviour::Fail,
            ..Team::default()
        }))
        .storage(SqliteStorage::open(&db).unwrap())
        .progress(false);
        match runner.run(seeded()).await.unwrap_err() {
            RunError::TasksFailed { run_id, .. } => run_id,
            other => panic!("{other}"),
        }
    };
    // A new process: the fixed agent, the same log file.
    let runner = Runner::new(Crew(Team::default()))
        .storage(SqliteStorage::open(&db).unwrap())
        .progress(false);
    let replay = runner
        .replay(&Replay::from(&failed_id, "right"))
        .await
        .unwrap();
    assert_eq!(replay.state.sum, Some(220));
    assert_eq!(runner.task_set().0.calls(), ["right", "join"]);
    // A task whose output was never stored cannot be restored.
    let err = runner
        .replay(&Replay::from(&failed_id, "join"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "task `right` (before `join`) has no stored output; replay from `right` instead"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn replay_refuses_another_yaml_unless_forced_and_names_unknowns() {
    let storage = std::sync::Arc::new(MemoryStorage::new());
    let runner = Runner::new(Crew(Team::default()))
        .shared_storage(storage.clone())
        .progress(false);
    let first = runner.run(seeded()).await.unwrap();
    // Pretend the run came from an older tasks.yaml.
    let mut old = storage.run(&first.id).unwrap().unwrap();
    old.id = "old-run".to_owned();
    old.source_hash = "0000000000000000".to_owned();
    storage.create_run(&old).unwrap();
    for mut t in storage.tasks(&first.id).unwrap() {
        t.run_id = old.id.clone();
        storage.put_task(t).unwrap();
    }
    let err = runner
        .replay(&Replay::from("old-run", "join"))
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::RegistryMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("another version of the tasks file")
    );
    let forced = runner
        .replay(&Replay::from("old-run", "join").force())
        .await
        .unwrap();
    assert_eq!(forced.state.sum, Some(220));

    let err = runner
        .replay(&Replay::from("nope", "join"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "there is no run `nope` in memory");
    let err = runner
        .replay(&Replay::from(&first.id, "jion"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no task `jion` in the registry (its tasks: start, left, right, join)"
    );
}

mod reordered {
    // The diamond with its tasks written in another order: other indices, another hash.
    tasknet::task_registry!(
        yaml = "
inputs: {seed: i64}
join:
  requires: [l, r]
  produces: {sum: i64}
right:
  requires: [a]
  produces: {r: i64}
left:
  requires: [a]
  produces: {l: i64}
start:
  requires: [seed]
  produces: {a: i64}
"
    );

    pub struct Plain;

    impl Tasks for Plain {
        async fn join(
            &self,
            _: &tasknet::TaskContext,
            i: JoinInput,
        ) -> Result<JoinOutput, tasknet::TaskError> {
            Ok(JoinOutput {
                sum: i.l + i.r + 1000,
            })
        }
        async fn right(
            &self,
            _: &tasknet::TaskContext,
            i: RightInput,
        ) -> Result<RightOutput, tasknet::TaskError> {
            Ok(RightOutput { r: i.a * 100 })
        }
        async fn left(
            &self,
            _: &tasknet::TaskContext,
            i: LeftInput,
        ) -> Result<LeftOutput, tasknet::TaskError> {
            Ok(LeftOutput { l: i.a * 10 })
        }
        async fn start(
            &self,
            _: &tasknet::TaskContext,
            i: StartInput,
        ) -> Result<StartOutput, tasknet::TaskError> {
            Ok(StartOutput { a: i.seed + 1 })
        }
    }
}

#[tokio::test]
async fn replay_finds_tasks_by_name_in_a_reordered_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let first = Runner::new(Crew(Team::default()))
        .storage(SqliteStorage::open(&db).unwrap())
        .progress(false)
        .run(seeded())
        .await
        .unwrap();
    // The file was reordered: indices and hash changed; the names did not.
    let runner = Runner::new(reordered::Crew(reordered::Plain))
        .storage(SqliteStorage::open(&db).unwrap())
        .progress(false);
    let err = runner
        .replay(&Replay::from(&first.id, "join"))
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::RegistryMismatch { .. }), "{err}");
    let replay = runner
        .replay(&Replay::from(&first.id, "join").force())
        .await
        .unwrap();
    assert_eq!(replay.state.a, Some(2));
    assert_eq!(replay.state.l, Some(20));
    assert_eq!(
        replay.state.sum,
        Some(1220),
        "join re-ran on the restored l and r"
    );
    let rows = runner.log().tasks(&replay.id).unwrap();
    let by_name: HashMap<&str, (usize, TaskStatus)> = rows
        .iter()
        .map(|r| (&*r.task_name, (r.task_index, r.status)))
        .collect();
    assert_eq!(
        by_name["join"],
        (0, TaskStatus::Succeeded),
        "the new file's index"
    );
    assert_eq!(by_name["start"], (3, TaskStatus::Restored));
}

/// Single tasks by name, as the server runs them for a browser: the run is one the runner
/// issued, created in the log on its first task, succeeded once every task has succeeded in
/// it, closed (failed) when one fails. History is never changed: a made-up id, a run of
/// another runner (a CLI run, an earlier server), a finished run and a second run of a task
/// are refused before anything runs, and the log is as it was.
#[tokio::test]
async fn single_tasks_finish_a_browser_run_once_every_task_succeeded() {
    let storage: std::sync::Arc<dyn Storage> = std::sync::Arc::new(MemoryStorage::new());
    let flaky = Team {
        right: Behaviour::Flaky(AtomicU32::new(1)),
        ..Team::default()
    };
    let runner = Runner::new(Crew(flaky))
        .shared_storage(storage.clone())
        .progress(false);
    let index = |name: &str| TASK_REGISTRY.task_index(name).unwrap();
    let refused = |result: Result<State, tasknet::TaskFailure>| {
        let failure = result.expect_err("refused");
        assert_eq!(failure.kind, TaskErrorKind::RunNotOpen, "{failure}");
        failure.message
    };

    let ok = runner.start_browser_run();
    let status = |id: &str| storage.run(id).unwrap().unwrap().status;
    let state = runner
        .run_task(&ok, index("start"), seeded(), None)
        .await
        .unwrap();
    assert_eq!(status(&ok), RunStatus::Running);
    let state = runner
        .run_task(&ok, index("left"), state, None)
        .await
        .unwrap();
    // `left` again in the same run: refused, its record kept.
    let message = refused(
        runner
            .run_task(&ok, index("left"), state.clone(), None)
            .await,
    );
    assert!(message.contains("already ran"), "{message}");
    let failure = runner
        .run_task(&ok, index("right"), state.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(failure.task, "right");
    assert_eq!(status(&ok), RunStatus::Failed);
    // The failed run is closed: trying `right` again there is refused.
    let before = storage.tasks(&ok).unwrap();
    let message = refused(
        runner
            .run_task(&ok, index("right"), state.clone(), None)
            .await,
    );
    assert!(message.contains("no open run"), "{message}");
    assert_eq!(storage.tasks(&ok).unwrap(), before);
    assert_eq!(status(&ok), RunStatus::Failed);

    // A new run goes through (`right` succeeds now) and succeeds with its last task.
    let again = runner.start_browser_run();
    assert_ne!(again, ok);
    let state = runner
        .run_task(&again, index("start"), seeded(), None)
        .await
        .unwrap();
    let state = runner
        .run_task(&again, index("left"), state, None)
        .await
        .unwrap();
    let state = runner
        .run_task(&again, index("right"), state, None)
        .await
        .unwrap();
    assert_eq!(status(&again), RunStatus::Running, "`join` has not run yet");
    let state = runner
        .run_task(&again, index("join"), state, None)
        .await
        .unwrap();
    assert_eq!(state.sum, Some(220));
    assert_eq!(status(&again), RunStatus::Succeeded);
    assert_eq!(storage.tasks(&again).unwrap().len(), 4);
    // Finished: closed.
    refused(
        runner
            .run_task(&again, index("join"), state.clone(), None)
            .await,
    );

    // Runs this runner did not issue: a made-up id, a CLI run, a restarted server's.
    let cli = runner.run(seeded()).await.unwrap();
    let restarted = Runner::new(Crew(Team::default()))
        .shared_storage(storage.clone())
        .progress(false);
    for id in ["made-up", cli.id.as_str(), ok.as_str(), again.as_str()] {
        let before = storage.tasks(id).unwrap();
        refused(
            restarted
                .run_task(id, index("join"), state.clone(), None)
                .await,
        );
        refused(
            runner
                .run_task(id, index("join"), state.clone(), None)
                .await,
        );
        assert_eq!(storage.tasks(id).unwrap(), before, "{id}");
    }
    assert!(storage.run("made-up").unwrap().is_none());
}

/// A limit on the whole task (the server's) stops a hanging task, and the timeout is recorded
/// and finishes the run, instead of the task's record being lost with its future.
#[tokio::test]
async fn a_limit_on_the_whole_task_is_recorded_as_a_timeout() {
    let hanging = Team {
        left: Behaviour::Hang,
        ..Team::default()
    };
    let runner = Runner::new(Crew(hanging))
        .retry(RetryPolicy::new(5, Duration::from_millis(1)))
        .progress(false);
    let run = runner.start_browser_run();
    let state = runner
        .run_task(
            &run,
            TASK_REGISTRY.task_index("start").unwrap(),
            seeded(),
            None,
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let failure = runner
        .run_task(
            &run,
            TASK_REGISTRY.task_index("left").unwrap(),
            state,
            Some(Duration::from_millis(150)),
        )
        .await
        .unwrap_err();
    assert_eq!(failure.kind, TaskErrorKind::Timeout);
    assert!(failure.message.contains("150ms"), "{}", failure.message);
    // One try: the limit bounds the tries together, so no retry starts after it.
    assert_eq!(failure.attempts, 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let records = runner.log().tasks(&run).unwrap();
    let left = records.iter().find(|r| r.task_name == "left").unwrap();
    assert_eq!(left.status, TaskStatus::Failed);
    assert_eq!(left.error_kind.as_deref(), Some("timeout"));
    let run = runner.log().run(&run).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.finished_at.is_some());
}

/// A log whose `put_task` waits until another tokio task, on the same one-thread runtime,
/// has seen it start: if the runner made the call on the runtime's thread, that task could
/// never run, and the call would give up after 10 s.
struct WaitingLog {
    inner: MemoryStorage,
    started: std::sync::Arc<std::sync::atomic::AtomicBool>,
    seen: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Storage for WaitingLog {
    fn describe(&self) -> String {
        "a log that waits".to_owned()
    }
    fn create_run(&self, run: &tasknet::RunRecord) -> Result<(), tasknet::StorageError> {
        self.inner.create_run(run)
    }
    fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        finished_at: &str,
        error: Option<&str>,
    ) -> Result<(), tasknet::StorageError> {
        self.inner.finish_run(run_id, status, finished_at, error)
    }
    fn put_task(&self, task: tasknet::TaskRecord) -> Result<(), tasknet::StorageError> {
        self.started.store(true, Ordering::SeqCst);
        let seen = self
            .seen
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10));
        seen.map_err(|_| {
            tasknet::StorageError::new(
                "insert the task record",
                self.describe(),
                "nothing else ran on the runtime while the log was written: the call blocked its worker thread",
            )
        })?;
        self.inner.put_task(task)
    }
    fn update_task_at(
        &self,
        run_id: &str,
        task_index: usize,
        task: tasknet::TaskRecord,
    ) -> Result<bool, tasknet::StorageError> {
        self.inner.update_task_at(run_id, task_index, task)
    }
    fn delete_tasks(&self, run_id: &str) -> Result<usize, tasknet::StorageError> {
        self.inner.delete_tasks(run_id)
    }
    fn run(&self, run_id: &str) -> Result<Option<tasknet::RunRecord>, tasknet::StorageError> {
        self.inner.run(run_id)
    }
    fn runs(&self) -> Result<Vec<tasknet::RunRecord>, tasknet::StorageError> {
        self.inner.runs()
    }
    fn tasks(&self, run_id: &str) -> Result<Vec<tasknet::TaskRecord>, tasknet::StorageError> {
        self.inner.tasks(run_id)
    }
    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, tasknet::StorageError> {
        self.inner.delete_runs(run_ids)
    }
}

/// A log that waits on a disk (SQLite's fsync, another process's lock) is written off the
/// runtime's worker threads: other tasks keep running meanwhile, on a one-thread runtime too.
#[test]
fn no_log_call_blocks_a_worker_thread() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (seen, seen_by_log) = std::sync::mpsc::channel();
    let log = WaitingLog {
        inner: MemoryStorage::new(),
        started: started.clone(),
        seen: Mutex::new(seen_by_log),
    };
    let runner = Runner::new(Crew(Team::default()))
        .storage(log)
        .progress(false);
    let run = runtime.block_on(async {
        // Tells the log, each time it starts writing, that this task ran meanwhile.
        let watcher = tokio::spawn(async move {
            for _ in 0..4 {
                while !started.swap(false, Ordering::SeqCst) {
                    tokio::task::yield_now().await;
                }
                seen.send(()).unwrap();
            }
        });
        let run = runner.run(seeded()).await;
        watcher.abort();
        run
    });
    let run = run.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.state.sum, Some(220));
    assert_eq!(runner.log().tasks(&run.id).unwrap().len(), 4);
}

/// Two tasks of a browser run this process has not seen, at once, on a log that blocks (its
/// calls go to the blocking pool, so the two overlap): the run is looked up and created once,
/// and both records are in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_of_a_new_browser_run_at_once_open_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteStorage::open(dir.path().join("runs.db")).unwrap();
    let runner = Runner::new(Crew(Team::default()))
        .storage(log)
        .progress(false);
    let state = State {
        a: Some(2),
        ..seeded()
    };
    let index = |name: &str| TASK_REGISTRY.task_index(name).unwrap();
    let run = runner.start_browser_run();
    let (left, right) = tokio::join!(
        runner.run_task(&run, index("left"), state.clone(), None),
        runner.run_task(&run, index("right"), state, None),
    );
    assert_eq!(left.unwrap().l, Some(20));
    assert_eq!(right.unwrap().r, Some(200));
    let runs = runner.log().runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Running);
    assert_eq!(runner.log().tasks(&run).unwrap().len(), 2);
}
