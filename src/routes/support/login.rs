//! `/support/login` and `/support/logout`. Sign-in by account (argon2id) or by staff token;
//! lockout and auditing of attempts live in [`crate::auth::sign_in`].

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::auth::sign_in::{sign_in, Credentials, SignInError};
use crate::auth::staff_session::{self, LOGIN_COOKIE};
use crate::auth::{audit, Staff};
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
    let ip = crate::client_addr::client_ip(&req, &state.settings.server.trusted_proxies);
    let username = form.username.trim().to_owned();
    let credentials = match form.token.trim() {
        "" => Credentials::Password {
            name: username.clone(),
            password: form.password,
        },
        token => Credentials::Token(token.to_owned()),
    };
    let by_token = matches!(credentials, Credentials::Token(_));
    let refused =
        |status, message: &str| render(&state, status, &csrf, &next, &username, Some(message));
    let identity =
        match sign_in(&state, credentials, ip).await {
            Ok(identity) => identity,
            Err(SignInError::LockedOut { retry_after }) => {
                let minutes = retry_after.as_secs().div_ceil(60).max(1);
                let message = format!("Too many failed sign-ins. Try again in {minutes} minutes.");
                let mut response = refused(StatusCode::TOO_MANY_REQUESTS, &message);
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(retry_after.as_secs().max(1)),
                );
                return response;
            }
            Err(SignInError::Busy) => {
                let mut response = refused(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many sign-ins at once. Try again in a moment.",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(1));
                return response;
            }
            Err(SignInError::Refused) if by_token => return refused(
                StatusCode::UNAUTHORIZED,
                "That staff token is not valid (expired, wrongly signed or without a staff role).",
            ),
            Err(SignInError::Refused) => {
                return refused(StatusCode::UNAUTHORIZED, "Wrong name or password.")
            }
            Err(SignInError::Store(e)) => return unavailable(e),
        };
    let cookie =
        match staff_session::start(&state, identity.name, identity.role, identity.method).await {
            Ok(cookie) => cookie,
            Err(e) => return unavailable(e),
        };
    let mut response = see_other(&next);
    let _ = response.add_cookie(&cookie);
    let _ = response.add_cookie(&staff_session::login_cookie_ended(&state.settings));
    response
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
