//! The command line: `serve` (default), `emulator`, `token`, `hash-password`, `check-config`,
//! `healthcheck`, `migrate-keys`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{BelvoEnvironment, ConfigError, Settings};
use crate::jwt::{mint, Role};

#[derive(Parser)]
#[command(
    name = "belvo-bff",
    version,
    about = "Backend-for-frontend for Belvo's hosted widget"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Run the Belvo emulator alone.
    Emulator {
        /// Port to listen on.
        #[arg(long, default_value_t = 8081)]
        port: u16,
    },
    /// Print a JWT the running server accepts, for local use.
    Token {
        /// The user id (`sub`).
        #[arg(long)]
        sub: String,
        /// app (mobile API) or support/admin (staff pages).
        #[arg(long, value_enum, default_value_t = Role::App)]
        role: Role,
        /// How long the token is valid, e.g. 1h, 30m.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Read a password on stdin, print its argon2id hash for `[staff.accounts.NAME]`.
    HashPassword,
    /// Load and validate the configuration, print it with secrets redacted.
    CheckConfig,
    /// Ask the local server's `/healthz` (port from the configuration, `PORT` included);
    /// exit 0 when it answers 200 within 3 s. For container health checks: the image has no
    /// shell or curl.
    Healthcheck,
    /// Move data of the Redis key layout before shards (SPEC §13) to the shard layout, printing
    /// progress. Serving replicas do this at start-up; run it again once the last replica of an
    /// older version has stopped. Safe while replicas run, and to run twice.
    MigrateKeys,
}

impl Cli {
    pub fn run(self) -> ExitCode {
        // Needs no configuration: it only hashes.
        if let Some(Command::HashPassword) = self.command {
            return hash_password();
        }
        let settings = match Settings::load() {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings),
            Command::Emulator { port } => emulator(settings, port),
            Command::Token { sub, role, ttl } => match mint(&settings, &sub, role, ttl) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            },
            Command::HashPassword => hash_password(),
            Command::CheckConfig => {
                println!("{}", settings.redacted());
                eprintln!("configuration OK");
                ExitCode::SUCCESS
            }
            Command::Healthcheck => healthcheck(settings.server.port),
            Command::MigrateKeys => migrate_keys(&settings),
        }
    }
}

/// The password is the first line of stdin (so `echo`, a pipe or typing it all work), without
/// its line ending; the hash goes to stdout, problems to stderr.
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("error: cannot read the password from stdin: {e}");
        return ExitCode::from(2);
    }
    let password = line.trim_end_matches(['\n', '\r']);
    match crate::password::hash(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn migrate_keys(settings: &Settings) -> ExitCode {
    runtime().block_on(async {
        let store = match crate::startup::connect_redis(settings).await {
            Ok(Some(store)) => store,
            Ok(None) => {
                eprintln!("nothing to migrate: the memory store keeps nothing across restarts");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        let progress = |done: crate::store::Migration| {
            eprintln!(
                "{} keys of the old layout found, {} moved",
                done.found, done.moved
            );
        };
        match store.migrate_keys(&progress).await {
            Ok(done) => {
                println!(
                    "done: {} keys of the old layout found, {} moved by this run",
                    done.found, done.moved
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn fail(e: &ConfigError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// The main runtime, as `#[actix_web::main]` makes it: one thread for start-up, signals and
/// background work. Requests are served by actix-web's workers, each on a runtime of its own.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

fn serve(settings: Settings) -> ExitCode {
    let _log_writer = crate::telemetry::init(&settings.log);
    let rt = actix_web::rt::System::with_tokio_rt(runtime);
    rt.block_on(async move {
        let embedded = settings.belvo.environment == BelvoEnvironment::Embedded;
        for var in &settings.secrets.defaulted {
            tracing::warn!(variable = var, "using the public development default: insecure, embedded mode only");
        }
        raise_open_file_limit();
        let store = settings.store.backend().name();
        let app = match crate::startup::Application::build(settings).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        let url = format!("http://127.0.0.1:{}", app.port());
        // On stdout, and only for a person at a terminal: stderr carries the log lines (JSON by
        // default), and a process manager reading stdout gets no plain text mixed in. Printed
        // before the "listening" line, which tests wait for.
        if embedded && std::io::stdout().is_terminal() {
            println!(
                "\nbelvo-bff is serving on {url} (embedded Belvo emulator, {store} store)\n\
                 Try it in a browser: {url}/demo\n\
                 Or with curl:\n  TOKEN=$(cargo run -q --release -- token --sub demo-user)\n  \
                 curl -s -X POST {url}/v1/widget-sessions -H \"Authorization: Bearer $TOKEN\" \
                 -H 'Content-Type: application/json' -d '{{\"product\":\"mx_employment\",\"platform\":\"ios\"}}'\n"
            );
        }
        tracing::info!(%url, store, embedded, "belvo-bff listening");
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server stopped with an error");
                ExitCode::FAILURE
            }
        }
    })
}

/// `GET /healthz` on 127.0.0.1:`port` over plain HTTP/1.1 (nothing to start: no runtime, no
/// client library), with one 3-second bound for the whole exchange.
fn healthcheck(port: u16) -> ExitCode {
    use std::io::{Read, Write};
    const LIMIT: Duration = Duration::from_secs(3);
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let answer = (|| -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect_timeout(&address, LIMIT)?;
        stream.set_read_timeout(Some(LIMIT))?;
        stream.set_write_timeout(Some(LIMIT))?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 64];
        let n = stream.read(&mut head)?;
        Ok(String::from_utf8_lossy(&head[..n]).into_owned())
    })();
    match answer {
        Ok(head) if head.starts_with("HTTP/1.1 200 ") => ExitCode::SUCCESS,
        Ok(head) => {
            let status = head.lines().next().unwrap_or_default();
            eprintln!("unhealthy: {address}/healthz answered {status:?}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {address}/healthz: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every waiting long-poll and keep-alive connection holds a file descriptor: raise the soft
/// limit (often 1024) to the hard one, and log both, so a busy server does not run out.
fn raise_open_file_limit() {
    let (before, hard) = rlimit::Resource::NOFILE
        .get()
        .map_or((None, None), |(soft, hard)| (Some(soft), Some(hard)));
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => tracing::info!(before, soft, hard, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

fn emulator(settings: Settings, port: u16) -> ExitCode {
    let _log_writer = crate::telemetry::init(&settings.log);
    let rt = actix_web::rt::System::with_tokio_rt(runtime);
    rt.block_on(async move {
        match crate::emulator::serve_standalone(&settings, port).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}
