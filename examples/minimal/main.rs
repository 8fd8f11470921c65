//! The smallest tasknet program: two tasks, the registry generated at compile time by the
//! macro, run here by hand, in topological order, without the runtime's executor.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tasknet::{TaskContext, TaskError, TaskSet, TaskState};

tasknet::task_registry!("examples/minimal/tasks.yaml");

struct Writer;

impl Tasks for Writer {
    async fn research(
        &self,
        _ctx: &TaskContext,
        input: ResearchInput,
    ) -> Result<ResearchOutput, TaskError> {
        let facts = (1..=3)
            .map(|i| format!("fact {i} about {}", input.topic))
            .collect();
        Ok(ResearchOutput { facts })
    }

    async fn write(&self, _ctx: &TaskContext, input: WriteInput) -> Result<WriteOutput, TaskError> {
        let words: Vec<&str> = input.facts.iter().flat_map(|f| f.split(' ')).collect();
        let paragraph = words[..words.len().min(input.input_data.max_words as usize)].join(" ");
        Ok(WriteOutput { paragraph })
    }
}

/// These tasks never wait, so polling once finishes them.
fn finish<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the minimal example's tasks never wait"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crew = Crew(Writer);
    let mut state = State {
        topic: Some("mangoes".into()),
        ..State::default()
    };
    for &index in TASK_REGISTRY.order {
        let spec = &TASK_REGISTRY.tasks[index];
        let ctx = TaskContext {
            task: spec.name,
            ..TaskContext::default()
        };
        let output = finish(crew.call(index, &ctx, &state)?)
            .map_err(|e| format!("task `{}` failed: {e}", spec.name))?;
        output.apply(&mut state);
    }
    println!("{}", state.paragraph.as_deref().unwrap_or_default());
    for entry in state.execution_log() {
        println!("ran {} at {}", entry.task, entry.timestamp);
    }
    Ok(())
}
