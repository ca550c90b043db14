//! Links: the API flow with Belvo's error tables, owner-only data, upstream failures.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, StoreKind, TestApp, LINK_ID};

async fn create_link(
    app: &TestApp,
    sub: &str,
    product: &str,
    username: &str,
    lang: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/v1/links"))
        .bearer_auth(app.token(sub))
        .header("Accept-Language", lang)
        .json(&json!({"product": product, "username": username}))
        .send()
        .await
        .unwrap()
}

async fn emulator_link_requests(app: &TestApp) -> u64 {
    app.emulator_get("/_emulator/stats").await["link_requests"]
        .as_u64()
        .unwrap()
}

async fn get(app: &TestApp, sub: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(app.token(sub))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_imss_error_comes_back_as_a_distinct_code_explained_in_three_languages() {
    // One user tries every fixture ID, more than limits.usernames_per_day allows a person.
    let app = spawn_app_with(StoreKind::Redis, |s| s.limits.usernames_per_day = 100).await;
    let mut codes = Vec::new();
    for (username, _, belvo_code, belvo_message) in belvo_bff::emulator::FIXTURE_USERNAMES {
        let mut texts = Vec::new();
        for lang in ["es-MX", "pt-BR", "en"] {
            let response = create_link(&app, "maria", "mx_employment", username, lang).await;
            if texts.len() == 2 {
                // Three tries of one CURP: the third is still allowed.
                assert_ne!(response.status(), 429);
            }
            assert_eq!(response.status(), 422, "{username}");
            let body: Value = response.json().await.unwrap();
            let error = &body["error"];
            assert_eq!(error["belvo"]["code"], *belvo_code);
            assert_eq!(error["belvo"]["message"], *belvo_message);
            assert!(error["explanation"]["user_action"].as_str().unwrap().len() > 10);
            texts.push((
                error["code"].as_str().unwrap().to_owned(),
                error["message"].as_str().unwrap().to_owned(),
            ));
        }
        assert!(
            texts.iter().all(|(c, _)| *c == texts[0].0),
            "one code whatever the language"
        );
        assert_ne!(texts[0].1, texts[1].1, "es and pt differ for {username}");
        assert_ne!(texts[1].1, texts[2].1, "pt and en differ for {username}");
        codes.push(texts[0].0.clone());
    }
    let n = codes.len();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), n, "distinct codes: {codes:?}");
}

#[tokio::test]
async fn explanations_follow_the_highest_weighted_accept_language() {
    let app = spawn_app().await;
    let (username, ..) = belvo_bff::emulator::FIXTURE_USERNAMES[0];
    let mut messages = Vec::new();
    for lang in ["es", "pt", "pt;q=0.1, es;q=0.9"] {
        let response = create_link(&app, "maria", "mx_employment", username, lang).await;
        assert_eq!(response.status(), 422, "{lang}");
        let body: Value = response.json().await.unwrap();
        messages.push(body["error"]["message"].as_str().unwrap().to_owned());
    }
    assert_ne!(messages[0], messages[1], "es and pt differ");
    assert_eq!(messages[2], messages[0], "es outweighs pt: {messages:?}");
}

