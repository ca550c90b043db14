//! Console sessions: a random cookie whose hash keys the stored session. The cookie is HttpOnly,
//! SameSite=Strict, expires with the session, and outside embedded mode is Secure with the
//! `__Host-` prefix (https only, this host only, whole site).

use actix_web::cookie::{time, Cookie, SameSite};
use base64::Engine;
use rand::RngCore;

use crate::config::{BelvoEnvironment, Settings};
use crate::domain::session::now_millis;
use crate::domain::staff::{SessionTokenHash, SignInMethod, StaffName, StaffRole, StaffSession};
use crate::state::AppState;
use crate::store::StoreError;

/// The sign-in form's anti-forgery cookie (no session exists yet to hold the token).
pub const LOGIN_COOKIE: &str = "bff_login";

/// Cookies are Secure everywhere but on the embedded development server (plain http).
pub fn secure_cookies(settings: &Settings) -> bool {
    settings.belvo.environment != BelvoEnvironment::Embedded
}

pub fn session_cookie(settings: &Settings) -> &'static str {
    if secure_cookies(settings) {
        "__Host-bff_staff"
    } else {
        "bff_staff"
    }
}

/// 256 random bits, URL-safe: session cookies and anti-forgery tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn cookie(
    settings: &Settings,
    name: &'static str,
    value: String,
    path: &'static str,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(settings))
        .finish()
}

/// Starts a console session and returns its cookie (a fresh id at every sign-in).
pub async fn start(
    state: &AppState,
    name: StaffName,
    role: StaffRole,
    method: SignInMethod,
) -> Result<Cookie<'static>, StoreError> {
    let ttl = state.settings.staff.session_ttl;
    let token = random_token();
    let now = now_millis();
    let session = StaffSession {
        name,
        role,
        method,
        csrf: random_token(),
        created_at: now,
        expires_at: now + ttl.as_millis() as i64,
    };
    state
        .store
        .put_staff_session(&SessionTokenHash::of(&token), &session, ttl)
        .await?;
    let mut cookie = cookie(&state.settings, session_cookie(&state.settings), token, "/");
    cookie.set_max_age(time::Duration::seconds(ttl.as_secs() as i64));
    Ok(cookie)
}

/// A cookie that removes the session cookie from the browser.
pub fn ended(settings: &Settings) -> Cookie<'static> {
    let mut cookie = cookie(settings, session_cookie(settings), String::new(), "/");
    cookie.make_removal();
    cookie
}

/// The sign-in form's anti-forgery cookie, valid for an hour on the sign-in path only.
pub fn login_cookie(settings: &Settings, token: String) -> Cookie<'static> {
    let mut cookie = cookie(settings, LOGIN_COOKIE, token, "/support/login");
    cookie.set_max_age(time::Duration::hours(1));
    cookie
}

/// Removes the sign-in form's cookie once signed in.
pub fn login_cookie_ended(settings: &Settings) -> Cookie<'static> {
    let mut cookie = cookie(settings, LOGIN_COOKIE, String::new(), "/support/login");
    cookie.make_removal();
    cookie
}
