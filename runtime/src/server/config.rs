//! What the server accepts: its settings, and the policy every request goes through (the
//! `Origin` of a WebSocket, the `Host` of every request, the token).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::state_json;
use crate::TaskState;

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Default `127.0.0.1:6308`.
    pub addr: SocketAddr,
    /// Origins allowed besides the local ones (`http(s)://localhost`, `127.0.0.1`, `[::1]`,
    /// any port), exactly as browsers send them, e.g. `https://app.example`.
    pub extra_origins: Vec<String>,
    /// Host names the server answers to besides the local ones (`localhost`, `*.localhost`)
    /// and IP addresses, e.g. `tasks.internal`. Any other `Host` gets 403, so that a web page
    /// whose name is rebound to 127.0.0.1 (DNS rebinding) cannot read the server.
    pub allowed_hosts: Vec<String>,
    /// When set, every request but `GET /healthz` must give it: `Authorization: Bearer` or
    /// `?token=` on HTTP; `?token=` on the WebSocket's URL or a first `auth` message.
    pub token: Option<String>,
    /// The largest message accepted, in bytes (default 1 MiB).
    pub max_message_bytes: usize,
    /// A task running longer gets a `timeout` error (default 60 s; the registry's and the
    /// runner's own limits apply too). The timeout is logged like any other outcome.
    pub task_timeout: Duration,
    /// Tasks running at once over all connections; more get a `busy` error (default 64).
    pub max_concurrent_tasks: usize,
    /// On shutdown, how long running tasks may take to finish (default 10 s).
    pub shutdown_grace: Duration,
    /// Connections open at once (default 512); past it a new one is answered `503` and closed,
    /// so idle peers cannot take every file descriptor.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (default 10 s; slowloris).
    pub header_read_timeout: Duration,
    /// A connection with nothing to do for this long is closed (default 60 s): an HTTP
    /// connection between requests, a WebSocket that neither sends nor answers the server's
    /// pings (a frame stalled half-way included).
    pub idle_timeout: Duration,
    /// When a token is set, how long a WebSocket opened without it may take to send `auth`
    /// (default 5 s), its messages limited to 4 KiB until then.
    pub auth_timeout: Duration,
    /// The largest `input_data` one request may store in the log, in bytes (default 256 KiB;
    /// over it the task is refused, `too_large`, and nothing is stored).
    pub max_input_bytes: usize,
    /// Retention for a long-running server: keep the newest N finished runs, delete older
    /// finished runs (default none: every run is kept). Runs still running are never deleted.
    pub keep_runs: Option<usize>,
    /// How often retention runs (default every minute).
    pub retention_every: Duration,
    /// The state the runner page offers to start from, as JSON: kickoff inputs a user may
    /// choose (default `{}`).
    pub initial_state: Value,
    /// Kickoff inputs the server keeps (folders, databases, anything a client must not
    /// choose): every task gets them, a client's `input_data` that sets one is refused
    /// (`server_owned`), and they are left out of replies. See
    /// [`ServerConfig::server_inputs_from`].
    pub server_inputs: Map<String, Value>,
    /// Threads that run task code, apart from the server's own (default: one per CPU). Task
    /// code that blocks its thread then blocks only these: the server keeps accepting,
    /// answering `/healthz`, timing tasks out and shutting down.
    pub task_threads: usize,
    /// Serve on a non-loopback address without a token (default false: refused). When set,
    /// the server warns on every start.
    pub allow_remote_without_token: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 6308)),
            extra_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            token: None,
            max_message_bytes: 1 << 20,
            task_timeout: Duration::from_secs(60),
            max_concurrent_tasks: 64,
            shutdown_grace: Duration::from_secs(10),
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            auth_timeout: Duration::from_secs(5),
            max_input_bytes: 256 << 10,
            keep_runs: None,
            retention_every: Duration::from_secs(60),
            initial_state: json!({}),
            server_inputs: Map::new(),
            task_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            allow_remote_without_token: false,
        }
    }
}

