//! The smallest tasknet program: two tasks from `tasks.yaml`, the registry generated at compile
//! time by the macro, run by the runtime with an in-memory log.
//!
//!     cargo run --example minimal

use tasknet::{Runner, TaskContext, TaskError};

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

    async fn write(&self, ctx: &TaskContext, input: WriteInput) -> Result<WriteOutput, TaskError> {
        // The description with its placeholders filled from this task's input.
        println!("{}: {}", ctx.task, ctx.description);
        let words: Vec<&str> = input.facts.iter().flat_map(|f| f.split(' ')).collect();
        let paragraph = words[..words.len().min(input.input_data.max_words as usize)].join(" ");
        Ok(WriteOutput { paragraph })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runner = Runner::new(Crew(Writer));
    let run = runner
        .run(State {
            topic: Some("mangoes".into()),
            ..State::default()
        })
        .await?;
    println!("{}", run.state.paragraph.as_deref().unwrap_or_default());
    for entry in &run.state.execution_log {
        println!("ran {} at {}", entry.task, entry.timestamp);
    }
    Ok(())
}
