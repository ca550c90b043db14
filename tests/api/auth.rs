//! App JWTs: only well-signed, current tokens for the configured issuer/audience get in.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, stub_server, StoreKind, TestApp};

const DEV_SECRET: &[u8] = b"dev-app-jwt-secret-not-for-production";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256(claims: &Value, key: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

async fn create_with(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/v1/widget-sessions"))
        .json(&json!({"product": "mx_employment", "platform": "ios"}));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}

async fn assert_401(response: reqwest::Response, case: &str) {
    assert_eq!(response.status(), 401, "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{case}");
    assert!(!body["error"]["request_id"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401() {
    let app = spawn_app().await;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = json!({"sub": "maria", "exp": now() + 600});
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let cases = [
        ("missing", None),
        ("garbage", Some("not-a-jwt".to_owned())),
        ("alg none", Some(alg_none)),
        ("wrong key", Some(hs256(&claims, b"some-other-key"))),
        (
            "expired",
            Some(hs256(
                &json!({"sub": "maria", "exp": now() - 3600}),
                DEV_SECRET,
            )),
        ),
        (
            "not yet valid",
            Some(hs256(
                &json!({"sub": "maria", "exp": now() + 7200, "nbf": now() + 3600}),
                DEV_SECRET,
            )),
        ),
        (
            "no sub",
            Some(hs256(&json!({"exp": now() + 600}), DEV_SECRET)),
        ),
        (
            "empty sub",
            Some(hs256(&json!({"sub": "", "exp": now() + 600}), DEV_SECRET)),
        ),
        ("no exp", Some(hs256(&json!({"sub": "maria"}), DEV_SECRET))),
    ];
    for (case, token) in cases {
        assert_401(create_with(&app, token.as_deref()).await, case).await;
    }
    let basic = app
        .client
        .get(app.url(&format!("/v1/widget-sessions/{}", uuid::Uuid::new_v4())))
        .header("Authorization", "Basic bWFyaWE6cHc=")
        .send()
        .await
        .unwrap();
    assert_401(basic, "basic auth").await;
    let good = hs256(&claims, DEV_SECRET);
    assert_eq!(create_with(&app, Some(&good)).await.status(), 201);
}

/// The server keeps the tokens it verified (an app polls with one token many times): a kept
/// token is still refused once it expires.
#[tokio::test]
async fn a_token_accepted_before_is_refused_once_it_expires() {
    let app = spawn_app_with(StoreKind::Memory, |s| s.app_jwt.leeway = Duration::ZERO).await;
    let exp = now() + 2;
    let token = hs256(&json!({"sub": "maria", "exp": exp}), DEV_SECRET);
    assert_eq!(create_with(&app, Some(&token)).await.status(), 201);
    assert_eq!(create_with(&app, Some(&token)).await.status(), 201);
    // Until the clock is past `exp` (a token expires once `exp` < now).
    while now() <= exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_401(
        create_with(&app, Some(&token)).await,
        "expired since it was accepted",
    )
    .await;
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.app_jwt.issuer = "https://id.acme.example".into();
        s.app_jwt.audience = "belvo-bff".into();
    })
    .await;
    let exp = now() + 600;
    let right =
        json!({"sub": "m", "exp": exp, "iss": "https://id.acme.example", "aud": "belvo-bff"});
    let wrong_aud =
        json!({"sub": "m", "exp": exp, "iss": "https://id.acme.example", "aud": "other"});
    let wrong_iss =
        json!({"sub": "m", "exp": exp, "iss": "https://evil.example", "aud": "belvo-bff"});
    let no_aud = json!({"sub": "m", "exp": exp, "iss": "https://id.acme.example"});
    let no_iss = json!({"sub": "m", "exp": exp, "aud": "belvo-bff"});
    // RFC 7519 §4.1.3: `aud` may be an array; ours must be one of its members.
    let aud_array = json!({"sub": "m", "exp": exp, "iss": "https://id.acme.example",
        "aud": ["other", "belvo-bff"]});
    let wrong_aud_array = json!({"sub": "m", "exp": exp, "iss": "https://id.acme.example",
        "aud": ["other", "another"]});
    for (case, claims) in [("aud string", right), ("aud array", aud_array)] {
        let status = create_with(&app, Some(&hs256(&claims, DEV_SECRET)))
            .await
            .status();
        assert_eq!(status, 201, "{case}");
    }
    for (case, claims) in [
        ("wrong audience", wrong_aud),
        ("wrong audience array", wrong_aud_array),
        ("wrong issuer", wrong_iss),
        ("no audience", no_aud),
        ("no issuer", no_iss),
    ] {
        assert_401(
            create_with(&app, Some(&hs256(&claims, DEV_SECRET))).await,
            case,
        )
        .await;
    }
    // `belvo-bff token` mints what this configuration accepts.
    assert_eq!(create_with(&app, Some(&app.token("m"))).await.status(), 201);
}

#[tokio::test]
async fn es256_tokens_verify_against_the_configured_public_key() {
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.app_jwt.algorithm = belvo_bff::config::JwtAlgorithm::ES256;
        s.app_jwt.public_key_pem = include_str!("../fixtures/es256-public.pem").into();
    })
    .await;
    let key = EncodingKey::from_ec_pem(include_bytes!("../fixtures/es256-private.pem")).unwrap();
    let claims = json!({"sub": "maria", "exp": now() + 600});
    let token = encode(&Header::new(Algorithm::ES256), &claims, &key).unwrap();
    assert_eq!(create_with(&app, Some(&token)).await.status(), 201);

    // An HS256 token signed with the public key's text must not pass (algorithm confusion).
    let confused = hs256(&claims, include_bytes!("../fixtures/es256-public.pem"));
    assert_401(
        create_with(&app, Some(&confused)).await,
        "HS256 with the public key",
    )
    .await;
}

