//! `widget_url` = `/w/{session_id}` (SPEC §11): reopened at will, with a token that has more
//! than a minute left, renewed by one request at a time across replicas; pages otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{
    location, param, spawn_app_with, spawn_settings, stub_server, StoreKind, TestApp,
};

async fn open_widget(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/w/{id}")))
        .send()
        .await
        .unwrap()
}

async fn token_requests(app: &TestApp) -> u64 {
    app.emulator_get("/_emulator/stats").await["token_requests"]
        .as_u64()
        .unwrap()
}

fn session_id(session: &Value) -> String {
    session["session_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn reopening_reuses_a_token_with_time_left_and_is_counted() {
    for store in [StoreKind::Memory, StoreKind::Redis, StoreKind::Cluster] {
        let app = spawn_app_with(store, |_| {}).await;
        let session = app.open("maria", "mx_employment", "ios").await;
        let id = session_id(&session);
        let before = app.status("maria", &id).await;
        assert_eq!(
            (before["opens"].clone(), before["opened_at"].clone()),
            (json!(0), Value::Null)
        );
        let asked = token_requests(&app).await;

        let first = open_widget(&app, &id).await;
        assert_eq!(first.status(), 302);
        assert_eq!(first.headers()["cache-control"], "no-store");
        let first = location(&first);
        assert!(first.starts_with(&app.url("/emulator/widget")), "{first}");
        let second = location(&open_widget(&app, &id).await);
        assert_eq!(
            param(&first, "access_token"),
            param(&second, "access_token")
        );
        assert_eq!(param(&first, "locale").as_deref(), Some("mx"));
        assert_eq!(
            token_requests(&app).await,
            asked,
            "no new token while it lasts"
        );

        let status = app.status("maria", &id).await;
        assert_eq!(status["opens"], 2, "{store:?}");
        assert!(status["opened_at"].is_string());
        assert_eq!(status["status"], "pending");
        // The emulated widget takes the token it was given.
        let callback = app
            .widget_outcome(&first, "success", "imss_mx_employment")
            .await;
        assert!(
            callback.contains(&format!("/callbacks/{id}/success")),
            "{callback}"
        );
    }
}

/// A JWT whose payload says it expires in `secs` (the server reads `exp` without checking the
/// signature: the token is Belvo's, for Belvo's widget).
fn token_expiring_in(secs: i64) -> String {
    let b64 = |v: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + secs;
    let jti = uuid::Uuid::new_v4();
    format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "HS512", "typ": "JWT"})),
        b64(json!({"exp": exp, "jti": jti}))
    )
}

/// A Belvo whose token endpoint answers after `delay` with tokens lasting `lifetime` seconds
/// (or 500 once `fail_after` tokens were given); counts the token requests.
fn slow_belvo(delay: Duration, lifetime: i64, fail_after: u64) -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let url = stub_server(move |req| {
        let counted = counted.clone();
        async move {
            if req.path() != "/api/token/" {
                return actix_web::HttpResponse::NotFound().finish();
            }
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(delay).await;
            if n > fail_after {
                return actix_web::HttpResponse::InternalServerError().finish();
            }
            let token = token_expiring_in(lifetime);
            actix_web::HttpResponse::Ok().json(json!({"access": token, "refresh": token}))
        }
    });
    (url, count)
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_once_for_replicas_opening_at_once() {
    for store in [StoreKind::Memory, StoreKind::Redis, StoreKind::Cluster] {
        // Tokens last 30 s: every one is "about to expire", so each opening would renew it.
        let (belvo, asked) = slow_belvo(Duration::from_millis(400), 30, u64::MAX);
        let app = spawn_app_with(store, |s| {
            s.belvo.base_url = Some(belvo.parse().unwrap());
        })
        .await;
        // A second replica on the same store (the memory store is one process: one replica).
        let other = match store {
            StoreKind::Memory => None,
            _ => Some(spawn_settings(app.settings.clone()).await),
        };
        let session = app.open("maria", "mx_employment", "android").await;
        let id = session_id(&session);
        let created_with = asked.load(Ordering::SeqCst);
        assert_eq!(created_with, 1, "the token is requested at creation");

        let openings = (0..8).map(|i| {
            let replica = match (&other, i % 2) {
                (Some(other), 1) => other,
                _ => &app,
            };
            open_widget(replica, &id)
        });
        let answers = futures_util::future::join_all(openings).await;
        let mut tokens = Vec::new();
        for answer in &answers {
            assert_eq!(answer.status(), 302, "{store:?}");
            tokens.push(param(&location(answer), "access_token").unwrap());
        }
        assert_eq!(
            asked.load(Ordering::SeqCst),
            2,
            "one renewal for eight openings ({store:?})"
        );
        tokens.dedup();
        assert_eq!(tokens.len(), 1, "every opening got the renewed token");
        assert_eq!(app.status("maria", &id).await["opens"], 8);
    }
}

