//! App JWTs: only well-signed, current tokens for the configured issuer/audience get in.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, StoreKind, TestApp};

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
    assert_eq!(
        create_with(&app, Some(&hs256(&right, DEV_SECRET)))
            .await
            .status(),
        201
    );
    for (case, claims) in [
        ("wrong audience", wrong_aud),
        ("wrong issuer", wrong_iss),
        ("no audience", no_aud),
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