const ES256_PRIVATE: &[u8] = include_bytes!("../fixtures/es256-private.pem");
const ROTATED_PRIVATE: &[u8] = include_bytes!("../fixtures/es256-rotated-private.pem");
/// The public keys of the two fixtures, as JWKS documents (kids fixture-2024 and -2025).
const JWKS: &str = include_str!("../fixtures/es256-jwks.json");
const ROTATED_JWKS: &str = include_str!("../fixtures/es256-rotated-jwks.json");

fn es256(private_pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_ec_pem(private_pem).unwrap();
    encode(&header, claims, &key).unwrap()
}

fn user_claims() -> Value {
    json!({"sub": "maria", "exp": now() + 600})
}

/// An identity provider's JWKS endpoint: serves what `body` holds (503 while it is empty) and
/// counts the requests it gets.
struct JwksEndpoint {
    url: String,
    calls: Arc<AtomicUsize>,
    body: Arc<Mutex<String>>,
}

impl JwksEndpoint {
    fn serving(body: &str) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(Mutex::new(body.to_owned()));
        let (counter, document) = (calls.clone(), served.clone());
        let base = stub_server(move |_req| {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = document.lock().unwrap().clone();
            async move {
                if body.is_empty() {
                    actix_web::HttpResponse::ServiceUnavailable().finish()
                } else {
                    actix_web::HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }
        });
        Self {
            url: format!("{base}/.well-known/jwks.json"),
            calls,
            body: served,
        }
    }

    fn serve(&self, body: &str) {
        *self.body.lock().unwrap() = body.to_owned();
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn app(&self) -> TestApp {
        spawn_app_with(StoreKind::Memory, |s| {
            s.app_jwt.algorithm = belvo_bff::config::JwtAlgorithm::ES256;
            s.app_jwt.jwks_url = Some(self.url.parse().unwrap());
        })
        .await
    }
}

/// A token's parts with its header replaced (the signature stays the original's).
fn with_header(token: &str, header: &Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string());
    let (_, rest) = token.split_once('.').unwrap();
    format!("{b64}.{rest}")
}

