//! The log lines of a whole session, from the real binary with `log.format = json`: every line
//! is JSON, every line logged while serving a request names that request, and nothing secret
//! or personal is written — through the widget flow and the API link flow.

use std::time::Duration;

use serde_json::{json, Value};

use crate::bff::{belvo_widget, widget_outcome, Bff};

const CPF: &str = "76109277673";
const SUB: &str = "ralph.bragg+logs@example.com";
const SECRETS: [(&str, &str); 6] = [
    ("BELVO_SECRET_ID", "log-test-secret-id-5f1c"),
    ("BELVO_SECRET_PASSWORD", "log-test-secret-password-a9e2"),
    ("BFF_APP_JWT_SECRET", "log-test-app-jwt-secret-77d0"),
    (
        "BFF_STAFF_SESSION_SECRET",
        "log-test-staff-session-secret-3b8e",
    ),
    ("BFF_WEBHOOK_TOKEN", "log-test-webhook-token-c4a1"),
    ("BFF_EXTERNAL_ID_KEY", "log-test-external-id-key-e6f9"),
];

#[tokio::test]
async fn a_whole_session_logs_json_lines_with_request_ids_and_no_secrets() {
    let redis = std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL (scripts/test.sh)");
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let mut env = SECRETS.to_vec();
    env.extend([
        ("BFF__LOG__FORMAT", "json"),
        ("REDIS_URL", redis.as_str()),
        ("BFF__STORE__KEY_PREFIX", prefix.as_str()),
        ("BFF__EMULATOR__WEBHOOK_DELAY", "50ms"),
        ("BFF__SERVER__SHUTDOWN_DELAY", "0s"),
    ]);
    let mut bff = Bff::start(&env).await;
    let app_token = bff.token(SUB);
    let mut request_ids = Vec::new();

    // Create a session (Brazil open finance: the consent carries the user's CPF).
    let consent =
        json!({"identification_info": [{"type": "CPF", "number": CPF, "name": "Ralph Bragg"}]});
    let response = bff
        .client
        .post(bff.url("/v1/widget-sessions"))
        .bearer_auth(&app_token)
        .json(&json!({"product": "br_ofda", "platform": "ios", "consent": consent}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    request_ids.push(request_id(&response));
    let session: Value = response.json().await.unwrap();
    let id = session["session_id"].as_str().unwrap().to_owned();
    // The user opens widget_url, which sends the webview on to Belvo's widget.
    let widget_url = belvo_widget(&bff, session["widget_url"].as_str().unwrap()).await;

    // The same with a malformed consent: the CPF is quoted back to the caller, not logged.
    let bad = json!({"product": "br_ofda", "platform": "ios",
        "consent": {"identification_info": [{"type": "CPF", "number": CPF.parse::<u64>().unwrap(), "name": "Ralph Bragg"}]}});
    let response = bff
        .client
        .post(bff.url("/v1/widget-sessions"))
        .bearer_auth(&app_token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    request_ids.push(request_id(&response));

    // A link made through the API flow: the CPF is the username.
    let response = bff
        .client
        .post(bff.url("/v1/links"))
        .bearer_auth(&app_token)
        .json(&json!({"product": "br_employment", "username": CPF}))
        .send()
        .await
        .unwrap();
    request_ids.push(request_id(&response));
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());

    // The consent portal (SPEC §12): the CPF goes to Belvo's consent_management token request.
    let response = bff
        .client
        .post(bff.url("/v1/consent-portal"))
        .bearer_auth(&app_token)
        .json(&consent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let portal_request = request_id(&response);

    // The user goes through the widget (its page too), which calls back.
    let page = bff.client.get(&widget_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let callback = widget_outcome(&bff, &widget_url, "success", "ofbradesco_br_retail").await;
    let response = bff.client.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), 302);
    request_ids.push(request_id(&response));
    let param = |url: &str, key: &str| {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == key)
            .unwrap()
            .1
            .into_owned()
    };
    let (link, external_id) = (param(&callback, "link"), param(&widget_url, "external_id"));

    // Belvo's webhooks arrive (the emulator's, and one more sent here), then the app reads.
    let webhook = json!({
        "webhook_id": "log-test-webhook", "webhook_type": "OWNERS", "webhook_code": "historical_update",
        "process_type": "historical_update", "link_id": link, "external_id": external_id,
        "request_id": "4363b08b-51eb-4350-9c74-5df5ac92a7f6", "data": {"total_owners": 1},
    });
    let response = bff
        .client
        .post(bff.url("/webhooks/belvo"))
        .bearer_auth(SECRETS[4].1)
        .json(&webhook)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    request_ids.push(request_id(&response));
    let (code, status, _) = bff.long_poll(SUB, &id, "wait=20&until=resources").await;
    assert_eq!(code, 200);
    assert_eq!(status["status"], "succeeded");
    // Probes every few seconds would drown the rest: a health check logs nothing at info.
    for _ in 0..3 {
        let response = bff.client.get(bff.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    // Let the background link check finish, then stop so every line is written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    bff.terminate();
    assert!(bff.exited(Duration::from_secs(10)).await.success());

    let lines = bff.logs();
    assert!(lines.len() > 10, "{lines:#?}");
    let mut forbidden: Vec<(&str, String)> = SECRETS
        .iter()
        .map(|(name, value)| (*name, value.to_string()))
        .collect();
    forbidden.extend([
        (
            "the widget access token",
            param(&widget_url, "access_token"),
        ),
        ("the app token", app_token),
        ("the CPF", CPF.to_owned()),
        ("the raw sub", SUB.to_owned()),
        ("the raw sub's name", "ralph.bragg".to_owned()),
    ]);
    assert_nothing_leaks(&lines, &forbidden);
    let probes: Vec<&String> = lines.iter().filter(|l| l.contains("/healthz")).collect();
    assert!(probes.is_empty(), "health checks logged: {probes:#?}");
    assert_request_lines_name_their_request(&lines, &request_ids);
    // Each request's span names the route template it matched, not the path it was sent to.
    assert_request_lines_name_their_route(&lines, &request_ids[0], "/v1/widget-sessions");
    assert_request_lines_name_their_route(&lines, &request_ids[2], "/v1/links");
    assert_request_lines_name_their_route(
        &lines,
        &request_ids[3],
        "/callbacks/{session_id}/{kind}",
    );
    assert_request_lines_name_their_route(&lines, &request_ids[4], "/webhooks/belvo");
    assert_request_lines_name_their_route(&lines, &portal_request, "/v1/consent-portal");
    assert_redis_never_holds(&redis, &prefix, CPF).await;
}

/// No key under `prefix` holds `value`.
async fn assert_redis_never_holds(redis: &str, prefix: &str, value: &str) {
    let client = redis::Client::open(redis).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    crate::stored::assert_never_holds(&mut conn, prefix, value).await;
}

/// Every line of the request `request_id` has `route` as its request span's `http.route`.
fn assert_request_lines_name_their_route(lines: &[String], request_id: &str, route: &str) {
    let routes: Vec<String> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|parsed| parsed["request_id"] == request_id)
        .filter_map(|parsed| {
            let spans = parsed["spans"].as_array()?.clone();
            let span = spans.into_iter().find(|s| s["name"] == "HTTP request")?;
            Some(span["http.route"].as_str().unwrap_or("(none)").to_owned())
        })
        .collect();
    assert!(!routes.is_empty(), "no line for request {request_id}");
    assert!(
        routes.iter().all(|r| r == route),
        "request {request_id}: routes {routes:?}, expected {route}"
    );
}

fn assert_nothing_leaks(lines: &[String], forbidden: &[(&str, String)]) {
    for (what, value) in forbidden {
        let leaking: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains(value.as_str()))
            .collect();
        assert!(
            leaking.is_empty(),
            "{what} appears in the logs: {leaking:#?}"
        );
    }
}

/// Every line is JSON; every line logged while serving a request carries its id; each of
/// `request_ids` has a line.
fn assert_request_lines_name_their_request(lines: &[String], request_ids: &[String]) {
    let mut logged_ids = Vec::new();
    for line in lines {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let in_request = parsed["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s["name"] == "HTTP request"));
        if in_request {
            let id = parsed["request_id"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "a request's line without its id: {line}");
            logged_ids.push(id.to_owned());
        }
    }
    for id in request_ids {
        assert!(logged_ids.contains(id), "no line for request {id}");
    }
}

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// With stdout not a terminal (a process manager, a log shipper), nothing but log lines is
/// written: the welcome banner is for a person at a terminal only.
#[test]
fn stdout_that_is_not_a_terminal_gets_no_banner() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_belvo-bff"))
        .env_clear()
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (listening, started) = std::sync::mpsc::channel();
    // Read every log line until the process ends (a closed pipe would fail its writes).
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("belvo-bff listening") {
                let _ = listening.send(());
            }
        }
    });
    started
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the server started");
    // The banner would be printed before the line just seen.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(stdout, "", "stdout is not a terminal: no banner");
}
