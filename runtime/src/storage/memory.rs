use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{Storage, StorageError};
use crate::log::{RunRecord, RunStatus, TaskRecord};

/// The execution log in memory: for tests, benchmarks and runs that need no history.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    inner: Mutex<Inner>,
}

// foldhash: SipHash of the run id and the task name was 3% of a no-op task's cost; foldhash's
// per-process random seed still spreads keys a client chooses (a browser's run ids).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct Inner {
    /// Oldest first.
    runs: Vec<RunRecord>,
    /// Where each run is in `runs`: a server creates a run per browser run, and a linear
    /// search per task made a busy server slower with every run it had served.
    run_at: Map<String, usize>,
    tasks: Map<String, RunTasks>,
}

/// One run's records, found by task name through a hash of the name (no copy of the name per
/// record; a hash collision falls back to comparing names).
#[derive(Debug, Default)]
struct RunTasks {
    records: Vec<TaskRecord>,
    by_name: Map<u64, usize>,
}

fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(name)
}

impl RunTasks {
    fn position(&self, name: &str) -> Option<usize> {
        match self.by_name.get(&name_hash(name)) {
            Some(&at) if self.records[at].task_name == name => Some(at),
            Some(_) => self.records.iter().position(|r| r.task_name == name),
            None => None,
        }
    }

    fn put(&mut self, task: TaskRecord) {
        match self.position(&task.task_name) {
            Some(at) => self.records[at] = task,
            None => {
                self.by_name
                    .entry(name_hash(&task.task_name))
                    .or_insert(self.records.len());
                self.records.push(task);
            }
        }
    }
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written record: every write is
        // one push or one assignment.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn unknown_run(op: &str, run_id: &str) -> StorageError {
    StorageError::new(op, "memory", format!("no run `{run_id}`"))
}

impl Storage for MemoryStorage {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn blocks(&self) -> bool {
        false
    }

    fn create_run(&self, run: &RunRecord) -> Result<(), StorageError> {
        let mut inner = self.lock();
        if inner.run_at.contains_key(&run.id) {
            return Err(StorageError::new(
                "create the run",
                "memory",
                format!("run `{}` exists already", run.id),
            ));
        }
        let at = inner.runs.len();
        inner.run_at.insert(run.id.clone(), at);
        inner.runs.push(run.clone());
        Ok(())
    }

    fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        finished_at: &str,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let at = *inner
            .run_at
            .get(run_id)
            .ok_or_else(|| unknown_run("finish the run", run_id))?;
        let run = &mut inner.runs[at];
        run.status = status;
        run.finished_at = Some(finished_at.to_owned());
        run.error = error.map(str::to_owned);
        Ok(())
    }

    fn put_task(&self, task: TaskRecord) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let tasks = match inner.tasks.get_mut(&task.run_id) {
            Some(tasks) => tasks,
            None => inner.tasks.entry(task.run_id.clone()).or_default(),
        };
        tasks.put(task);
        Ok(())
    }

    fn expect_tasks(&self, run_id: &str, tasks: usize) {
        let mut inner = self.lock();
        let run = inner.tasks.entry(run_id.to_owned()).or_default();
        run.records.reserve(tasks);
        run.by_name.reserve(tasks);
    }

    fn update_task_at(
        &self,
        run_id: &str,
        task_index: usize,
        task: TaskRecord,
    ) -> Result<bool, StorageError> {
        let mut inner = self.lock();
        let Some(tasks) = inner.tasks.get_mut(run_id) else {
            return Ok(false);
        };
        let Some(at) = tasks
            .records
            .iter()
            .position(|t| t.task_index == task_index)
        else {
            return Ok(false);
        };
        let old = std::mem::replace(&mut tasks.records[at], task);
        if old.task_name != tasks.records[at].task_name {
            let old_hash = name_hash(&old.task_name);
            if tasks.by_name.get(&old_hash) == Some(&at) {
                tasks.by_name.remove(&old_hash);
            }
            let name = name_hash(&tasks.records[at].task_name);
            tasks.by_name.entry(name).or_insert(at);
        }
        Ok(true)
    }

    fn delete_tasks(&self, run_id: &str) -> Result<usize, StorageError> {
        Ok(self
            .lock()
            .tasks
            .remove(run_id)
            .map_or(0, |t| t.records.len()))
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StorageError> {
        let inner = self.lock();
        Ok(inner.run_at.get(run_id).map(|&at| inner.runs[at].clone()))
    }

    fn runs(&self) -> Result<Vec<RunRecord>, StorageError> {
        Ok(self.lock().runs.clone())
    }

    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRecord>, StorageError> {
        let mut tasks = self
            .lock()
            .tasks
            .get(run_id)
            .map(|t| t.records.clone())
            .unwrap_or_default();
        tasks.sort_unstable_by_key(|t| t.task_index);
        Ok(tasks)
    }

    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StorageError> {
        let mut inner = self.lock();
        let before = inner.runs.len();
        inner.runs.retain(|r| !run_ids.contains(&r.id));
        let run_at = inner
            .runs
            .iter()
            .enumerate()
            .map(|(at, r)| (r.id.clone(), at))
            .collect();
        inner.run_at = run_at;
        for id in run_ids {
            inner.tasks.remove(id);
        }
        Ok(before - inner.runs.len())
    }
}
