//! The support console as staff use it: an app with staff accounts, and signed-in browsers-like
//! clients (cookie store, no redirects followed).

use std::sync::OnceLock;
use std::time::Duration;

use belvo_bff::config::staff::StaffAccount;
use belvo_bff::config::Settings;
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
