//! Executor overhead: chains of no-op tasks with an in-memory log, with a small state and with
//! a state already holding 1,000 fields of 1 KB. The per-task cost is the slope between the
//! 10-task and the 100-task chain (a run's fixed cost, e.g. logging its kickoff inputs, cancels
//! out). Run: `cargo bench --bench runtime`.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tasknet::{MemoryStorage, Runner, TaskContext, TaskError};

macro_rules! chain {
    ($module:ident, $yaml:literal, $impl:literal) => {
        mod $module {
            use super::*;
            tasknet::task_registry!($yaml);
            pub struct NoOp;
            include!($impl);
        }
    };
}

chain!(
    small10,
    "benches/fixtures/chain10.yaml",
    "fixtures/chain10_impl.rs"
);
chain!(
    small100,
    "benches/fixtures/chain100.yaml",
    "fixtures/chain100_impl.rs"
);
chain!(
    wide10,
    "benches/fixtures/chain10_wide.yaml",
    "fixtures/chain10_impl.rs"
);
chain!(
    wide100,
    "benches/fixtures/chain100_wide.yaml",
    "fixtures/chain100_impl.rs"
);

/// Sets the 1,000 `f*` fields to 1 KB strings.
fn fill<S: tasknet::TaskState>(state: &mut S) {
    let kb = "x".repeat(1024);
    for i in 0..1000 {
        state
            .set_json(&format!("f{i}"), serde_json::Value::String(kb.clone()))
            .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("chain");
    macro_rules! case {
        ($module:ident, $label:literal, $tasks:literal, $wide:literal) => {{
            let mut state = $module::State {
                start: Some(0),
                ..Default::default()
            };
            if $wide {
                fill(&mut state);
            }
            group.throughput(Throughput::Elements($tasks));
            group.bench_function(BenchmarkId::new($label, $tasks), |b| {
                b.iter_batched(
                    || {
                        let runner = Runner::new($module::Crew($module::NoOp))
                            .storage(MemoryStorage::new())
                            .progress(false);
                        (runner, state.clone())
                    },
                    |(runner, state)| {
                        let run = rt.block_on(runner.run(state)).unwrap();
                        assert_eq!(run.tasks_run, $tasks);
                        (runner, run)
                    },
                    // A 1 MB state per input: prepared one at a time, so that the run does not
                    // start on memory evicted by a batch of other inputs.
                    if $wide {
                        BatchSize::PerIteration
                    } else {
                        BatchSize::SmallInput
                    },
                )
            });
        }};
    }
    case!(small10, "small_state", 10, false);
    case!(small100, "small_state", 100, false);
    case!(wide10, "state_1000x1KB", 10, true);
    case!(wide100, "state_1000x1KB", 100, true);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
