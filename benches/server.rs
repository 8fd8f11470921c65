//! Load generator for the WebSocket task server, on loopback against a no-op task:
//! sequential round trips on one connection (p50/p99), throughput over 16 connections, and a
//! fresh connection per task (what the seed's `logica` does); and, for scale, the machine's
//! floor: a plain TCP echo round trip on the same loopback.
//! Run: `cargo bench --bench server` (prints medians of 5 rounds each).

//! The client is `bench/src/ws_load.rs`, shared with `tasknet-compare ws-load`.

use tasknet::server::{Server, ServerConfig};
use tasknet::{MemoryStorage, Runner, TaskContext, TaskError};

tasknet::task_registry!(
    name = "noop",
    yaml = "noop:\n  description: Does nothing.\n  expected_output: n.\n  produces: {n: u64}\n"
);

struct NoOp;

impl Tasks for NoOp {
    async fn noop(&self, _: &TaskContext, _: NoopInput) -> Result<NoopOutput, TaskError> {
        Ok(NoopOutput { n: 1 })
    }
}

#[path = "../bench/src/ws_load.rs"]
mod ws_load;

use ws_load::{fresh, median, sequential, tcp_round_trip_p50, throughput};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let runner = Runner::new(Crew(NoOp))
            .storage(MemoryStorage::new())
            .progress(false);
        let server = Server::bind(
            runner,
            ServerConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                max_concurrent_tasks: 1024,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let url = format!("ws://{}/", server.local_addr());
        tokio::spawn(server.run_until(std::future::pending()));

        // The floor first, in 5 rounds of its own: measured inside each server round, it put
        // the sequential p50 that followed at 134 µs instead of 114 (same runtime threads).
        let mut floors = Vec::new();
        for _ in 0..5 {
            floors.push(tcp_round_trip_p50(5_000).await);
        }
        let tcp_floor = median(floors);
        let (mut p50s, mut p99s, mut throughputs, mut fresh_us) = (vec![], vec![], vec![], vec![]);
        for _ in 0..5 {
            let (p50, p99) = sequential(&url, 5_000).await;
            p50s.push(p50);
            p99s.push(p99);
            throughputs.push(throughput(&url, 16, 4_000).await);
            fresh_us.push(fresh(&url, 300).await);
        }
        println!("server (no-op task, loopback, medians of 5 rounds):");
        println!(
            "  sequential round trip, one connection: p50 {:.1} us, p99 {:.1} us",
            median(p50s),
            median(p99s)
        );
        println!(
            "  floor: a 100-byte TCP echo round trip on this loopback, no WebSocket: p50 {tcp_floor:.1} us"
        );
        println!(
            "  throughput, 16 connections x 8 in flight: {:.0} tasks/s",
            median(throughputs)
        );
        println!(
            "  fresh connection per task: {:.1} us per task",
            median(fresh_us)
        );
    });
}
