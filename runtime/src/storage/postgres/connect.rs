//! From a `postgres://` URL to a pool of connections: the URL's settings, TLS, and a name for
//! messages that never holds the password.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::{Host, SslMode};

/// The URL read: the connection settings, and how the log names it in messages.
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    /// `postgres://user@host:port/database`: no password, no query.
    pub(crate) name: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        if config.get_application_name().is_none() {
            config.application_name("tasknet");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A peer that vanishes (a cut link) is noticed by the kernel's keepalives, not only
        // at the next write.
        config.keepalives_idle(Duration::from_secs(10));
        config.tcp_user_timeout(Duration::from_secs(10));
        let name = describe(&config);
        Ok(Target { config, name })
    }
}

fn describe(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { "" } else { "@" };
    format!("postgres://{user}{at}{host}:{port}/{db}")
}

/// The TLS the URL asks for (`sslmode=prefer`, tokio-postgres's default, tries it first):
/// rustls with the webpki roots, and `root_cert` or else the CA file in `PGSSLROOTCERT` when
/// set (libpq's name for it), for a server with a private certificate authority.
fn tls(
    root_cert: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let file = root_cert
        .map(|p| p.as_os_str().to_owned())
        .or_else(|| std::env::var_os("PGSSLROOTCERT"));
    if let Some(path) = file {
        use rustls::pki_types::pem::PemObject as _;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path).map_err(|e| {
            format!(
                "PGSSLROOTCERT `{}`: {e}",
                std::path::Path::new(&path).display()
            )
        })?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("PGSSLROOTCERT: {e}"))?;
            roots.add(cert).map_err(|e| format!("PGSSLROOTCERT: {e}"))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// How connections are made: in the clear when the URL says `sslmode=disable`, else with TLS
/// when the server offers it (required with `sslmode=require`).
#[derive(Clone)]
pub(crate) enum Connector {
    Plain,
    Tls(tokio_postgres_rustls::MakeRustlsConnect),
}

impl Connector {
    pub(crate) fn for_target(
        target: &Target,
        root_cert: Option<&std::path::Path>,
    ) -> Result<Connector, String> {
        Ok(if target.config.get_ssl_mode() == SslMode::Disable {
            Connector::Plain
        } else {
            Connector::Tls(tls(root_cert)?)
        })
    }

    /// One connection outside the pool (the listener's), its driver spawned on this runtime.
    pub(crate) async fn connect(
        &self,
        config: &tokio_postgres::Config,
        on_message: impl Fn(tokio_postgres::AsyncMessage) + Send + 'static,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
        async fn drive<S, T>(
            mut connection: tokio_postgres::Connection<S, T>,
            on_message: impl Fn(tokio_postgres::AsyncMessage) + Send + 'static,
        ) where
            S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
            T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
        {
            while let Some(Ok(message)) =
                std::future::poll_fn(|cx| connection.poll_message(cx)).await
            {
                on_message(message);
            }
        }
        Ok(match self {
            Connector::Plain => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                (client, tokio::spawn(drive(connection, on_message)))
            }
            Connector::Tls(tls) => {
                let (client, connection) = config.connect(tls.clone()).await?;
                (client, tokio::spawn(drive(connection, on_message)))
            }
        })
    }
}

/// A pool of at most `size` connections. Connections are made when first needed, on the
/// runtime that asks (the store's own): none is made here.
pub(crate) fn pool(target: &Target, connector: &Connector, size: usize) -> Result<Pool, String> {
    let manager_config = ManagerConfig {
        // A connection the server closed (a restart, a cut link) is dropped, not handed out.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match connector {
        Connector::Plain => {
            Manager::from_config(target.config.clone(), tokio_postgres::NoTls, manager_config)
        }
        Connector::Tls(tls) => {
            Manager::from_config(target.config.clone(), tls.clone(), manager_config)
        }
    };
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)))
        .create_timeout(Some(Duration::from_secs(10)))
        .build()
        .map_err(|e| e.to_string())
}
