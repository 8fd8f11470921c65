//! The throwaway cluster the PostgreSQL tests stand on: it starts on its own port, answers
//! SQL, survives a crash-stop and a restart with its data, and is gone once dropped.

use std::process::Output;

use tasknet_testkit::postgres::Cluster;

fn psql(cluster: &Cluster, sql: &str) -> Output {
    cluster
        .program("psql")
        .args(["-h", "127.0.0.1", "-p", &cluster.port().to_string()])
        .args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ])
        .output()
        .expect("psql runs")
}

fn answer(cluster: &Cluster, sql: &str) -> String {
    let out = psql(cluster, sql);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_throwaway_cluster_serves_restarts_and_goes_away() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let version: u32 = answer(&cluster, "show server_version_num").parse().unwrap();
    assert!(version >= 150_000, "{version}");
    answer(
        &cluster,
        "create table kept (n int); insert into kept values (42)",
    );
    cluster.stop();
    assert!(!psql(&cluster, "select 1").status.success(), "stopped");
    cluster.restart();
    assert_eq!(answer(&cluster, "select n from kept"), "42");
    let port = cluster.port();
    drop(cluster);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server is gone"
    );
}