#[tokio::test]
async fn jwks_tokens_verify_with_the_key_their_kid_names() {
    let idp = JwksEndpoint::serving(JWKS);
    let app = idp.app().await;
    assert_eq!(idp.calls(), 1, "fetched once at start-up");
    let claims = user_claims();
    let good = es256(ES256_PRIVATE, Some("fixture-2024"), &claims);
    let created = create_with(&app, Some(&good)).await;
    assert_eq!(created.status(), 201);
    let session: Value = created.json().await.unwrap();
    let status = app
        .client
        .get(app.url(&format!(
            "/v1/widget-sessions/{}",
            session["session_id"].as_str().unwrap()
        )))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(idp.calls(), 1, "known kids are checked from memory");

    let public_pem = include_bytes!("../fixtures/es256-public.pem");
    let hs256_with_kid = |secret: &[u8]| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("fixture-2024".into());
        encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
    };
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let cases = [
        ("no kid", es256(ES256_PRIVATE, None, &claims)),
        (
            "unknown kid",
            es256(ES256_PRIVATE, Some("someone-elses"), &claims),
        ),
        (
            "known kid, other key",
            es256(ROTATED_PRIVATE, Some("fixture-2024"), &claims),
        ),
        (
            "expired",
            es256(
                ES256_PRIVATE,
                Some("fixture-2024"),
                &json!({"sub": "maria", "exp": now() - 3600}),
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": "fixture-2024"})),
                b64(&claims)
            ),
        ),
        (
            "header says RS256",
            with_header(&good, &json!({"alg": "RS256", "kid": "fixture-2024"})),
        ),
        ("HS256 with the PEM as secret", hs256_with_kid(public_pem)),
        (
            "HS256 with the JWKS as secret",
            hs256_with_kid(JWKS.as_bytes()),
        ),
        (
            "HS256 with the JWK's x as secret",
            hs256_with_kid(b"_c4mLtMXyDddA3MIeWmMau1UlQbq06WyoKn9UmXAFAw"),
        ),
    ];
    for (case, token) in cases {
        assert_401(create_with(&app, Some(&token)).await, case).await;
    }
    // Only the unknown kid was worth a refetch.
    assert_eq!(idp.calls(), 2);
    assert_eq!(create_with(&app, Some(&good)).await.status(), 201);
}

#[tokio::test]
async fn a_rotated_jwks_key_is_accepted_after_one_refetch() {
    let idp = JwksEndpoint::serving(JWKS);
    let app = idp.app().await;
    let claims = user_claims();
    let old = es256(ES256_PRIVATE, Some("fixture-2024"), &claims);
    assert_eq!(create_with(&app, Some(&old)).await.status(), 201);

    // The provider rotates: the old key is gone, a new one signs.
    idp.serve(ROTATED_JWKS);
    let new = es256(ROTATED_PRIVATE, Some("fixture-2025"), &claims);
    assert_eq!(create_with(&app, Some(&new)).await.status(), 201);
    assert_eq!(idp.calls(), 2);
    assert_eq!(create_with(&app, Some(&new)).await.status(), 201);
    assert_401(create_with(&app, Some(&old)).await, "retired key").await;
    assert_eq!(idp.calls(), 2, "no second refetch within the cooldown");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_jwks_a_bounded_number_of_times() {
    let idp = JwksEndpoint::serving(JWKS);
    let app = idp.app().await;
    let claims = user_claims();
    let forged: Vec<String> = (0..40)
        .map(|i| es256(ES256_PRIVATE, Some(&format!("forged-{i}")), &claims))
        .collect();
    let responses =
        futures_util::future::join_all(forged.iter().map(|t| create_with(&app, Some(t)))).await;
    for response in responses {
        assert_401(response, "forged kid, concurrently").await;
    }
    for token in &forged[..10] {
        assert_401(create_with(&app, Some(token)).await, "forged kid, again").await;
    }
    assert!(
        idp.calls() <= 2,
        "start-up and at most one refetch, got {}",
        idp.calls()
    );
    let good = es256(ES256_PRIVATE, Some("fixture-2024"), &claims);
    assert_eq!(create_with(&app, Some(&good)).await.status(), 201);
}

#[tokio::test]
async fn with_the_jwks_endpoint_down_at_start_tokens_get_401_until_it_is_up() {
    let idp = JwksEndpoint::serving("");
    let app = idp.app().await;
    let good = es256(ES256_PRIVATE, Some("fixture-2024"), &user_claims());
    assert_401(create_with(&app, Some(&good)).await, "JWKS not fetched yet").await;
    let ready = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "the server is up");

    // The background retry picks the set up once the endpoint answers.
    idp.serve(JWKS);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = create_with(&app, Some(&good)).await.status();
        if status == 201 {
            break;
        }
        assert_eq!(status, 401);
        assert!(
            std::time::Instant::now() < deadline,
            "the JWKS was never fetched again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn with_nothing_listening_at_the_jwks_url_the_server_starts_and_answers_401() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.app_jwt.algorithm = belvo_bff::config::JwtAlgorithm::ES256;
        s.app_jwt.jwks_url = Some(url.parse().unwrap());
    })
    .await;
    let good = es256(ES256_PRIVATE, Some("fixture-2024"), &user_claims());
    assert_401(create_with(&app, Some(&good)).await, "JWKS unreachable").await;
    assert_401(create_with(&app, None).await, "no token").await;
}
