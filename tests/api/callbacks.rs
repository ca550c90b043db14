//! The widget's deeplink callbacks, with Belvo's exact query strings (OFDA guide §3).

use belvo_bff::domain::ids::Platform;
use serde_json::{json, Value};

use crate::helpers::{location, spawn_app_on, spawn_app_with, StoreKind, TestApp, LINK_ID};

const SUCCESS: &str = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=erebor_br_retail";
const EXIT: &str = "last_encountered_error_code=login_error&last_encountered_error_message=Invalid%20credentials%20provided%20to%20login%20to%20the%20institution&meta_data_institution_name=amex_mx_retail&meta_data_step=abandon-survey";
const ERROR: &str = "error=unexpected_error&error_message=Something%20went%20wrong";
/// Since `/w/` renews tokens (SPEC §11), this one does not end the session.
const TOKEN_EXPIRED: &str = "error=ACCESS_TOKEN_NOT_VALID&error_message=The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid";
const WARNING: &str = "warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable.";

async fn open(app: &TestApp, platform: &str) -> String {
    let session = app.open("maria", "br_ofda", platform).await;
    session["session_id"].as_str().unwrap().to_owned()
}

async fn success_callback_records_link_and_redirects_to_app(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;

    let response = app.callback(&id, "success", SUCCESS).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        format!("bffdemo://belvo/success?session_id={id}&status=succeeded")
    );

    let status = app.status("maria", &id).await;
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["link_id"], LINK_ID);
    assert_eq!(status["institution"], "erebor_br_retail");
    assert_eq!(status["last_error"], Value::Null);
    assert_eq!(app.stored_event_count(&id).await, 1);
}

async fn exit_callback_records_error_and_step(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "android").await;

    let response = app.callback(&id, "exit", EXIT).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        format!("bffdemo://belvo/exit?session_id={id}&status=exited")
    );
    let status = app.status("maria", &id).await;
    assert_eq!(status["status"], "exited");
    assert_eq!(status["last_error"]["code"], "login_error");
    assert_eq!(
        status["last_error"]["message"],
        "Invalid credentials provided to login to the institution"
    );
    assert_eq!(status["last_error"]["explanation"]["code"], "login_error");
    assert!(
        status["last_error"]["explanation"]["user_action"]
            .as_str()
            .unwrap()
            .len()
            > 10
    );
    assert_eq!(
        status["exit"],
        json!({"step": "abandon-survey", "institution_name": "amex_mx_retail"})
    );
}

async fn exit_without_error_is_a_plain_exit(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    let response = app
        .callback(&id, "exit", "meta_data_step=abandon-survey")
        .await;
    assert_eq!(response.status(), 302);
    let status = app.status("maria", &id).await;
    assert_eq!(status["status"], "exited");
    assert_eq!(status["last_error"], Value::Null);
    assert_eq!(status["exit"]["step"], "abandon-survey");
}

async fn error_event_fails_the_session_on_any_callback_url(store: StoreKind) {
    let app = spawn_app_on(store).await;
    // Belvo's own example sends the error to the exit URL; `event` and `error` carry it too.
    for kind in ["exit", "event", "error"] {
        let id = open(&app, "ios").await;
        let response = app.callback(&id, kind, ERROR).await;
        assert_eq!(response.status(), 302, "{kind}");
        assert_eq!(
            location(&response),
            format!("bffdemo://belvo/error?session_id={id}&status=failed")
        );
        let status = app.status("maria", &id).await;
        assert_eq!(status["status"], "failed");
        assert_eq!(status["last_error"]["code"], "unexpected_error");
        assert_eq!(
            status["last_error"]["explanation"]["code"],
            "unexpected_error"
        );
    }
}

