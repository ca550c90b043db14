//! Signing in to the console: accounts with argon2id passwords or staff tokens, strict cookies,
//! sign-out, anti-forgery tokens, and lockout after failed attempts.

use belvo_bff::auth::Role;
use belvo_bff::config::BelvoEnvironment;

use crate::console_helpers::{browser_client, spawn_console, with_staff, ADMIN, PASSWORD, SUPPORT};
use crate::helpers::{location, spawn_app_with, StoreKind};

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn password_sign_in_sets_a_strict_httponly_expiring_cookie() {
    let app = spawn_console().await;
    let client = browser_client();
    let response = app
        .post_login(
            &client,
            &[
                ("username", SUPPORT),
                ("password", PASSWORD),
                ("next", "/support?q=x"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/support?q=x");
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("bff_staff="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(
            session.contains(attribute),
            "{attribute} missing: {session}"
        );
    }
    // Embedded mode serves plain http, so the cookie cannot be Secure there.
    assert!(!session.contains("Secure"), "{session}");

    let (status, body) = app.page(&client, "/support").await;
    assert_eq!(status, 200);
    assert!(body.contains("id=\"who\">sofia<"), "{body}");
}

#[tokio::test]
async fn cookies_are_secure_outside_embedded_mode() {
    let app = spawn_app_with(StoreKind::Memory, |s| {
        with_staff(s);
        s.belvo.environment = BelvoEnvironment::Sandbox;
    })
    .await;
    let client = browser_client();
    let form = client.get(app.url("/support/login")).send().await.unwrap();
    assert_eq!(
        form.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains",
        "outside embedded mode browsers are told to use https only"
    );
    let login_cookie = set_cookies(&form).join("; ");
    assert!(
        login_cookie.contains("Secure") && login_cookie.contains("HttpOnly"),
        "{login_cookie}"
    );
    let csrf = crate::console_helpers::csrf_of(&form.text().await.unwrap());
    // A Secure cookie is not sent back over http: play the browser on https by hand.
    let response = app
        .client
        .post(app.url("/support/login"))
        .header("cookie", format!("bff_login={csrf}"))
        .form(&[("username", ADMIN), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-bff_staff="))
        .unwrap_or_else(|| panic!("a __Host- session cookie: {cookies:?}"));
    for attribute in [
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(
            session.contains(attribute),
            "{attribute} missing: {session}"
        );
    }
}

#[tokio::test]
async fn console_pages_send_people_to_sign_in_and_back() {
    let app = spawn_console().await;
    let response = app
        .client
        .get(app.url("/support/sessions/abc?lang=es"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "/support/login?next=%2Fsupport%2Fsessions%2Fabc%3Flang%3Des"
    );

    // A next that leaves the site is replaced by the console's home.
    let client = browser_client();
    let response = app
        .post_login(
            &client,
            &[
                ("username", SUPPORT),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/support");
}

#[tokio::test]
async fn sign_out_ends_the_session_everywhere() {
    let app = spawn_console().await;
    let client = app.signed_in(SUPPORT).await;
    let (_, page) = app.page(&client, "/support").await;
    let csrf = crate::console_helpers::csrf_of(&page);
    let response = client
        .post(app.url("/support/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/support/login");
    let removal = set_cookies(&response).join("; ");
    assert!(
        removal.contains("bff_staff=;") && removal.contains("Max-Age=0"),
        "{removal}"
    );

    let response = client.get(app.url("/support")).send().await.unwrap();
    assert_eq!(response.status(), 303, "signed out");
}

#[tokio::test]
async fn a_session_cookie_is_useless_after_sign_out() {
    let app = spawn_console().await;
    let client = browser_client();
    let response = app
        .post_login(&client, &[("username", SUPPORT), ("password", PASSWORD)])
        .await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("bff_staff="))
        .unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let (_, page) = app.page(&client, "/support").await;
    let csrf = crate::console_helpers::csrf_of(&page);
    client
        .post(app.url("/support/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let replayed = app
        .client
        .get(app.url("/support"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(
        replayed.status(),
        303,
        "the stored session is gone, not only the cookie"
    );
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let app = spawn_console().await;
    // Sign-in form: no token, or a token that is not this browser's.
    let client = browser_client();
    client.get(app.url("/support/login")).send().await.unwrap();
    for csrf in ["", "forged"] {
        let response = client
            .post(app.url("/support/login"))
            .form(&[
                ("username", SUPPORT),
                ("password", PASSWORD),
                ("csrf", csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert!(response.text().await.unwrap().contains("Form refused"));
    }
    // Sign-out with a session but without the session's token.
    let client = app.signed_in(SUPPORT).await;
    let response = client
        .post(app.url("/support/logout"))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        app.page(&client, "/support").await.0,
        200,
        "still signed in"
    );
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_for_a_while() {
    let app = spawn_console().await;
    let client = browser_client();
    for _ in 0..5 {
        let response = app
            .post_login(&client, &[("username", SUPPORT), ("password", "guess")])
            .await;
        assert_eq!(response.status(), 401);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("Wrong name or password."));
    }
    // Locked: even the right password is refused until the window ends.
    let response = app
        .post_login(&client, &[("username", SUPPORT), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins"));
    // Another account is not locked by it.
    let response = app
        .post_login(&client, &[("username", ADMIN), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn failed_sign_ins_are_also_limited_per_address() {
    let app = spawn_app_with(StoreKind::Redis, |s| {
        with_staff(s);
        s.staff.max_failures_per_ip = 3;
    })
    .await;
    let client = browser_client();
    for name in ["a", "b", "c"] {
        let response = app
            .post_login(&client, &[("username", name), ("password", "guess")])
            .await;
        assert_eq!(response.status(), 401);
    }
    let response = app
        .post_login(&client, &[("username", ADMIN), ("password", PASSWORD)])
        .await;
    assert_eq!(
        response.status(),
        429,
        "this address tried too many accounts"
    );
}

#[tokio::test]
async fn staff_tokens_sign_in_and_app_tokens_do_not() {
    let app = spawn_console().await;
    let client = browser_client();
    let token = app.staff_token("ops-bot", Role::Admin);
    let response = app.post_login(&client, &[("token", &token)]).await;
    assert_eq!(response.status(), 303);
    let (status, body) = app.page(&client, "/admin/branding").await;
    assert_eq!(status, 200);
    assert!(body.contains("ops-bot"));

    let client = browser_client();
    let app_token = app.token("maria");
    let response = app.post_login(&client, &[("token", &app_token)]).await;
    assert_eq!(response.status(), 401);

    // As a bearer header, for automation, without any sign-in.
    let response = app
        .client
        .get(app.url("/support"))
        .bearer_auth(app.staff_token("ops-bot", Role::Support))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .get(app.url("/support"))
        .bearer_auth(app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "an app token is not a staff token");
}

#[tokio::test]
async fn a_flood_of_refused_sign_ins_never_pushes_staff_actions_out_of_the_audit_log() {
    let app = spawn_console().await;
    let admin = app.staff_token("adam", Role::Admin);
    let audit = || async {
        let response = app
            .client
            .get(app.url("/admin/audit"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    audit().await; // a staff action: view_audit
    let client = browser_client();
    let page = client.get(app.url("/support/login")).send().await.unwrap();
    let csrf = crate::console_helpers::csrf_of(&page.text().await.unwrap());
    // More refused attempts than the audit page shows (200), mostly locked out.
    for i in 0..300 {
        let response = client
            .post(app.url("/support/login"))
            .form(&[
                ("username", format!("intruder{}", i % 3)),
                ("password", "guess".into()),
                ("csrf", csrf.clone()),
            ])
            .send()
            .await
            .unwrap();
        assert!([401, 429].contains(&response.status().as_u16()));
    }
    let log = audit().await;
    let (staff_part, refused_part) = log.split_once("id=\"refused\"").unwrap();
    assert!(
        staff_part.contains("view_audit"),
        "the staff action is still in the staff log"
    );
    assert!(
        !staff_part.contains("intruder"),
        "refused attempts are apart"
    );
    assert!(refused_part.contains("intruder0") && refused_part.contains("locked_out"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_sign_in_limits_count_the_forwarded_address() {
    // `server.trusted_proxies` (not the webhooks' list) decides whose X-Forwarded-For counts.
    let app = spawn_app_with(StoreKind::Memory, |s| {
        with_staff(s);
        s.staff.max_failures_per_ip = 3;
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let client = browser_client();
    let page = client.get(app.url("/support/login")).send().await.unwrap();
    let csrf = crate::console_helpers::csrf_of(&page.text().await.unwrap());
    let sign_in = |from: &'static str, name: &'static str, password: &'static str| {
        client
            .post(app.url("/support/login"))
            .header("X-Forwarded-For", from)
            .form(&[("username", name), ("password", password), ("csrf", &csrf)])
            .send()
    };
    for name in ["a", "b", "c"] {
        assert_eq!(
            sign_in("6.6.6.6", name, "guess").await.unwrap().status(),
            401
        );
    }
    let locked = sign_in("6.6.6.6", ADMIN, PASSWORD).await.unwrap();
    assert_eq!(locked.status(), 429, "that address is locked out");
    let other = sign_in("7.7.7.7", ADMIN, PASSWORD).await.unwrap();
    assert_eq!(
        other.status(),
        303,
        "another address behind the same proxy is not"
    );
}
