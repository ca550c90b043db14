//! A redis-server of a test's own on a free port, shared by the test binaries (`#[path]`): it
//! keeps every acknowledged write across a kill (`appendonly yes`, `appendfsync always`), so it
//! can be stopped, killed and started again with its data.
#![allow(dead_code)] // each test binary uses a part of it

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server of this test's own, on a free port, keeping its data across restarts.
pub struct OwnRedis {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
}

impl OwnRedis {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts one with extra `redis-server` arguments (e.g. `--replicaof`).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut redis = Self::not_started();
        redis.extra = extra.iter().map(|a| a.to_string()).collect();
        redis.spawn();
        redis
    }

    /// One with a free port and a folder, not running yet (`spawn` starts it).
    pub fn not_started() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("bff-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            port,
            dir,
            child: None,
            extra: Vec::new(),
        }
    }

    pub fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null());
        dies_with_this_thread(&mut command);
        let child = command
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: redis flushes its append-only file and exits.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// SIGKILL: no chance to flush. With `appendfsync always`, every write Redis acknowledged
    /// is already on disk.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The running server's process id and its data folder.
    pub fn process(&self) -> Option<(u32, &std::path::Path)> {
        Some((self.child.as_ref()?.id(), &self.dir))
    }
}

/// Asks Linux to stop the child (SIGTERM) when the thread that starts it ends, so a test process
/// that is killed (Ctrl-C, a harness's timeout, an abort) leaves no redis-server behind: `Drop`
/// only runs when the test unwinds. The thread is the test's own (every `OwnRedis` is started from
/// a test body, where a `#[tokio::test]`'s future runs), and it outlives the test's server.
pub fn dies_with_this_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec the closure only makes two async-signal-safe system calls
    // and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the request took effect.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the test process is gone"));
            }
            Ok(())
        });
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A counter of `INFO stats` on the server `conn` talks to (`total_reads_processed`: round
/// trips, a pipeline arriving in one read; `total_net_input_bytes`: what clients sent).
pub async fn info_stat(conn: &mut redis::aio::MultiplexedConnection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO stats has no {field}"))
}
