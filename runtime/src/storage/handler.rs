use std::sync::Arc;

use super::{Storage, StorageError};
use crate::log::{ExecutionLog, TaskRecord};

/// The seed's `TaskOutputStorageHandler` (CrewAI's), bound to one run of a [`Storage`].
///
/// Same semantics as the seed: `update` of a replayed entry replaces the row at its
/// `task_index`, any other entry is added; `load` returns the run's entries in task order;
/// `reset` empties the run. Unlike CrewAI, other runs are never touched.
pub struct TaskOutputStorageHandler {
    storage: Arc<dyn Storage>,
    run_id: String,
}

impl TaskOutputStorageHandler {
    pub fn new(storage: Arc<dyn Storage>, run_id: impl Into<String>) -> Self {
        TaskOutputStorageHandler {
            storage,
            run_id: run_id.into(),
        }
    }

    pub fn add(&self, log: &ExecutionLog) -> Result<(), StorageError> {
        self.storage
            .put_task(TaskRecord::from_execution_log(&self.run_id, log))
    }

    pub fn update(&self, task_index: usize, log: &ExecutionLog) -> Result<(), StorageError> {
        let record = TaskRecord::from_execution_log(&self.run_id, log);
        if log.was_replayed
            && self
                .storage
                .update_task_at(&self.run_id, task_index, record.clone())?
        {
            return Ok(());
        }
        self.storage.put_task(record)
    }

    pub fn load(&self) -> Result<Vec<ExecutionLog>, StorageError> {
        Ok(self
            .storage
            .tasks(&self.run_id)?
            .iter()
            .map(TaskRecord::execution_log)
            .collect())
    }

    pub fn reset(&self) -> Result<(), StorageError> {
        self.storage.delete_tasks(&self.run_id).map(|_| ())
    }
}
