//! What a test starts ends with the test process, even one that is killed (Ctrl-C, a harness's
//! timeout, an abort): then nothing unwinds and no `Drop` runs, and a redis-server or a
//! `belvo-bff` left running would keep its port, its data folder and its memory.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bff::Bff;
use crate::own_redis::OwnRedis;

/// Tells the test below, run again as a process of its own, what to start and hold.
const HOLD: &str = "BFF_TEST_HOLD";

/// Run by `servers_end_with_a_killed_test_process` in a child process (this binary again):
/// starts what `BFF_TEST_HOLD` names, prints `held <port> <pid> [<folder>]` and waits to be
/// killed. Run alone, it does nothing.
#[tokio::test]
#[ignore = "a child process of servers_end_with_a_killed_test_process"]
async fn holds_a_server_until_killed() {
    let line = match std::env::var(HOLD).as_deref() {
        Ok("redis") => {
            let redis = OwnRedis::start();
            let (pid, dir) = redis.process().unwrap();
            let line = format!("held {} {pid} {}", redis.port, dir.display());
            std::mem::forget(redis);
            line
        }
        Ok("bff") => {
            // No shutdown delay: the SIGTERM it gets closes its listener at once.
            let bff = Bff::start(&[("BFF__SERVER__SHUTDOWN_DELAY", "0s")]).await;
            let port = bff.url("").rsplit(':').next().unwrap().to_owned();
            let line = format!("held {port} {}", bff.pid());
            std::mem::forget(bff);
            line
        }
        _ => return,
    };
    println!("{line}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Starts `what` in a child test process, SIGKILLs that process and answers whether the server
/// stopped listening within 30 s. A server that outlives it is stopped here (and its folder
/// removed), so a failure leaves nothing behind either.
fn outlives_its_test_process(what: &str) -> Option<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "test_servers::holds_a_server_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(HOLD, what)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let held = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("held ").map(str::to_owned))
        .unwrap_or_else(|| panic!("the child test process did not start its {what}"));
    let mut fields = held.split(' ');
    let port: u16 = fields.next().unwrap().parse().unwrap();
    let pid = fields.next().unwrap().to_owned();
    let dir = fields.next().map(str::to_owned);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the {what} listens"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut outlived = None;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            outlived = Some(format!("the {what} (pid {pid}, port {port})"));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    outlived
}

#[test]
fn servers_end_with_a_killed_test_process() {
    for what in ["redis", "bff"] {
        if let Some(server) = outlives_its_test_process(what) {
            panic!("{server} outlived its killed test process");
        }
    }
}
