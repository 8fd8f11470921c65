//! What the server accepts: its settings, and the policy every request goes through (the
//! `Origin` of a WebSocket, the `Host` of every request, the token).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{Value, json};
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
    /// The state the runner page starts from (its kickoff inputs), as JSON.
    pub initial_state: Value,
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
            initial_state: json!({}),
        }
    }
}

impl ServerConfig {
    /// The kickoff state the runner page offers, from a typed state.
    pub fn initial_state_from<S: TaskState>(mut self, state: &S) -> Self {
        self.initial_state = state_json::encode(&json!({}), state);
        if let Value::Object(fields) = &mut self.initial_state {
            for key in crate::RUN_METADATA_FIELDS {
                fields.remove(key);
            }
        }
        self
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