#[tokio::test]
async fn belvos_forbidden_by_host_is_a_429_retry_tomorrow() {
    let app = spawn_app().await;
    let curp = "ROJA800101MDFXXX01";
    // Three attempts made elsewhere (straight to Belvo) use up the day.
    for _ in 0..3 {
        let r = app
            .client
            .post(app.url("/emulator/api/links/"))
            .basic_auth("dev-secret-id", Some("dev-secret-password"))
            .json(&json!({"institution": "planet_mx_employment", "username": curp, "access_mode": "single"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let response = create_link(&app, "maria", "mx_employment", curp, "es").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "86400");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden_by_host");
    assert_eq!(body["error"]["retry_after"], 86400);
    assert_eq!(
        body["error"]["explanation"]["user_action"],
        "Vuelve a intentarlo mañana."
    );
}

#[tokio::test]
async fn the_bff_answers_429_before_the_user_burns_belvos_daily_limit() {
    let app = spawn_app().await;
    let before = emulator_link_requests(&app).await;
    for _ in 0..3 {
        assert_eq!(
            create_link(&app, "maria", "mx_employment", "GODE561231HDFRRN09", "en")
                .await
                .status(),
            201
        );
    }
    let fourth = create_link(&app, "maria", "mx_employment", "gode561231hdfrrn09", "en").await;
    assert_eq!(fourth.status(), 429);
    let retry: u64 = fourth.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 86_000 && retry <= 86_400, "{retry}");
    let body: Value = fourth.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
    assert_eq!(
        emulator_link_requests(&app).await - before,
        3,
        "the fourth never reached Belvo"
    );
}

#[tokio::test]
async fn invalid_ids_never_reach_belvo() {
    let app = spawn_app().await;
    let before = emulator_link_requests(&app).await;
    let cases = [
        ("mx_employment", "BLPM951331IONVGR54"),
        ("mx_employment", "GODE561231HDFRRN0"),
        ("mx_employment", "not a curp at all!"),
        ("br_employment", "76109277674"),
        ("br_employment", "11111111111"),
        ("co_employment", "12345"),
        ("co_employment", "12345678901"),
        ("co_employment", "1234567a"),
    ];
    for (product, username) in cases {
        let response = create_link(&app, "maria", product, username, "en").await;
        assert_eq!(response.status(), 400, "{product} {username}");
        let body = response.text().await.unwrap();
        assert!(body.contains("invalid_username"));
        assert!(!body.contains(username), "the id is never echoed");
    }
    let ofda = create_link(&app, "maria", "br_ofda", "76109277673", "en").await;
    assert_eq!(ofda.status(), 400);
    assert_eq!(emulator_link_requests(&app).await, before);
}

#[tokio::test]
async fn api_links_are_listed_and_their_data_served_to_the_owner_only() {
    let app = spawn_app().await;
    let created = create_link(&app, "maria", "co_employment", "1020304050", "es").await;
    assert_eq!(created.status(), 201);
    let link: Value = created.json().await.unwrap();
    let id = link["link_id"].as_str().unwrap();
    assert_eq!(link["institution"], "pila_co_employment");

    let mine: Value = get(&app, "maria", "/v1/links").await.json().await.unwrap();
    assert_eq!(mine["links"].as_array().unwrap().len(), 1);
    assert_eq!(mine["links"][0]["link_id"], id);
    let theirs: Value = get(&app, "pedro", "/v1/links").await.json().await.unwrap();
    assert_eq!(theirs["links"], json!([]));

    let employments = get(
        &app,
        "maria",
        &format!("/v1/links/{id}/employments?page_size=1"),
    )
    .await;
    assert_eq!(employments.status(), 200);
    let page: Value = employments.json().await.unwrap();
    assert!(page["count"].as_u64().unwrap() >= 2);
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(page["results"][0]["country"], "CO");
    assert_eq!(
        page["next"],
        format!("/v1/links/{id}/employments?page=2&page_size=1")
    );
    let owners = get(&app, "maria", &format!("/v1/links/{id}/owners")).await;
    assert_eq!(owners.status(), 200);

    for path in [
        format!("/v1/links/{id}"),
        format!("/v1/links/{id}/owners"),
        format!("/v1/links/{id}/employments"),
    ] {
        assert_eq!(get(&app, "pedro", &path).await.status(), 404, "{path}");
    }
    for path in [
        format!("/v1/links/{LINK_ID}"),
        format!("/v1/links/{LINK_ID}/owners"),
        "/v1/links/nope".into(),
    ] {
        assert_eq!(get(&app, "maria", &path).await.status(), 404, "{path}");
    }
    assert_eq!(
        get(&app, "maria", &format!("/v1/links/{id}/employment-records"))
            .await
            .status(),
        404
    );
    assert_eq!(
        get(&app, "maria", &format!("/v1/links/{id}/owners?page=0"))
            .await
            .status(),
        400
    );
}

async fn delete(app: &TestApp, sub: &str, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/v1/links/{id}")))
        .bearer_auth(app.token(sub))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_owner_deletes_a_link_at_belvo_and_here() {
    for store in [StoreKind::Memory, StoreKind::Redis, StoreKind::Cluster] {
        let app = spawn_app_with(store, |_| {}).await;
        let created = create_link(&app, "maria", "co_employment", "1020304050", "es").await;
        assert_eq!(created.status(), 201);
        let link: Value = created.json().await.unwrap();
        let id = link["link_id"].as_str().unwrap();

        assert_eq!(delete(&app, "pedro", id).await.status(), 404, "not pedro's");
        assert_eq!(
            delete(&app, "maria", LINK_ID).await.status(),
            404,
            "unknown"
        );
        assert_eq!(delete(&app, "maria", "nope").await.status(), 404);
        assert_eq!(
            get(&app, "maria", &format!("/v1/links/{id}"))
                .await
                .status(),
            200
        );

        let at_belvo = |app: &TestApp| {
            app.client
                .get(app.url(&format!("/emulator/api/links/{id}/")))
                .basic_auth("dev-secret-id", Some("dev-secret-password"))
                .send()
        };
        assert_eq!(at_belvo(&app).await.unwrap().status(), 200);
        assert_eq!(delete(&app, "maria", id).await.status(), 204);
        assert_eq!(
            at_belvo(&app).await.unwrap().status(),
            404,
            "deleted at Belvo"
        );
        assert_eq!(
            get(&app, "maria", &format!("/v1/links/{id}"))
                .await
                .status(),
            404
        );
        let path = format!("/v1/links/{id}/owners");
        assert_eq!(get(&app, "maria", &path).await.status(), 404);
        let mine: Value = get(&app, "maria", "/v1/links").await.json().await.unwrap();
        assert_eq!(mine["links"], json!([]));
        assert_eq!(delete(&app, "maria", id).await.status(), 404, "once");
    }
}

#[tokio::test]
async fn a_failing_belvo_deletes_nothing() {
    let app = spawn_app().await;
    let created = create_link(&app, "maria", "co_employment", "1020304050", "es").await;
    let link: Value = created.json().await.unwrap();
    let id = link["link_id"].as_str().unwrap().to_owned();
    for (hang, status) in [(true, 504), (false, 502)] {
        // The same store, now with a Belvo that hangs or fails.
        let url = broken_belvo(hang);
        let mut settings = app.settings.clone();
        settings.belvo.base_url = Some(url.parse().unwrap());
        settings.belvo.timeout = Duration::from_millis(500);
        let broken = crate::helpers::spawn_settings(settings).await;
        assert_eq!(delete(&broken, "maria", &id).await.status(), status);
        let path = format!("/v1/links/{id}");
        assert_eq!(get(&broken, "maria", &path).await.status(), 200, "kept");
    }
}

#[tokio::test]
async fn widget_links_are_served_once_verified_and_forged_ones_never() {
    let app = spawn_app().await;
    let (session, link) = app
        .connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    let status = app.status_until_resources("maria", &session).await;
    assert_eq!(status["link_verified"], true);
    let mut response = get(
        &app,
        "maria",
        &format!("/v1/links/{link}/employment-records"),
    )
    .await;
    for _ in 0..20 {
        if response.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        response = get(
            &app,
            "maria",
            &format!("/v1/links/{link}/employment-records"),
        )
        .await;
    }
    assert_eq!(response.status(), 200);
    let records: Value = response.json().await.unwrap();
    assert_eq!(
        records["count"],
        status["resources"]["EMPLOYMENT_RECORDS"]["total"]
    );

    // Pedro reports Maria's link as his own success: he gets nothing.
    let pedro = app.open("pedro", "mx_employment", "ios").await;
    let pedro_id = pedro["session_id"].as_str().unwrap();
    app.callback(
        pedro_id,
        "success",
        &format!("link={link}&institution=planet_mx_employment"),
    )
    .await;
    assert_eq!(
        get(
            &app,
            "pedro",
            &format!("/v1/links/{link}/employment-records")
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        get(&app, "pedro", &format!("/v1/links/{link}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        get(&app, "maria", &format!("/v1/links/{link}"))
            .await
            .status(),
        200
    );
}

/// A Belvo that never answers, or answers 500.
fn broken_belvo(hang: bool) -> String {
    crate::helpers::stub_server(move |_| async move {
        if hang {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        actix_web::HttpResponse::InternalServerError().finish()
    })
}

#[tokio::test]
async fn a_slow_or_failing_belvo_gives_504_or_502_never_a_hang() {
    for (hang, status, code) in [(true, 504, "belvo_timeout"), (false, 502, "belvo_rejected")] {
        let url = broken_belvo(hang);
        let app = spawn_app_with(StoreKind::Memory, |s| {
            s.belvo.base_url = Some(url.parse().unwrap());
            s.belvo.timeout = Duration::from_millis(500);
        })
        .await;
        let started = Instant::now();
        let link = create_link(&app, "maria", "mx_employment", "GODE561231HDFRRN09", "en").await;
        assert_eq!(link.status(), status);
        let body: Value = link.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
        let session = app
            .post_session(
                "maria",
                &json!({"product": "mx_employment", "platform": "ios"}),
            )
            .await;
        assert_eq!(session.status(), status);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn one_user_may_try_only_so_many_different_ids_a_day() {
    let app = spawn_app_with(StoreKind::Memory, |s| s.limits.usernames_per_day = 3).await;
    for cedula in ["1020304051", "1020304052", "1020304053"] {
        let response = create_link(&app, "maria", "co_employment", cedula, "en").await;
        assert_eq!(response.status(), 201, "{cedula}");
    }
    let before = emulator_link_requests(&app).await;
    let fourth = create_link(&app, "maria", "co_employment", "1020304054", "en").await;
    assert_eq!(fourth.status(), 429);
    assert!(fourth.headers().contains_key("retry-after"));
    let body: Value = fourth.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_usernames");
    assert_eq!(
        emulator_link_requests(&app).await,
        before,
        "not sent to Belvo"
    );
    // An ID tried already may be tried again; another user has a budget of their own.
    let again = create_link(&app, "maria", "co_employment", "1020304052", "en").await;
    assert_eq!(again.status(), 201);
    let other = create_link(&app, "ana", "co_employment", "1020304054", "en").await;
    assert_eq!(other.status(), 201);
}

#[tokio::test]
async fn a_cedula_with_leading_zeros_is_the_same_id_to_the_attempt_limit() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    for cedula in ["1234567", "01234567", "001234567"] {
        let response = create_link(&app, "maria", "co_employment", cedula, "en").await;
        assert_eq!(response.status(), 201, "{cedula}");
    }
    let fourth = create_link(&app, "maria", "co_employment", "0001234567", "en").await;
    assert_eq!(fourth.status(), 429);
    let body: Value = fourth.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
}

#[tokio::test]
async fn another_users_session_cannot_claim_a_link() {
    let app = spawn_app().await;
    let created = create_link(&app, "maria", "co_employment", "1020304050", "es").await;
    assert_eq!(created.status(), 201);
    let link: Value = created.json().await.unwrap();
    let link_id = link["link_id"].as_str().unwrap().to_owned();

    // Pedro reports success with Maria's link: by callback, and through the events endpoint.
    let by_callback = app.open("pedro", "co_employment", "ios").await;
    let by_event = app.open("pedro", "co_employment", "android").await;
    let query = format!("link={link_id}&institution=pila_co_employment");
    let callback = app
        .callback(
            by_callback["session_id"].as_str().unwrap(),
            "success",
            &query,
        )
        .await;
    assert_eq!(callback.status(), 302);
    let event = app
        .client
        .post(app.url(&format!(
            "/v1/widget-sessions/{}/events",
            by_event["session_id"].as_str().unwrap()
        )))
        .bearer_auth(app.token("pedro"))
        .json(&json!({"kind": "success", "link": link_id, "institution": "pila_co_employment"}))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status(), 200, "{}", event.text().await.unwrap());
    for session in [&by_callback, &by_event] {
        let status = app
            .status("pedro", session["session_id"].as_str().unwrap())
            .await;
        assert_eq!(status["status"], "failed", "{status}");
        assert_eq!(status["last_error"]["code"], "link_owned_elsewhere");
        let what = status["last_error"]["explanation"]["what"]
            .as_str()
            .unwrap();
        assert!(what.contains("someone else"), "{what}");
        assert_eq!(status["link_id"], Value::Null);
    }

    let mine: Value = get(&app, "maria", "/v1/links").await.json().await.unwrap();
    assert_eq!(
        mine["links"][0]["link_id"],
        link_id.as_str(),
        "Maria keeps it"
    );
    let pedros: Value = get(&app, "pedro", "/v1/links").await.json().await.unwrap();
    assert_eq!(pedros["links"], json!([]));
    let owners = get(&app, "pedro", &format!("/v1/links/{link_id}/owners")).await;
    assert_eq!(owners.status(), 404);
}

/// A verified link's data answers 200 once the background verification has landed.
async fn get_when_verified(app: &TestApp, sub: &str, path: &str) -> Value {
    let started = Instant::now();
    loop {
        let response = get(app, sub, path).await;
        if response.status() == 200 {
            return response.json().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path}: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn open_finance_accounts_and_transactions_hold_what_the_webhooks_announced() {
    let app = spawn_app().await;
    let (session, link) = app.connect("maria", "br_ofda", "erebor_br_retail").await;
    let status = app.status_until_resources("maria", &session).await;
    let announced = |r: &str| status["resources"][r]["total"].clone();

    let accounts = get_when_verified(&app, "maria", &format!("/v1/links/{link}/accounts")).await;
    assert_eq!(accounts["count"], announced("ACCOUNTS"));
    assert_eq!(accounts["results"][0]["currency"], "BRL");

    // Every transaction, page by page through this API's own `next`.
    let mut next = format!("/v1/links/{link}/transactions?page_size=7");
    let mut seen = Vec::new();
    let mut count = Value::Null;
    while !next.is_empty() {
        let page: Value = get(&app, "maria", &next).await.json().await.unwrap();
        count = page["count"].clone();
        seen.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].clone()),
        );
        next = page["next"].as_str().unwrap_or_default().to_owned();
    }
    assert_eq!(count, announced("TRANSACTIONS"));
    seen.dedup();
    assert_eq!(Some(seen.len() as u64), count.as_u64());

    let june = format!(
        "/v1/links/{link}/transactions?page_size=2&date_from=2024-06-01&date_to=2024-06-30"
    );
    let page: Value = get(&app, "maria", &june).await.json().await.unwrap();
    assert!(page["count"].as_u64().unwrap() < count.as_u64().unwrap());
    assert!(page["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["value_date"].as_str().unwrap().starts_with("2024-06")));
    if !page["next"].is_null() {
        assert_eq!(page["next"], format!("/v1/links/{link}/transactions?page=2&page_size=2&date_from=2024-06-01&date_to=2024-06-30"));
    }

    for (path, status) in [
        (format!("/v1/links/{link}/transactions?date_from=June"), 400),
        (
            format!("/v1/links/{link}/transactions?date_from=2024-07-01&date_to=2024-06-01"),
            400,
        ),
        (
            format!("/v1/links/{link}/accounts?date_from=2024-06-01"),
            400,
        ),
        (format!("/v1/links/{link}/employments"), 404),
    ] {
        assert_eq!(get(&app, "maria", &path).await.status(), status, "{path}");
    }
    for resource in ["accounts", "transactions"] {
        let theirs = get(&app, "pedro", &format!("/v1/links/{link}/{resource}")).await;
        assert_eq!(theirs.status(), 404, "{resource}");
    }

    // An employment link has no accounts.
    let (_, mx) = app
        .connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    get_when_verified(&app, "maria", &format!("/v1/links/{mx}/owners")).await;
    assert_eq!(
        get(&app, "maria", &format!("/v1/links/{mx}/accounts"))
            .await
            .status(),
        404
    );
}

/// A Belvo in front of `upstream`'s emulator that passes everything through but the
/// open-finance data endpoints, which hang (`hang`) or answer 500.
fn belvo_failing_on_banking_data(upstream: String, hang: bool) -> String {
    use actix_web::{web, HttpRequest, HttpResponse};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let http = reqwest::Client::new();
    let server = actix_web::HttpServer::new(move || {
        let upstream = upstream.clone();
        let http = http.clone();
        actix_web::App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let (upstream, http) = (upstream.clone(), http.clone());
            async move {
                let path = req.path();
                if path == "/api/accounts/" || path == "/api/transactions/" {
                    if hang {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    return HttpResponse::InternalServerError().finish();
                }
                let target = format!("{upstream}/emulator{}", req.uri());
                let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
                let mut forwarded = http.request(method, target).body(body.to_vec());
                for name in ["authorization", "content-type"] {
                    if let Some(value) = req.headers().get(name) {
                        forwarded = forwarded.header(name, value.as_bytes());
                    }
                }
                let answer = forwarded.send().await.unwrap();
                let status =
                    actix_web::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
                HttpResponse::build(status)
                    .content_type("application/json")
                    .body(answer.bytes().await.unwrap())
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

#[tokio::test]
async fn a_slow_or_failing_belvo_on_open_finance_data_gives_504_or_502() {
    // "Belvo" is another server's emulator, reached through a proxy that breaks the data.
    let belvo = spawn_app().await;
    for (hang, status, code) in [(true, 504, "belvo_timeout"), (false, 502, "belvo_rejected")] {
        let proxy = belvo_failing_on_banking_data(belvo.address.clone(), hang);
        let widget = belvo.url("/emulator/widget/");
        let app = spawn_app_with(StoreKind::Memory, |s| {
            s.belvo.base_url = Some(proxy.parse().unwrap());
            s.belvo.widget_url = Some(widget.parse().unwrap());
            s.belvo.timeout = Duration::from_millis(500);
        })
        .await;
        let session = app.open("maria", "br_ofda", "ios").await;
        // The user opens widget_url (this app's /w/), which sends them to "Belvo"'s widget.
        let opened = app
            .belvo_widget(session["widget_url"].as_str().unwrap())
            .await;
        let callback = belvo
            .widget_outcome(&opened, "success", "erebor_br_retail")
            .await;
        let link = crate::helpers::param(&callback, "link").unwrap();
        assert_eq!(
            app.client.get(&callback).send().await.unwrap().status(),
            302
        );
        get_when_verified(&app, "maria", &format!("/v1/links/{link}/owners")).await;
        for resource in ["accounts", "transactions"] {
            let started = Instant::now();
            let response = get(&app, "maria", &format!("/v1/links/{link}/{resource}")).await;
            assert_eq!(response.status(), status, "{resource}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], code);
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{:?}",
                started.elapsed()
            );
        }
    }
}
