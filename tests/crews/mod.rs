//! The crews the agent tests run (tests/agents.rs against a scripted server,
//! tests/llm_model.rs against a real model): one mixing agent tasks with code, and one of
//! CrewAI's own files with no task code at all.

use tasknet::{TaskContext, TaskError};

pub mod mixed {
    tasknet::task_registry!(
        file = "tests/fixtures/mixed_crew.tasks.yaml",
        agents = "tests/fixtures/mixed_crew.agents.yaml"
    );
}

pub mod crewai_test_config {
    tasknet::task_registry!(
        file = "tests/fixtures/crewai/lib__crewai__tests__config__tasks.yaml",
        agents = "tests/fixtures/crewai/lib__crewai__tests__config__agents.yaml"
    );
}

/// Only `count_products` (no agent) is code; the other two are left to their agents.
pub struct Team;

impl mixed::Tasks for Team {
    async fn count_products(
        &self,
        _ctx: &TaskContext,
        input: mixed::CountProductsInput,
    ) -> Result<mixed::CountProductsOutput, TaskError> {
        Ok(mixed::CountProductsOutput {
            count: input.products.len() as u64,
        })
    }
}

/// No task code: every task runs through its agent.
pub struct NoCode;

impl crewai_test_config::Tasks for NoCode {}
