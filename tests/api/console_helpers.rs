//! The support console as staff use it: an app with staff accounts, and signed-in browsers-like
//! clients (cookie store, no redirects followed).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use belvo_bff::config::staff::StaffAccount;
use belvo_bff::config::Settings;
use belvo_bff::domain::ids::ProductName;
use belvo_bff::domain::staff::StaffRole;

use crate::helpers::{spawn_app_with, StoreKind, TestApp};

pub const SUPPORT: &str = "sofia";
pub const ADMIN: &str = "adam";
pub const PASSWORD: &str = "correct horse battery staple";

/// One hash for every test account (hashing is deliberately slow).
fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| belvo_bff::password::hash(PASSWORD).unwrap())
        .clone()
}

/// Adds the `sofia` (support) and `adam` (admin) accounts.
pub fn with_staff(settings: &mut Settings) {
    for (name, role) in [(SUPPORT, StaffRole::Support), (ADMIN, StaffRole::Admin)] {
        settings.staff.accounts.insert(
            name.into(),
            StaffAccount {
                password_hash: password_hash(),
                role,
            },
        );
    }
}

/// The app on Redis with the two staff accounts.
pub async fn spawn_console() -> TestApp {
    spawn_app_with(StoreKind::Redis, with_staff).await
}

/// A client that keeps cookies, like a browser, and does not follow redirects.
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap()
}

/// The value of the hidden `csrf` input of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("the page has a csrf field") + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

impl TestApp {
    /// A staff token, as `belvo-bff token --sub NAME --role ROLE` prints it.
    pub fn staff_token(&self, name: &str, role: belvo_bff::auth::Role) -> String {
        belvo_bff::jwt::mint(&self.settings, name, role, Duration::from_secs(600)).unwrap()
    }

    /// Opens the sign-in form in `client` and posts `form` (plus the form's csrf).
    pub async fn post_login(
        &self,
        client: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let page = client.get(self.url("/support/login")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let csrf = csrf_of(&page.text().await.unwrap());
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf", &csrf));
        client
            .post(self.url("/support/login"))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    /// A client signed in as `name` with the test password.
    pub async fn signed_in(&self, name: &str) -> reqwest::Client {
        let client = browser_client();
        let response = self
            .post_login(&client, &[("username", name), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        client
    }

    /// GETs a console page with `client` and returns (status, body).
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let response = client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

// The funnel (SPEC §14): a scripted mix of outcomes, shared by the API and browser tests.

/// The console on Redis with a product of its own, `product` (mx_employment's settings), so
/// that no other test counts in its funnel or its metric series.
pub async fn spawn_with_product(product: &str) -> TestApp {
    let product = ProductName::parse(product).unwrap();
    spawn_app_with(StoreKind::Redis, |settings| {
        with_staff(settings);
        let template = settings.products[&ProductName::parse("mx_employment").unwrap()].clone();
        settings.products.insert(product, template);
    })
    .await
}

/// A user who opens a session for mx_employment on iOS and its widget, then gets `outcome`
/// for `institution` from the emulated widget; the callback is followed twice (a replay).
async fn play(app: &TestApp, product: &str, sub: &str, outcome: &str, institution: &str) {
    let session = app.open(sub, product, "ios").await;
    let callback = app
        .widget_outcome(
            session["widget_url"].as_str().unwrap(),
            outcome,
            institution,
        )
        .await;
    replayed(app, &callback).await;
}

/// Follows a callback URL twice, as a reloaded page or a retry would.
async fn replayed(app: &TestApp, callback: &str) {
    for _ in 0..2 {
        let answer = app.client.get(callback).send().await.unwrap();
        assert_eq!(answer.status(), 302, "{callback}");
    }
}

/// The scripted mix, on `product` (a copy of mx_employment) / iOS: 5 sessions created, 4 widgets opened, 2 connected
/// (two institutions) whose links are both verified and both get every resource ready, 1 failed
/// with `login_error`, 1 left after choosing an institution (from the abandon survey), 1 left at
/// the first screen without ever opening the widget. Returns once the links' steps are counted.
pub async fn scripted_mix(app: &TestApp, product: &str) {
    play(app, product, "u_funnel_1", "success", "imss_mx_employment").await;
    play(
        app,
        product,
        "u_funnel_2",
        "success",
        "planet_mx_employment",
    )
    .await;
    play(
        app,
        product,
        "u_funnel_3",
        "login_error",
        "imss_mx_employment",
    )
    .await;
    let session = app.open("u_funnel_4", product, "ios").await;
    app.belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let id = session["session_id"].as_str().unwrap();
    let query = "meta_data_institution_name=imss_mx_employment&meta_data_step=abandon-survey";
    replayed(app, &app.url(&format!("/callbacks/{id}/exit?{query}"))).await;
    let session = app.open("u_funnel_5", product, "ios").await;
    let id = session["session_id"].as_str().unwrap();
    replayed(
        app,
        &app.url(&format!(
            "/callbacks/{id}/exit?meta_data_step=abandon-survey"
        )),
    )
    .await;
    links_counted(app, product).await;
}

/// Waits until the funnel counts both connected links as verified and ready: each success's
/// link is checked against (emulated) Belvo in the background, and the emulator sends the
/// `historical_update` webhook of each fetch resource after a delay.
async fn links_counted(app: &TestApp, product: &str) {
    let staff = app.signed_in(SUPPORT).await;
    let path = format!("/support/funnel?product={product}&platform=ios&format=csv");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, csv) = app.page(&staff, &path).await;
        let count = |step: &str| {
            csv.lines()
                .find_map(|line| line.strip_prefix(&format!("step,{step},")))
                .and_then(|rest| rest.split(',').next().map(str::to_owned))
        };
        let steps = ["link_verified", "resources_ready"];
        if steps.iter().all(|step| count(step).as_deref() == Some("2")) {
            return;
        }
        assert!(Instant::now() < deadline, "links never counted: {csv}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
