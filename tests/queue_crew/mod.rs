//! The work-queue tests' crew (tests/fixtures/queue_crew.yaml): each task sleeps `work_ms`,
//! then derives its output from its inputs only, so that a run's final output says whether
//! every task saw its predecessors' outputs, wherever each ran.

use std::time::Duration;

use tasknet::{TaskContext, TaskError};

tasknet::task_registry!("tests/fixtures/queue_crew.yaml");

pub struct Shop;

async fn work(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

impl Tasks for Shop {
    async fn read_email(
        &self,
        _ctx: &TaskContext,
        input: ReadEmailInput,
    ) -> Result<ReadEmailOutput, TaskError> {
        work(input.work_ms).await;
        Ok(ReadEmailOutput {
            emails: (0..3)
                .map(|i| format!("email {}.{i}", input.batch))
                .collect(),
        })
    }

    async fn classify_message(
        &self,
        _ctx: &TaskContext,
        input: ClassifyMessageInput,
    ) -> Result<ClassifyMessageOutput, TaskError> {
        work(input.work_ms).await;
        Ok(ClassifyMessageOutput {
            categories: input.emails.iter().map(|e| format!("order:{e}")).collect(),
        })
    }

    async fn check_stock_availability(
        &self,
        _ctx: &TaskContext,
        input: CheckStockAvailabilityInput,
    ) -> Result<CheckStockAvailabilityOutput, TaskError> {
        work(input.work_ms).await;
        Ok(CheckStockAvailabilityOutput {
            stock: input.categories.iter().map(|c| c.len() as u64).collect(),
        })
    }

    async fn draft_reply(
        &self,
        _ctx: &TaskContext,
        input: DraftReplyInput,
    ) -> Result<DraftReplyOutput, TaskError> {
        work(input.work_ms).await;
        Ok(DraftReplyOutput {
            drafts: input
                .emails
                .iter()
                .zip(&input.categories)
                .map(|(e, c)| format!("re: {e} ({c})"))
                .collect(),
        })
    }

    async fn send_reply(
        &self,
        _ctx: &TaskContext,
        input: SendReplyInput,
    ) -> Result<SendReplyOutput, TaskError> {
        work(input.work_ms).await;
        Ok(SendReplyOutput {
            sent: input
                .drafts
                .iter()
                .zip(&input.stock)
                .map(|(d, s)| format!("{d} [{s} in stock]"))
                .collect(),
        })
    }
}

/// What `send_reply` must produce for `batch`, computed apart from the crew.
pub fn expected_sent(batch: u64) -> Vec<String> {
    (0..3)
        .map(|i| {
            let email = format!("email {batch}.{i}");
            let category = format!("order:{email}");
            format!("re: {email} ({category}) [{} in stock]", category.len())
        })
        .collect()
}

pub fn app() -> tasknet::App<Crew<Shop>> {
    tasknet::App::new("queue_crew", Crew(Shop))
}
