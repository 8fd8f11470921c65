//! parse + validate + emit for generated files of 100, 2,000 and 10,000 tasks:
//! `check` (yaml -> checked model), `check_and_tokens` (what `task_registry!` does at compile
//! time) and `check_and_pretty` (what the build.rs Builder and `tasknet generate` do: the same
//! tokens, printed by prettyplease).
//! Run: `cargo bench -p tasknet-codegen --bench generate`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tasknet_codegen::{RustOptions, SourceFile, check, emit, generate_rust, synthetic};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("codegen");
    group.sample_size(10);
    for n in [100usize, 2_000, 10_000] {
        let yaml = synthetic::tasks_yaml(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("check", n), &yaml, |b, yaml| {
            b.iter(|| check(SourceFile::new("tasks.yaml", yaml.as_str()), None, None).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("check_and_tokens", n), &yaml, |b, yaml| {
            b.iter(|| {
                let checked =
                    check(SourceFile::new("tasks.yaml", yaml.as_str()), None, None).unwrap();
                emit::rust::items(&checked.model, &RustOptions::default())
            })
        });
        group.bench_with_input(BenchmarkId::new("check_and_pretty", n), &yaml, |b, yaml| {
            b.iter(|| {
                let checked =
                    check(SourceFile::new("tasks.yaml", yaml.as_str()), None, None).unwrap();
                generate_rust(&checked.model, &RustOptions::default())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
