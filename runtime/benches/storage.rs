//! The execution log in SQLite: durable writes (one commit, one fsync, per task record),
//! batched writes (one transaction for 1,000 records) and loading a run of 100,000 records;
//! then the disk's floor for a durable commit (a 4 KiB write and `fdatasync`, no SQLite).
//! Run: `cargo bench -p tasknet-runtime --bench storage`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use tasknet_runtime::{RunRecord, RunStatus, SqliteStorage, Storage, TaskRecord, TaskStatus};

fn run(id: &str) -> RunRecord {
    RunRecord {
        id: id.to_owned(),
        registry: "bench".to_owned(),
        source_hash: "0123456789abcdef".to_owned(),
        started_at: "2026-11-21T06:00:00.000Z".to_owned(),
        finished_at: None,
        status: RunStatus::Running,
        inputs: json!({"topic": "mangoes"}),
        parent_run: None,
        replay_task: None,
        replay_mode: None,
        error: None,
    }
}

/// A record the size of a small task's: a few fields in, one out.
fn record(run_id: &str, i: usize) -> TaskRecord {
    TaskRecord {
        run_id: run_id.to_owned(),
        task_index: i,
        task_name: format!("task_{i}").into(),
        expected_output: "A short answer.".into(),
        inputs: json!({"email": "an order for 20 kg of mangoes", "input_data": {"n": 3}}).into(),
        output: json!({"category": "order"}).into(),
        status: TaskStatus::Succeeded,
        error_kind: None,
        error: None,
        was_replayed: false,
        started_at: "2026-11-21T06:00:00.000Z".to_owned(),
        finished_at: "2026-11-21T06:00:00.001Z".to_owned(),
        duration_ms: 0.8,
        attempts: 1,
        llm: None,
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("sqlite_log");

    // Durable: every record its own commit with synchronous = FULL (an fsync each).
    let durable = SqliteStorage::open(dir.path().join("durable.db")).unwrap();
    durable.create_run(&run("r")).unwrap();
    let mut n = 0usize;
    group.throughput(Throughput::Elements(1));
    group.bench_function("durable_write_per_record", |b| {
        b.iter(|| {
            n += 1;
            durable.put_task(record("r", n)).unwrap();
        })
    });

    // Batched: 1,000 records in one transaction (one fsync).
    let batched = SqliteStorage::open(dir.path().join("batched.db")).unwrap();
    let mut runs = 0usize;
    group.throughput(Throughput::Elements(1000));
    group.bench_function("batched_write_1000", |b| {
        b.iter_batched(
            || {
                runs += 1;
                let id = format!("r{runs}");
                batched.create_run(&run(&id)).unwrap();
                (0..1000).map(|i| record(&id, i)).collect::<Vec<_>>()
            },
            |records| batched.put_tasks(records).unwrap(),
            BatchSize::SmallInput,
        )
    });

    // Loading: one run of 100,000 records, read back and decoded.
    let load = SqliteStorage::open(dir.path().join("load.db")).unwrap();
    load.create_run(&run("big")).unwrap();
    load.put_tasks((0..100_000).map(|i| record("big", i)).collect())
        .unwrap();
    group.throughput(Throughput::Elements(100_000));
    group.sample_size(10);
    group.bench_function("load_100000", |b| {
        // The records are dropped outside the timing: freeing them is not loading them.
        b.iter_with_large_drop(|| {
            let tasks = load.tasks("big").unwrap();
            assert_eq!(tasks.len(), 100_000);
            tasks
        })
    });
    group.finish();
    disk_floor(c, dir.path());
}

/// The disk's own limit for durable commits, without SQLite: a 4 KiB write after the previous
/// one in a preallocated file, then `fdatasync`, as a WAL commit does. One commit per record
/// cannot go faster than this.
fn disk_floor(c: &mut Criterion, dir: &std::path::Path) {
    use std::os::unix::fs::FileExt;
    const FILE: u64 = 8 << 20;
    let file = std::fs::File::create(dir.join("floor")).unwrap();
    file.write_all_at(&vec![0; FILE as usize], 0).unwrap();
    file.sync_all().unwrap();
    let page = [7u8; 4096];
    let mut offset = 0;
    let mut group = c.benchmark_group("disk_floor");
    group.throughput(Throughput::Elements(1));
    group.bench_function("write_4k_fdatasync", |b| {
        b.iter(|| {
            file.write_all_at(&page, offset).unwrap();
            file.sync_data().unwrap();
            offset = (offset + 4096) % FILE;
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
