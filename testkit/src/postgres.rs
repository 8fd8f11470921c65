//! A throwaway PostgreSQL cluster for one test: `initdb` into a temporary directory, a server
//! on a private port (loopback and a socket in that directory only), stopped and removed when
//! dropped. Never a shared or system cluster. Debian's `postgresql` package provides the
//! programs (in `/usr/lib/postgresql/VERSION/bin`, or on `PATH`); PostgreSQL refuses to run as
//! root, so as root the cluster runs as the package's `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

const INSTALL: &str = "Debian: postgresql; .ci/run installs it";

/// A running throwaway cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_user: Option<String>,
    options: ClusterOptions,
}

/// Where a cluster runs and who may connect.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The network namespace to run the server in (`crate::netns`), or this host's.
    pub netns: Option<String>,
    /// The addresses it listens on (default: 127.0.0.1).
    pub listen: Vec<String>,
    /// Networks (CIDR) trusted besides loopback.
    pub trust: Vec<String>,
    /// More server settings, `name=value` (each passed as `-c name=value`).
    pub settings: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            netns: None,
            listen: vec!["127.0.0.1".to_owned()],
            trust: Vec::new(),
            settings: Vec::new(),
        }
    }
}

impl Cluster {
    /// Starts a cluster whose superuser is `postgres` (trust authentication, loopback only),
    /// or `None`, after saying why, when PostgreSQL is not installed.
    pub fn start() -> Option<Cluster> {
        Self::start_with(ClusterOptions::default())
    }

    /// [`Cluster::start`] with `options`.
    pub fn start_with(options: ClusterOptions) -> Option<Cluster> {
        let Some(bin) = server_bin() else {
            crate::skip(&format!("PostgreSQL's initdb is not installed ({INSTALL})"));
            return None;
        };
        let as_user = is_root().then(|| "postgres".to_owned());
        let dir =
            std::env::temp_dir().join(format!("tasknet-pg-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("a directory for the cluster");
        let mut cluster = Cluster {
            dir,
            bin,
            port: free_port(),
            as_user,
            options,
        };
        if let Some(user) = &cluster.as_user {
            let status = Command::new("chown")
                .args([user.as_str(), &cluster.dir.display().to_string()])
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "cannot give the cluster's directory to {user}"
            );
        }
        let data = cluster.dir.join("data");
        let out = cluster
            .program("initdb")
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !cluster.options.trust.is_empty() {
            use std::io::Write as _;
            let mut hba = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("pg_hba.conf"))
                .expect("pg_hba.conf");
            for net in &cluster.options.trust {
                writeln!(hba, "host all all {net} trust").expect("pg_hba.conf written");
            }
        }
        if let Err(log) = cluster.serve() {
            cluster.port = 0;
            panic!("the PostgreSQL server did not start: {log}");
        }
        Some(cluster)
    }

    /// The cluster's own directory (the data directory is `data` in it); as root, owned by
    /// the server's user.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` (`postgres` exists from the start).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A PostgreSQL program (`psql`, `pg_dump`, ...) of the cluster's installation, run as the
    /// cluster's user.
    pub fn program(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        let mut words: Vec<std::ffi::OsString> = Vec::new();
        if let Some(ns) = &self.options.netns {
            words.extend(["ip".into(), "netns".into(), "exec".into(), ns.into()]);
        }
        if let Some(user) = &self.as_user {
            words.extend(["runuser".into(), "-u".into(), user.into(), "--".into()]);
        }
        words.push(path.into());
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]).current_dir(&self.dir);
        command
    }

    /// Runs `sql` through psql on `database` as the superuser; its output, trimmed (one line
    /// per row, columns split by `|`), or psql's error.
    pub fn sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = self
            .program("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Stops the server at once (`immediate`: as a crash would), keeping its files: `start`
    /// again with [`Cluster::restart`].
    pub fn stop(&self) {
        let _ = self
            .program("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&self) {
        if let Err(log) = self.serve() {
            panic!("the PostgreSQL server did not start again: {log}");
        }
    }

    /// `pg_ctl start`, waiting until the server accepts connections; its log when it fails.
    fn serve(&self) -> Result<(), String> {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses={} -c fsync=off",
            self.port,
            self.dir.display(),
            self.options.listen.join(",")
        );
        for setting in &self.options.settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let log = self.dir.join("server.log");
        let status = self
            .program("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(&log)
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(std::fs::read_to_string(&log).unwrap_or_default())
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.port != 0 {
            self.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, or Debian's newest installed
/// version.
fn server_bin() -> Option<PathBuf> {
    if let Some(initdb) = crate::find_on_path("initdb") {
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A number no other cluster of this process has had.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
