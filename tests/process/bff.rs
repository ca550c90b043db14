//! A `belvo-bff` process of its own: the real binary, a clean environment, port 0, its JSON log
//! lines collected as they arrive.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use belvo_bff::config::Settings;
use belvo_bff::jwt::{mint, Role};
use serde_json::Value;

pub struct Bff {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The environment it runs with (for minting tokens it accepts).
    pub env: BTreeMap<String, String>,
    logs: Arc<Mutex<Vec<String>>>,
    pub client: reqwest::Client,
}

impl Bff {
    /// Starts the server with `env` (on top of `PORT=0` and nothing else) and waits until it
    /// listens.
    pub async fn start(env: &[(&str, &str)]) -> Bff {
        Self::start_command(Command::new(env!("CARGO_BIN_EXE_belvo-bff")), env).await
    }

    /// [`Self::start`] with a soft open-file limit of `nofile` (as `ulimit -Sn` in the shell
    /// that starts it); the hard limit stays.
    pub async fn start_with_open_file_limit(nofile: u32, env: &[(&str, &str)]) -> Bff {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit -Sn {nofile} && exec \"$0\""),
            env!("CARGO_BIN_EXE_belvo-bff"),
        ]);
        Self::start_command(command, env).await
    }

    async fn start_command(mut command: Command, env: &[(&str, &str)]) -> Bff {
        crate::own_redis::dies_with_this_thread(&mut command);
        let mut vars: BTreeMap<String, String> = BTreeMap::from([("PORT".into(), "0".into())]);
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut child = command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&vars)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("belvo-bff starts");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (listening, listening_rx) = mpsc::channel();
        std::thread::spawn({
            let logs = logs.clone();
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("belvo-bff listening") {
                        let _ = listening.send(line.clone());
                    }
                    logs.lock().unwrap().push(line);
                }
            }
        });
        let line =
            tokio::task::spawn_blocking(move || listening_rx.recv_timeout(Duration::from_secs(30)))
                .await
                .unwrap();
        let Ok(line) = line else {
            let _ = child.kill();
            panic!("belvo-bff did not start: {:#?}", logs.lock().unwrap());
        };
        let announced: Value = serde_json::from_str(&line).expect("a JSON log line");
        Bff {
            child,
            address: announced["url"].as_str().unwrap().to_owned(),
            env: vars,
            logs,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(40))
                .build()
                .unwrap(),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A metric without labels as this process reports it at `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
    }

    /// An app token this process accepts.
    pub fn token(&self, sub: &str) -> String {
        let settings = Settings::load_from(&self.env).expect("the process's settings load");
        mint(&settings, sub, Role::App, Duration::from_secs(3600)).unwrap()
    }

    /// An admin token this process accepts.
    pub fn admin_token(&self) -> String {
        let settings = Settings::load_from(&self.env).expect("the process's settings load");
        mint(&settings, "admin", Role::Admin, Duration::from_secs(3600)).unwrap()
    }

    /// Opens a widget session for `sub`; returns the 201 body.
    pub async fn open(&self, sub: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.url("/v1/widget-sessions"))
            .bearer_auth(self.token(sub))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// `GET /v1/widget-sessions/{id}?wait=..`: (status code, body, how long it took).
    pub async fn long_poll(&self, sub: &str, id: &str, query: &str) -> (u16, Value, Duration) {
        let started = Instant::now();
        let response = self
            .client
            .get(self.url(&format!("/v1/widget-sessions/{id}?{query}")))
            .bearer_auth(self.token(sub))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap(), started.elapsed())
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// SIGKILL: the process dies at once, finishing nothing (as when its node fails); returns
    /// once it is gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {within:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every line logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Bff {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where a redirect points.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Where a session's `widget_url` (`/w/{id}`) sends the browser: Belvo's widget with a token.
pub async fn belvo_widget(bff: &Bff, widget_url: &str) -> String {
    let response = bff.client.get(widget_url).send().await.unwrap();
    assert_eq!(response.status(), 302, "{widget_url}");
    location(&response)
}

/// Plays the hosted widget of `widget_url` (served by the embedded emulator of `bff`):
/// picks `outcome` and returns the callback URL the widget sends the webview to.
pub async fn widget_outcome(
    bff: &Bff,
    widget_url: &str,
    outcome: &str,
    institution: &str,
) -> String {
    let widget_url = &if widget_url.starts_with(&bff.url("/w/")) {
        belvo_widget(bff, widget_url).await
    } else {
        widget_url.to_owned()
    };
    let url = url::Url::parse(widget_url).unwrap();
    let param = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let form = [
        ("access_token", param("access_token")),
        ("outcome", outcome.to_owned()),
        ("institution", institution.to_owned()),
        ("access_mode", param("access_mode")),
        ("external_id", param("external_id")),
    ];
    let response = bff
        .client
        .post(bff.url("/emulator/widget/outcome"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    location(&response)
}
