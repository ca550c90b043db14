//! `/support/login` and `/support/logout`. Sign-in by account (argon2id) or by staff token;
//! failures are counted per account and per client address and lock both out for a while.

use std::net::IpAddr;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::staff_session::{self, LOGIN_COOKIE};
use crate::auth::{audit, password, Staff};
use crate::domain::staff::{SignInMethod, StaffName, StaffRole};
use crate::routes::console::{self, Nav};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "support/login.html")]
struct LoginPage<'a> {
    nav: Option<Nav>,
    csrf: &'a str,
    next: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    /// Whether any account is configured (else only token sign-in is offered first).
    has_accounts: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a path on this site: never an absolute or protocol-relative URL (no open redirect).
fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    if local {
        next
    } else {
        "/support"
    }
}

pub async fn form(
    state: web::Data<AppState>,
    staff: Option<Staff>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let next = safe_next(&query.next);
    if staff.is_some() {
        return see_other(next);
    }
    let csrf = staff_session::random_token();
    let mut response = render(&state, StatusCode::OK, &csrf, next, "", None);
    let _ = response.add_cookie(&staff_session::login_cookie(&state.settings, csrf));
    response
}

fn render(
    state: &AppState,
    status: StatusCode,
    csrf: &str,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    console::page(
        status,
        &LoginPage {
            nav: None,
            csrf,
            next,
            username,
            error,
            has_accounts: !state.settings.staff.accounts.is_empty(),
        },
    )
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// Who is trying to sign in, for the lockout counters.
struct Attempt {
    account: String,
    ip: String,
}

impl Attempt {
    fn new(username: &str, ip: Option<IpAddr>) -> Self {
        // Hashed: counter keys in the store do not list account names.
        let digest = Sha256::digest(username.as_bytes());
        Self {
            account: format!(
                "staff-login:acct:{}",
                data_encoding::HEXLOWER.encode(&digest[..10])
            ),
            ip: format!(
                "staff-login:ip:{}",
                ip.map_or("unknown".into(), |ip| ip.to_string())
            ),
        }
    }
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let next = safe_next(&form.next).to_owned();
    let cookie_csrf = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned());
    let csrf_ok = cookie_csrf.as_deref().is_some_and(|expected| {
        !form.csrf.is_empty() && bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes()))
    });
    if !csrf_ok {
        return console::console_error(
            StatusCode::FORBIDDEN,
            "Form refused",
            "The sign-in form has expired or was not sent from this site. Reload it and try again.",
        );
    }
    let csrf = cookie_csrf.unwrap_or_default();
    let ip = crate::routes::client_ip(&req, &state.settings.webhooks.trusted_proxies);
    let username = form.username.trim();
    let attempt = Attempt::new(username, ip);
    let limits = &state.settings.staff;
    let by_token = !form.token.trim().is_empty();

    let (account_tries, account_left) = if by_token {
        (0, Default::default())
    } else {
        match state.store.attempts(&attempt.account).await {
            Ok(a) => a,
            Err(e) => return unavailable(e),
        }
    };
    let (ip_tries, ip_left) = match state.store.attempts(&attempt.ip).await {
        Ok(a) => a,
        Err(e) => return unavailable(e),
    };
    if account_tries >= limits.max_failures_per_account || ip_tries >= limits.max_failures_per_ip {
        let wait = account_left.max(ip_left).as_secs().div_ceil(60).max(1);
        audit::record_anonymous(
            &state,
            actor(username, by_token),
            ip,
            "sign_in",
            "locked_out",
        )
        .await;
        let message = format!("Too many failed sign-ins. Try again in {wait} minutes.");
        let mut response = render(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &csrf,
            &next,
            username,
            Some(&message),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(account_left.max(ip_left).as_secs().max(1)),
        );
        return response;
    }

    let identity = if by_token {
        token_identity(&state, form.token.trim())
    } else {
        password_identity(&state, username, form.password).await
    };
    let Some((name, role, method)) = identity else {
        let window = limits.lockout_window;
        let counted = async {
            if !by_token {
                state.store.count_attempt(&attempt.account, window).await?;
            }
            state.store.count_attempt(&attempt.ip, window).await
        };
        if let Err(e) = counted.await {
            return unavailable(e);
        }
        audit::record_anonymous(&state, actor(username, by_token), ip, "sign_in", "failed").await;
        let message = if by_token {
            "That staff token is not valid (expired, wrongly signed or without a staff role)."
        } else {
            "Wrong name or password."
        };
        return render(
            &state,
            StatusCode::UNAUTHORIZED,
            &csrf,
            &next,
            username,
            Some(message),
        );
    };

    let cookie = match staff_session::start(&state, name.clone(), role, method).await {
        Ok(cookie) => cookie,
        Err(e) => return unavailable(e),
    };
    let staff_actor = name.to_string();
    audit::record_anonymous(&state, &staff_actor, ip, "sign_in", method_label(method)).await;
    let mut response = see_other(&next);
    let _ = response.add_cookie(&cookie);
    let _ = response.add_cookie(&staff_session::login_cookie_ended(&state.settings));
    response
}

/// Who the audit log names for an attempt: the account name when it is a valid one.
fn actor(username: &str, by_token: bool) -> &str {
    if by_token {
        "(staff token)"
    } else if StaffName::parse(username).is_some() {
        username
    } else {
        "(invalid name)"
    }
}

fn method_label(method: SignInMethod) -> &'static str {
    match method {
        SignInMethod::Password => "ok_password",
        SignInMethod::Token => "ok_token",
    }
}

fn token_identity(state: &AppState, token: &str) -> Option<(StaffName, StaffRole, SignInMethod)> {
    match crate::auth::staff::verify_token(&state.settings, token) {
        Ok((name, role)) => Some((name, role, SignInMethod::Token)),
        Err(reason) => {
            tracing::info!(%reason, "staff token refused at sign-in");
            None
        }
    }
}

async fn password_identity(
    state: &AppState,
    username: &str,
    password: String,
) -> Option<(StaffName, StaffRole, SignInMethod)> {
    let account = state.settings.staff.account(username).cloned();
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let matched = web::block(move || password::verify(&password, hash.as_deref()))
        .await
        .unwrap_or(false);
    let account = account.filter(|_| matched)?;
    Some((
        StaffName::parse(username)?,
        account.role,
        SignInMethod::Password,
    ))
}

fn unavailable(e: crate::store::StoreError) -> HttpResponse {
    tracing::warn!(error = %e, "store unavailable during sign-in");
    console::console_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again in a moment",
        "Storage is briefly unavailable.",
    )
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, crate::auth::StaffError> {
    staff.check_csrf(&form.csrf)?;
    if let Some(session) = staff.session() {
        if let Err(e) = state.store.delete_staff_session(session).await {
            return Ok(unavailable(e));
        }
    }
    audit::record(&state, Some(&staff), "sign_out", "console", "ok").await;
    let mut response = see_other("/support/login");
    let _ = response.add_cookie(&staff_session::ended(&state.settings));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next("/support/sessions/x?lang=es"),
            "/support/sessions/x?lang=es"
        );
        assert_eq!(safe_next("https://evil.example"), "/support");
        assert_eq!(safe_next("//evil.example"), "/support");
        assert_eq!(safe_next("/\\evil.example"), "/support");
        assert_eq!(safe_next(""), "/support");
    }
}