/// SPEC §11: an expired widget token is the session's last error, not its end: the app
/// reopens `widget_url`, which forgets the error's fingerprint, so the same error is recorded
/// again if it happens again.
async fn an_expired_token_leaves_the_session_pending_until_reopened(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    let response = app.callback(&id, "error", TOKEN_EXPIRED).await;
    assert_eq!(
        location(&response),
        format!("bffdemo://belvo/error?session_id={id}&status=pending")
    );
    let status = app.status("maria", &id).await;
    assert_eq!(status["status"], "pending");
    assert_eq!(status["last_error"]["code"], "ACCESS_TOKEN_NOT_VALID");
    let first_change = status["updated_at"].clone();
    let replay = app.callback(&id, "error", TOKEN_EXPIRED).await;
    assert_eq!(replay.status(), 302);
    let after_replay = app.status("maria", &id).await;
    assert_eq!(
        after_replay["updated_at"], first_change,
        "a replay changes nothing"
    );

    let reopened = app
        .client
        .get(app.url(&format!("/w/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(reopened.status(), 302);
    // The widget errs the same way again later: recorded again, and still pending.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.callback(&id, "error", TOKEN_EXPIRED).await;
    let status = app.status("maria", &id).await;
    assert_eq!(status["status"], "pending");
    assert_ne!(status["updated_at"], first_change, "recorded again");
    assert_eq!(status["opens"], 1);
    // And the user can still connect.
    app.callback(&id, "success", SUCCESS).await;
    assert_eq!(app.status("maria", &id).await["status"], "succeeded");
}

async fn warning_is_appended_and_leaves_the_session_pending(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    for kind in ["warning", "event"] {
        let response = app.callback(&id, kind, WARNING).await;
        assert_eq!(response.status(), 302);
        assert_eq!(
            location(&response),
            format!("bffdemo://belvo/warning?session_id={id}&status=pending")
        );
    }
    let status = app.status("maria", &id).await;
    assert_eq!(status["status"], "pending");
    let warnings = status["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "the same warning twice is counted once");
    assert_eq!(warnings[0]["code"], "institution_disabled");
    assert_eq!(
        warnings[0]["message"],
        "The institution is temporarily unavailable."
    );

    app.callback(&id, "success", SUCCESS).await;
    assert_eq!(app.status("maria", &id).await["status"], "succeeded");
}

async fn first_terminal_event_wins_and_later_ones_change_nothing(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    app.callback(&id, "success", SUCCESS).await;
    let before = app.status("maria", &id).await;

    let late_exit = app.callback(&id, "exit", EXIT).await;
    assert_eq!(late_exit.status(), 302);
    assert_eq!(
        location(&late_exit),
        format!("bffdemo://belvo/exit?session_id={id}&status=succeeded")
    );
    let late_error = app.callback(&id, "event", ERROR).await;
    assert_eq!(late_error.status(), 302);

    let after = app.status("maria", &id).await;
    // (link_verified is filled in the background by the link check, so it is left out.)
    for field in [
        "status",
        "link_id",
        "institution",
        "last_error",
        "exit",
        "warnings",
        "updated_at",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(app.stored_event_count(&id).await, 3, "kept in the timeline");
}

async fn a_replayed_success_is_counted_once(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    for _ in 0..5 {
        let response = app.callback(&id, "success", SUCCESS).await;
        assert_eq!(response.status(), 302);
    }
    assert_eq!(app.stored_event_count(&id).await, 1);
    assert_eq!(app.status("maria", &id).await["status"], "succeeded");
}

async fn unknown_or_forged_sessions_get_404(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for (id, kind) in [
        (unknown.as_str(), "success"),
        ("not-a-session", "success"),
        ("../../admin", "success"),
        (unknown.as_str(), "teleport"),
    ] {
        let response = app.callback(id, kind, SUCCESS).await;
        assert_eq!(response.status(), 404, "{id}/{kind}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
    let page = app
        .client
        .get(app.url(&format!("/callbacks/{unknown}/success?{SUCCESS}")))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("not found"));
}

async fn malformed_values_get_400_and_are_recorded_nowhere(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    let long = "a".repeat(1025);
    let cases = [
        (
            "success",
            "link=not-a-uuid&institution=erebor_br_retail".to_owned(),
        ),
        ("success", "institution=erebor_br_retail".to_owned()),
        (
            "success",
            format!("link={LINK_ID}&institution=%3Cscript%3E"),
        ),
        (
            "success",
            format!("link={LINK_ID}&link={LINK_ID}&institution=x"),
        ),
        (
            "exit",
            "last_encountered_error_code=login%20error".to_owned(),
        ),
        (
            "exit",
            format!(
                "last_encountered_error_code=login_error&last_encountered_error_message={long}"
            ),
        ),
        ("exit", format!("meta_data_step={}", "s".repeat(65))),
        ("event", String::new()),
        ("event", "error=bad%0Acode".to_owned()),
        (
            "warning",
            format!("warning=institution_disabled&warning_message={long}"),
        ),
        ("success", "link=%ZZ".to_owned()),
    ];
    for (kind, query) in &cases {
        let response = app.callback(&id, kind, query).await;
        assert_eq!(response.status(), 400, "{kind}?{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_callback");
        assert!(!body["error"]["request_id"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.stored_event_count(&id).await, 0);
    let status = app.status("maria", &id).await;
    assert_eq!(status["status"], "pending");
    assert_eq!(status["warnings"], json!([]));
}

async fn redirect_parameters_are_ignored(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    let query = format!(
        "{SUCCESS}&redirect=https://evil.example&redirect_uri=https://evil.example&next=//evil.example&return_to=javascript:alert(1)"
    );
    let response = app.callback(&id, "success", &query).await;
    assert_eq!(response.status(), 302);
    let target = location(&response);
    assert!(target.starts_with("bffdemo://belvo/success?"), "{target}");
    assert!(!target.contains("evil"));
}

async fn each_platform_returns_to_its_configured_deeplink(store: StoreKind) {
    let app = spawn_app_with(store, |s| {
        s.app.deeplink_base.insert(
            Platform::Android,
            "https://app.example.com/open"
                .to_owned()
                .try_into()
                .unwrap(),
        );
    })
    .await;
    let android = open(&app, "android").await;
    let response = app.callback(&android, "success", SUCCESS).await;
    assert_eq!(
        location(&response),
        format!("https://app.example.com/open/belvo/success?session_id={android}&status=succeeded")
    );

    // No deeplink for the web: the result is shown as a page.
    let web = open(&app, "web").await;
    let page = app.callback(&web, "exit", EXIT).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("exited"));
    assert!(html.contains("Check your login details"));
}

async fn format_html_shows_a_result_page_with_escaped_values(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    let query = "error=login_error&error_message=%3Cscript%3Ealert(1)%3C%2Fscript%3E&format=html";
    let page = app.callback(&id, "event", query).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("failed"));
    assert_eq!(app.status("maria", &id).await["status"], "failed");
}

async fn a_session_pending_past_its_deadline_is_expired_and_refuses_callbacks(store: StoreKind) {
    let app = spawn_app_with(store, |s| {
        s.sessions.pending_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let id = open(&app, "ios").await;
    // Read until the deadline has passed (however slow the machine is).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.status("maria", &id).await["status"] == "pending" {
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.status("maria", &id).await["status"], "expired");
    let response = app.callback(&id, "success", SUCCESS).await;
    assert_eq!(response.status(), 410);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "session_expired");
    assert_eq!(app.stored_event_count(&id).await, 0);
}

async fn apps_can_post_the_callback_payload_themselves(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let id = open(&app, "ios").await;
    let post = |sub: &str, body: Value| {
        app.client
            .post(app.url(&format!("/v1/widget-sessions/{id}/events")))
            .bearer_auth(app.token(sub))
            .json(&body)
            .send()
    };
    let other = post(
        "pedro",
        json!({"kind": "success", "link": LINK_ID, "institution": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 404);
    let bad = post("maria", json!({"kind": "success", "link": 42}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad_kind = post("maria", json!({"kind": "teleport"})).await.unwrap();
    assert_eq!(bad_kind.status(), 400);

    let ok = post(
        "maria",
        json!({"kind": "success", "link": LINK_ID, "institution": "erebor_br_retail"}),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["changed"], true);

    let replay = post(
        "maria",
        json!({"kind": "success", "link": LINK_ID, "institution": "erebor_br_retail"}),
    )
    .await
    .unwrap();
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["replay"], true);
    assert_eq!(app.status("maria", &id).await["link_id"], LINK_ID);
}

crate::helpers::on_redis_and_cluster!(
    success_callback_records_link_and_redirects_to_app,
    exit_callback_records_error_and_step,
    exit_without_error_is_a_plain_exit,
    error_event_fails_the_session_on_any_callback_url,
    an_expired_token_leaves_the_session_pending_until_reopened,
    warning_is_appended_and_leaves_the_session_pending,
    first_terminal_event_wins_and_later_ones_change_nothing,
    a_replayed_success_is_counted_once,
    unknown_or_forged_sessions_get_404,
    malformed_values_get_400_and_are_recorded_nowhere,
    redirect_parameters_are_ignored,
    each_platform_returns_to_its_configured_deeplink,
    format_html_shows_a_result_page_with_escaped_values,
    a_session_pending_past_its_deadline_is_expired_and_refuses_callbacks,
    apps_can_post_the_callback_payload_themselves,
);

#[tokio::test]
async fn bidirectional_overrides_in_messages_are_removed_before_they_are_kept() {
    let app = spawn_app_on(StoreKind::Memory).await;
    let id = open(&app, "ios").await;
    // "Wrong password" with a right-to-left override hiding a reordered tail.
    let query = "last_encountered_error_code=login_error\
        &last_encountered_error_message=Wrong%20password%20%E2%80%AEtxt.exe%E2%80%AC%20%E2%81%A6x%E2%81%A9";
    assert_eq!(app.callback(&id, "exit", query).await.status(), 302);
    let status = app.status("maria", &id).await;
    assert_eq!(
        status["last_error"]["message"], "Wrong password txt.exe x",
        "{status}"
    );
}
