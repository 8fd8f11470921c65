//! Several hosts on one machine: PostgreSQL and three workers each in a network namespace of
//! the test's own, every worker reaching the database over its own veth link. 200 runs of the
//! sales pipeline's shape (a fork and a join), while workers are killed with SIGKILL at 20
//! random moments (and started again), one worker's link is cut mid-task and restored, and
//! PostgreSQL is crash-stopped and restarted mid-run. Then every run must have succeeded with
//! the output its inputs call for, every task have its one record, and the log's counts match
//! what the workers that stopped cleanly report. Root only (CI runs as root).

mod queue_crew;

use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use queue_crew::{Crew, Shop, app_in, expected_sent, stopped, terminate};
use tasknet::{PostgresStorage, RunStatus, Runner, Storage};
use tasknet_testkit::netns::{Link, Namespace, available};
use tasknet_testkit::postgres::{Cluster, ClusterOptions};

const RUNS: u64 = 200;
const KILLS: usize = 20;
const WORK_MS: u64 = 60;

/// In a child only: the crew's App with the parent's arguments.
#[test]
fn child_app() {
    queue_crew::child_main();
}

/// splitmix64: the moments and victims, reproducible from the printed seed.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

struct Host {
    ns: Namespace,
    link: Link,
    url: String,
    worker: Option<(String, Child)>,
    generation: u32,
}

impl Host {
    fn start_worker(&mut self, index: usize) {
        self.generation += 1;
        let name = format!("host{index}-gen{}", self.generation);
        let child = app_in(
            Some(&self.ns),
            &[
                "--log",
                &self.url,
                "worker",
                "--concurrency",
                "4",
                "--lease",
                "1",
                "--name",
                &name,
            ],
        )
        .spawn()
        .unwrap();
        self.worker = Some((name, child));
    }

    fn kill_worker(&mut self) {
        if let Some((_, mut child)) = self.worker.take() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
    }
}

