//! The command line as a person uses it.

use std::process::{Command, Output};

use base64::Engine;

fn bff(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_belvo-bff"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn claims(token: &str) -> serde_json::Value {
    let payload = token.trim().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn check_config_prints_the_configuration_without_secrets() {
    let out = bff(
        &["check-config"],
        &[("BELVO_SECRET_PASSWORD", "hunter2-very-secret")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("[products.br_ofda]"));
    assert!(printed.contains("BELVO_SECRET_PASSWORD = \"set\""));
    assert!(printed.contains("BFF_APP_JWT_SECRET = \"development default (insecure)\""));
    assert!(!printed.contains("hunter2"));
    assert!(!printed.contains("dev-app-jwt-secret"));
}

#[test]
fn check_config_names_the_bad_key_and_fails() {
    let out = bff(&["check-config"], &[("BFF__SERVER__PORT", "eighty")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("server.port"),
        "{}",
        text(&out.stderr)
    );

    let out = bff(&["check-config"], &[("BELVO_ENV", "production")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("BELVO_SECRET_ID"),
        "{}",
        text(&out.stderr)
    );

    let out = bff(
        &["check-config"],
        &[(
            "BFF__PRODUCTS__MX_EMPLOYMENT__FETCH_RESOURCES",
            "[\"EMPLOYMENTS\"]",
        )],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("products.mx_employment.fetch_resources"),
        "{err}"
    );

    let out = bff(
        &["check-config"],
        &[("BFF_CONFIG", "/nonexistent/bff.toml")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("BFF_CONFIG"));
}

#[test]
fn a_config_file_overrides_the_defaults() {
    let dir = std::env::temp_dir().join(format!("bff-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bff.toml");
    std::fs::write(
        &file,
        "[server]\nport = 9123\n[app.deeplink_base]\nios = \"acme://\"\n",
    )
    .unwrap();
    let out = bff(&["check-config"], &[("BFF_CONFIG", file.to_str().unwrap())]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("port = 9123"));
    assert!(printed.contains("ios = \"acme://\""));
}

#[test]
fn token_prints_a_jwt_for_the_subject_and_role() {
    let out = bff(&["token", "--sub", "maria", "--ttl", "10m"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout);
    let c = claims(&token);
    assert_eq!(c["sub"], "maria");
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 600);
    assert!(c.get("role").is_none());

    let out = bff(&["token", "--sub", "ana", "--role", "admin"], &[]);
    assert!(out.status.success());
    assert_eq!(claims(&text(&out.stdout))["role"], "admin");

    let out = bff(&["token", "--sub", "ana", "--role", "root"], &[]);
    assert!(!out.status.success());
}

#[test]
fn the_emulator_runs_alone_on_its_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_belvo-bff"))
        .args(["emulator", "--port", &port.to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BFF__LOG__LEVEL", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "emulator did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let body = serde_json::json!({
        "id": "dev-secret-id", "password": "dev-secret-password",
        "scopes": "read_institutions,write_links", "fetch_resources": ["EMPLOYMENTS", "OWNERS"],
        "widget": {"callback_urls": {"success": "acme://success", "exit": "acme://exit", "event": "acme://event"}}
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, page, outcome) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let tokens: serde_json::Value = client
            .post(format!("{base}/api/token/"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = tokens["access"].as_str().unwrap().to_owned();
        let page = client
            .get(format!(
                "{base}/widget/?access_token={access}&locale=pt&institutions=inss_br_employment"
            ))
            .send()
            .await
            .unwrap();
        let status = page.status().as_u16();
        let html = page.text().await.unwrap();
        let outcome = client
            .post(format!("{base}/widget/outcome"))
            .form(&[("access_token", access.as_str()), ("outcome", "abandon")])
            .send()
            .await
            .unwrap();
        let location = outcome.headers()["location"].to_str().unwrap().to_owned();
        (status, html, location)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
    assert!(page.contains("action=\"/widget/outcome\""));
    assert!(page.contains("Conecte sua conta"));
    assert_eq!(outcome, "acme://exit?meta_data_step=abandon-survey");
}

/// Runs the binary with `input` on stdin.
fn bff_with_stdin(args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_belvo-bff"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hash_password_prints_an_argon2id_hash_a_staff_account_can_use() {
    let out = bff_with_stdin(&["hash-password"], &[], "correct horse battery staple\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hash = text(&out.stdout).trim().to_owned();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(belvo_bff::password::verify(
        "correct horse battery staple",
        Some(&hash)
    ));

    // The hash works as a staff account, and check-config never prints it.
    let out = bff(
        &["check-config"],
        &[
            ("BFF__STAFF__ACCOUNTS__SOFIA__PASSWORD_HASH", &hash),
            ("BFF__STAFF__ACCOUNTS__SOFIA__ROLE", "support"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("[staff.accounts.sofia]"), "{printed}");
    assert!(printed.contains("argon2id hash (hidden)"));
    assert!(!printed.contains(&hash));
}

#[test]
fn hash_password_refuses_short_passwords_and_bad_hashes_are_config_errors() {
    let out = bff_with_stdin(&["hash-password"], &[], "short\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at least 12 characters"));

    let out = bff(
        &["check-config"],
        &[
            ("BFF__STAFF__ACCOUNTS__SOFIA__PASSWORD_HASH", "hunter2"),
            ("BFF__STAFF__ACCOUNTS__SOFIA__ROLE", "support"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("staff.accounts.sofia.password_hash"));
}

#[test]
fn healthcheck_asks_the_local_servers_healthz() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let env = [("PORT", port.as_str()), ("BFF__LOG__LEVEL", "warn")];
    let down = bff(&["healthcheck"], &env);
    assert!(!down.status.success(), "nothing listens yet");
    assert!(
        text(&down.stderr).contains("unhealthy"),
        "{}",
        text(&down.stderr)
    );

    let mut server = Command::new(env!("CARGO_BIN_EXE_belvo-bff"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let healthy = loop {
        let check = bff(&["healthcheck"], &env);
        if check.status.success() || std::time::Instant::now() > deadline {
            break check.status.success();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(healthy, "the running server is healthy");
}

/// `[[notify.endpoints]]` (SPEC §13): check-config names a bad URL, a pattern that matches no
/// event, a missing or malformed secret variable; with none configured no secret is needed.
#[test]
fn check_config_names_what_is_wrong_with_an_event_endpoint() {
    let dir = std::env::temp_dir().join(format!("bff-cli-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let check = |endpoint: &str, env: &[(&str, &str)]| {
        let file = dir.join("bff.toml");
        std::fs::write(&file, format!("[[notify.endpoints]]\n{endpoint}\n")).unwrap();
        let mut env = env.to_vec();
        let path = file.to_str().unwrap().to_owned();
        env.push(("BFF_CONFIG", &path));
        let out = bff(&["check-config"], &env);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let secret = (
        "ACME_EVENTS_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    let good = "url = \"https://backend.example.com/events\"\nevents = [\"session.*\"]\n\
                secret_env = \"ACME_EVENTS_SECRET\"";
    let (code, out, err) = check(good, &[secret]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ACME_EVENTS_SECRET = \"set\""), "{out}");
    assert!(!out.contains("MfKQ9r8"), "the secret is never printed");

    let (code, _, err) = check(good, &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("ACME_EVENTS_SECRET") && err.contains("is not set"),
        "{err}"
    );

    let (code, _, err) = check(good, &[("ACME_EVENTS_SECRET", "hunter2")]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("ACME_EVENTS_SECRET") && err.contains("whsec_"),
        "{err}"
    );

    let bad_url = good.replace("https://backend.example.com/events", "ftp://backend/events");
    let (code, _, err) = check(&bad_url, &[secret]);
    assert_eq!(code, Some(2));
    assert!(err.contains("notify.endpoints[0].url"), "{err}");

    let bad_pattern = good.replace("session.*", "sesion.*");
    let (code, _, err) = check(&bad_pattern, &[secret]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("notify.endpoints") && err.contains("sesion.*"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // No endpoint: nothing is asked for.
    let out = bff(&["check-config"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `migrate-keys` moves keys of the layout before shards to their shard names (TTL kept),
/// prints its progress, and finds nothing the second time.
#[test]
fn migrate_keys_moves_the_old_layout_and_can_run_again() {
    use belvo_bff::domain::ids::{LinkId, SessionId};
    let url = std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL (scripts/test.sh sets it)");
    let prefix = format!("cli-{}", uuid::Uuid::new_v4().simple());
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let (session, link) = (SessionId::generate(), LinkId::new_random());
    let old_session = format!("{prefix}:{{s:{session}}}:session");
    let old_link = format!("{prefix}:{{l:{link}}}:link");
    redis::cmd("HSET")
        .arg(&old_session)
        .arg("status")
        .arg("pending")
        .exec(&mut conn)
        .unwrap();
    redis::cmd("PEXPIRE")
        .arg(&old_session)
        .arg(600_000)
        .exec(&mut conn)
        .unwrap();
    redis::cmd("HSET")
        .arg(&old_link)
        .arg("owner")
        .arg("u_ana")
        .exec(&mut conn)
        .unwrap();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("BFF__STORE__KEY_PREFIX", prefix.as_str()),
        ("BFF__LOG__LEVEL", "warn"),
    ];
    let out = bff(&["migrate-keys"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("done: 2 keys of the old layout found, 2 moved"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("2 keys of the old layout found"));
    let keys = belvo_bff::store::Keys::new(&prefix);
    let status: Option<String> = redis::cmd("HGET")
        .arg(keys.session(&session))
        .arg("status")
        .query(&mut conn)
        .unwrap();
    assert_eq!(status.as_deref(), Some("pending"));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys.session(&session))
        .query(&mut conn)
        .unwrap();
    assert!(ttl > 0 && ttl <= 600_000, "TTL kept: {ttl}");
    let owner: Option<String> = redis::cmd("HGET")
        .arg(keys.link(&link))
        .arg("owner")
        .query(&mut conn)
        .unwrap();
    assert_eq!(owner.as_deref(), Some("u_ana"));
    let old_left: i64 = redis::cmd("EXISTS")
        .arg(&old_session)
        .arg(&old_link)
        .query(&mut conn)
        .unwrap();
    assert_eq!(old_left, 0);

    let again = bff(&["migrate-keys"], &env);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("done: 0 keys of the old layout found, 0 moved"),
        "{}",
        text(&again.stdout)
    );
}