impl ServerConfig {
    /// The server keeps every field `state` sets (the kickoff inputs an `App` is started
    /// with): see [`ServerConfig::server_inputs`].
    pub fn server_inputs_from<S: TaskState>(mut self, state: &S) -> Self {
        let mut fields = match state_json::encode(&json!({}), state) {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        for key in S::RUN_METADATA.all() {
            fields.remove(key);
        }
        self.server_inputs = fields;
        self
    }

    /// Refuses settings that open the server to anyone (an empty token, a `null` or malformed
    /// extra origin, a non-loopback address without a token unless
    /// [`ServerConfig::allow_remote_without_token`]); returns the warnings to print on start.
    pub fn check(&self) -> Result<Vec<String>, String> {
        if self.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err("the token is empty: an empty token would let every client in; give a secret, or no token".to_owned());
        }
        for origin in &self.extra_origins {
            let Some(rest) = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
            else {
                return Err(format!(
                    "origin `{origin}` is not an http(s) origin: `null` is what sandboxed iframes and local files send, so allowing it lets any site in; give `https://host[:port]`"
                ));
            };
            if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ', '*']) {
                return Err(format!(
                    "origin `{origin}`: expected `http(s)://host[:port]`, exactly as a browser sends it (no path, no wildcard)"
                ));
            }
        }
        if self.max_connections == 0 || self.max_concurrent_tasks == 0 || self.task_threads == 0 {
            return Err(
                "max_connections, max_concurrent_tasks and task_threads must be at least 1"
                    .to_owned(),
            );
        }
        let mut warnings = Vec::new();
        if !self.addr.ip().is_loopback() && self.token.is_none() {
            if !self.allow_remote_without_token {
                return Err(format!(
                    "{} is reachable from other machines and no token is set: anyone there could run tasks and read the log; set a token (`--token`), or allow it explicitly (`--allow-remote-without-token`)",
                    self.addr.ip()
                ));
            }
            warnings.push(format!(
                "serving on {} without a token: anyone who can reach this address can run tasks and read the log",
                self.addr
            ));
        }
        Ok(warnings)
    }

    /// Whether a browser page from `origin` may connect.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        if self.extra_origins.iter().any(|o| o == origin) {
            return true;
        }
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        let host = if let Some(v6) = rest.strip_prefix('[') {
            match v6.split_once(']') {
                Some((host, port)) if port.is_empty() || is_port(port) => host,
                _ => return false,
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) if is_port(port) => host,
                Some(_) => return false,
                None => rest,
            }
        };
        matches!(host, "localhost" | "127.0.0.1" | "::1")
    }

    /// Whether a request's `Host` header names this server: a local name, an IP address
    /// (a rebound DNS name is never one), or one of [`ServerConfig::allowed_hosts`]; any port.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((addr, port)) if port.is_empty() || is_port(port) => {
                    return addr.parse::<std::net::Ipv6Addr>().is_ok();
                }
                _ => return false,
            },
            None => match host.rsplit_once(':') {
                Some((name, port)) if is_port(port) => name,
                Some(_) => return false,
                None => host,
            },
        };
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        name == "localhost"
            || name.ends_with(".localhost")
            || name.parse::<IpAddr>().is_ok()
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&name))
    }

    /// Whether `given` is the token, compared in constant time (a comparison that stops at
    /// the first wrong byte tells a patient client how much it got right). True when no token
    /// is set.
    pub fn token_matches(&self, given: Option<&str>) -> bool {
        match (&self.token, given) {
            (None, _) => true,
            (Some(token), Some(given)) => token.as_bytes().ct_eq(given.as_bytes()).into(),
            (Some(_), None) => false,
        }
    }
}

fn is_port(s: &str) -> bool {
    s.strip_prefix(':').unwrap_or(s).parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_and_addresses_are_hosts_a_rebound_name_is_not() {
        let config = ServerConfig {
            allowed_hosts: vec!["tasks.internal".into()],
            ..ServerConfig::default()
        };
        for host in [
            "localhost",
            "localhost:6308",
            "LOCALHOST.:6308",
            "app.localhost:80",
            "127.0.0.1:6308",
            "10.0.0.2",
            "[::1]:6308",
            "[::1]",
            "tasks.internal:443",
        ] {
            assert!(config.host_allowed(host), "{host}");
        }
        for host in [
            "evil.example:6399",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "localhost:notaport",
            "[::1",
            "",
            ":6308",
        ] {
            assert!(!config.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn tokens_match_exactly() {
        let config = ServerConfig {
            token: Some("s3cret".into()),
            ..ServerConfig::default()
        };
        assert!(config.token_matches(Some("s3cret")));
        for wrong in [
            None,
            Some(""),
            Some("s3cre"),
            Some("s3cret "),
            Some("S3cret"),
        ] {
            assert!(!config.token_matches(wrong), "{wrong:?}");
        }
        assert!(ServerConfig::default().token_matches(None));
    }
}