#[test]
fn three_hosts_survive_kills_a_cut_link_and_a_database_restart() {
    if available().is_none() {
        return;
    }
    let db = Namespace::create("db");
    // The test's own host reaches the database on 10.213.0.x, host i on 10.213.(i+1).x.
    let own_link = Link::new(None, &db, 0);
    let mut hosts: Vec<Host> = (0..3)
        .map(|i| {
            let ns = Namespace::create(&format!("w{i}"));
            let link = Link::new(Some(&ns), &db, i as u8 + 1);
            Host {
                ns,
                link,
                url: String::new(),
                worker: None,
                generation: 0,
            }
        })
        .collect();
    let mut listen = vec!["127.0.0.1".to_owned(), own_link.far_addr.clone()];
    listen.extend(hosts.iter().map(|h| h.link.far_addr.clone()));
    let Some(cluster) = Cluster::start_with(ClusterOptions {
        netns: Some(db.name().to_owned()),
        listen,
        trust: vec!["10.213.0.0/16".to_owned()],
        ..ClusterOptions::default()
    }) else {
        return;
    };
    let url_at = |addr: &str| format!("postgres://postgres@{addr}:{}/postgres", cluster.port());
    for (i, host) in hosts.iter_mut().enumerate() {
        host.url = url_at(&host.link.far_addr);
        host.start_worker(i);
    }
    let log = Arc::new(PostgresStorage::connect(&url_at(&own_link.far_addr)).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runner = Runner::new(Crew(Shop))
        .shared_storage(log.clone())
        .progress(false);
    let started = Instant::now();
    let ids: Vec<String> = rt.block_on(async {
        let mut ids = Vec::new();
        for batch in 0..RUNS {
            let state = queue_crew::State {
                batch: Some(batch),
                work_ms: Some(WORK_MS),
                ..Default::default()
            };
            ids.push(runner.submit(&log, state).await.unwrap());
        }
        ids
    });

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("fault schedule seed: {seed}");
    let mut random = Random(seed);
    let mut cut = None;
    let mut cut_mid_task = false;
    let mut restarted = None;
    for kill in 0..KILLS {
        std::thread::sleep(Duration::from_millis(100 + random.next(300)));
        let victim = random.next(3) as usize;
        hosts[victim].kill_worker();
        hosts[victim].start_worker(victim);
        if kill == KILLS / 3 {
            // The link of a worker that holds a task cut for longer than a lease, then
            // restored: its task goes to another worker, its late result is dropped.
            let holding = cluster
                .sql(
                    "postgres",
                    "SELECT worker FROM task_queue WHERE state = 'claimed' AND lease_until > now()",
                )
                .unwrap_or_default();
            let holder = hosts.iter().position(|h| {
                h.worker
                    .as_ref()
                    .is_some_and(|(name, _)| holding.lines().any(|w| w == name))
            });
            cut_mid_task = holder.is_some();
            let host = holder.unwrap_or(random.next(3) as usize);
            hosts[host].link.set_up(false);
            std::thread::sleep(Duration::from_millis(2_500));
            hosts[host].link.set_up(true);
            cut = Some(host);
        }
        if kill == 2 * KILLS / 3 {
            cluster.stop();
            std::thread::sleep(Duration::from_millis(1_000));
            cluster.restart();
            restarted = Some(started.elapsed());
        }
    }
    let faults_done = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(180);
    let runs: Vec<tasknet::RunRecord> = rt.block_on(async {
        let mut runs = Vec::new();
        for id in &ids {
            let left = deadline.saturating_duration_since(Instant::now());
            runs.push(log.wait_for_run(id, left).await.unwrap().unwrap());
        }
        runs
    });
    let all_done = started.elapsed();
    let mut reported = Vec::new();
    for host in &mut hosts {
        let (name, child) = host.worker.take().unwrap();
        terminate(&child);
        let (stored, failed, lost, handed_back, stderr) = stopped(child);
        assert_eq!((failed, handed_back), (0, 0), "{name}: {stderr}");
        reported.push((name, stored, lost));
    }

    for (run, batch) in runs.iter().zip(0..) {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        let tasks = log.tasks(&run.id).unwrap();
        assert_eq!(tasks.len(), 5, "run {} is missing records", run.id);
        let sent = tasks.iter().find(|t| t.task_name == "send_reply").unwrap();
        let sent: Vec<String> =
            serde_json::from_value(sent.output.value()["sent"].clone()).unwrap();
        assert_eq!(sent, expected_sent(batch), "run {}", run.id);
    }
    let sql = |q: &str| cluster.sql("postgres", q).unwrap();
    assert_eq!(
        sql("SELECT count(*) FROM task_outputs"),
        (RUNS * 5).to_string()
    );
    assert_eq!(
        sql("SELECT count(*) FROM task_outputs WHERE status <> 'succeeded'"),
        "0"
    );
    assert_eq!(
        sql("SELECT count(*) FROM task_queue WHERE state = 'done'"),
        (RUNS * 5).to_string()
    );
    for (name, stored, _) in &reported {
        let logged = sql(&format!(
            "SELECT count(*) FROM task_queue WHERE worker = '{name}' AND state = 'done'"
        ));
        assert_eq!(
            logged,
            stored.to_string(),
            "{name}: the log and its report differ"
        );
    }
    let taken_over = sql("SELECT count(*) FROM task_queue WHERE attempts > 1");
    let claims = sql("SELECT sum(attempts) FROM task_queue");
    let recorded_attempts = sql("SELECT sum(attempts) FROM task_outputs");
    let lost: u64 = reported.iter().map(|r| r.2).sum();
    eprintln!(
        "{RUNS} runs ({} tasks) on 3 hosts: all succeeded, each task recorded once; {KILLS} SIGKILLs, link of host{} cut for 2.5 s, PostgreSQL restarted at {:.1?}; {taken_over} tasks taken over, {claims} claims in all, {recorded_attempts} attempts recorded, {lost} late results dropped by the last workers; faults over at {faults_done:.1?}, every run done at {all_done:.1?}; last workers' reports match the log: {reported:?}",
        RUNS * 5,
        cut.unwrap(),
        restarted.unwrap(),
    );
    assert!(cut_mid_task, "no worker held a task when the link was cut");
    assert!(
        taken_over.parse::<u64>().unwrap() > 0,
        "no task was taken over: the faults missed every task"
    );
}