#[tokio::test]
async fn belvo_failing_during_a_renewal_offers_to_try_again_and_the_session_stays_pending() {
    // The creation's token is given; every later request fails.
    let (belvo, _) = slow_belvo(Duration::ZERO, 30, 1);
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.belvo.base_url = Some(belvo.parse().unwrap());
    })
    .await;
    let session = app
        .post_session(
            "maria",
            &json!({"product": "mx_employment", "platform": "ios", "locale": "pt"}),
        )
        .await;
    let session: Value = session.json().await.unwrap();
    let id = session_id(&session);
    let page = open_widget(&app, &id).await;
    assert_eq!(page.status(), 502);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Não conseguimos abrir a conexão"), "{html}");
    assert!(
        html.contains(&format!("href=\"/w/{id}\"")),
        "a way to try again: {html}"
    );
    assert_eq!(app.status("maria", &id).await["status"], "pending");
    // The failed renewal let go of its mark: the next opening asks Belvo again at once.
    assert_eq!(open_widget(&app, &id).await.status(), 502);
}

#[tokio::test]
async fn finished_unknown_and_expired_sessions_get_a_page_in_their_language() {
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.sessions.pending_timeout = Duration::from_secs(2);
    })
    .await;
    let session = app
        .post_session(
            "maria",
            &json!({"product": "mx_employment", "platform": "ios", "locale": "en"}),
        )
        .await;
    let session: Value = session.json().await.unwrap();
    let id = session_id(&session);
    app.callback(&id, "exit", "meta_data_step=abandon-survey")
        .await;
    let page = open_widget(&app, &id).await;
    assert_eq!(page.status(), 410);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("This connection has already finished"),
        "{html}"
    );
    assert!(html.contains("session_finished"), "{html}");
    assert_eq!(
        app.status("maria", &id).await["opens"],
        0,
        "nothing counted"
    );

    for unknown in [uuid::Uuid::new_v4().to_string(), "not-a-session".into()] {
        let page = open_widget(&app, &unknown).await;
        assert_eq!(page.status(), 404);
    }

    let pending = app.open("maria", "mx_employment", "ios").await;
    let pending = session_id(&pending);
    // Past its deadline (2 s), the session reads expired.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.status("maria", &pending).await["status"] != "expired" {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = open_widget(&app, &pending).await;
    assert_eq!(page.status(), 410);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Esta conexión expiró"),
        "mx_employment speaks Spanish: {html}"
    );
    assert!(html.contains("session_expired"));
}

#[tokio::test]
async fn an_open_finance_session_whose_first_token_expired_asks_for_a_new_session() {
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.emulator.access_token_ttl = Duration::from_secs(30);
    })
    .await;
    let session = app.open("maria", "br_ofda", "ios").await;
    let id = session_id(&session);
    let page = open_widget(&app, &id).await;
    assert_eq!(page.status(), 410);
    let html = page.text().await.unwrap();
    assert!(html.contains("consent_details_required"), "{html}");
    assert!(
        html.contains("Este link não é mais válido"),
        "br_ofda speaks Portuguese: {html}"
    );
    // The CPF was never stored, anywhere.
    let mut conn = app.redis_conn().await;
    let pattern = format!("{}:*", app.settings.store.key_prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() >= 2, "{keys:?}");
    for key in keys {
        let dump: Option<Vec<u8>> = redis::cmd("DUMP")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let dump = String::from_utf8_lossy(&dump.unwrap_or_default()).into_owned();
        assert!(!dump.contains("76109277673"), "{key} holds the CPF");
    }
    // Other products renew instead.
    let session = app.open("maria", "br_employment", "ios").await;
    assert_eq!(open_widget(&app, &session_id(&session)).await.status(), 302);
}
