// An empty tasks.yaml gives an empty registry that compiles warning-free (but for the yaml's
// own warning, allowed here) and runs: a run of no task succeeds.
#![deny(warnings)]

#[allow(deprecated)]
mod crew {
    tasknet::task_registry!("./empty_registry.yaml");
}

use crew::*;

struct Team;

impl Tasks for Team {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert!(TASK_REGISTRY.tasks.is_empty());
    assert!(PETRI_NET.places.len() >= 2);
    let run = tasknet::Runner::new(Crew(Team)).progress(false).run(State::default()).await.unwrap();
    assert_eq!(run.tasks_run, 0);
    assert!(run.state.execution_log.is_empty());
}
