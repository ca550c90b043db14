//! `Staff` and `Admin`: who is using the console, from the session cookie or from
//! `Authorization: Bearer <staff JWT>` (a token with a `role` claim, as `belvo-bff token --role`
//! mints). Pages that take `Admin` refuse `support` staff with a 403.

use crate::store::StoreError;
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::app_user::bearer;
use super::staff_session::session_cookie;
use crate::config::Settings;
use crate::domain::session::now_millis;
use crate::domain::staff::{SessionTokenHash, SignInMethod, StaffName, StaffRole};
use crate::error::{ApiError, ErrorCode};
use crate::jwt::{Claims, Role, TokenError};
use crate::state::AppState;

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    pub name: StaffName,
    pub role: StaffRole,
    pub method: SignInMethod,
    /// Where the request came from (the peer, or past trusted proxies).
    pub ip: Option<IpAddr>,
    /// The console session behind the cookie; `None` with a bearer token.
    session: Option<(SessionTokenHash, String)>,
}

impl Staff {
    /// The token every form of this page must send back (empty with a bearer token: a request
    /// that carries its own `Authorization` header cannot be forged by another site).
    pub fn csrf_token(&self) -> &str {
        self.session.as_ref().map_or("", |(_, csrf)| csrf.as_str())
    }

    /// Refuses a form posted without this session's anti-forgery token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), StaffError> {
        match &self.session {
            None => Ok(()),
            Some((_, csrf)) if bool::from(csrf.as_bytes().ct_eq(sent.as_bytes())) => Ok(()),
            Some(_) => {
                tracing::warn!(target: "audit", actor = %self.name, "form without this session's anti-forgery token refused");
                Err(StaffError::Forgery { api: false })
            }
        }
    }

    /// As [`Self::check_csrf`] for a JSON API call: a console session (cookie) must send its
    /// anti-forgery token in `X-CSRF-Token`; refused as an API error, not a page.
    pub fn check_csrf_header(&self, req: &HttpRequest) -> Result<(), StaffError> {
        let sent = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        self.check_csrf(sent)
            .map_err(|_| StaffError::Forgery { api: true })
    }

    /// The console session to end on sign-out.
    pub fn session(&self) -> Option<&SessionTokenHash> {
        self.session.as_ref().map(|(id, _)| id)
    }

    /// Signed in with a cookie (so sign-out makes sense).
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }
}

/// A staff member with the `admin` role.
#[derive(Debug, Clone)]
pub struct Admin(pub Staff);

/// Why the console refused a request. Pages get a page (or the sign-in form); `/v1/` APIs get
/// the JSON error body.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("sign in to use the console")]
    SignInRequired { api: bool, next: String },
    #[error("this needs the admin role")]
    Forbidden { api: bool },
    #[error("the form was not sent from this console or has expired")]
    Forgery { api: bool },
    #[error("storage is briefly unavailable; retry shortly")]
    Unavailable { api: bool },
}

impl StaffError {
    fn api(&self) -> bool {
        match self {
            Self::SignInRequired { api, .. }
            | Self::Forbidden { api }
            | Self::Forgery { api }
            | Self::Unavailable { api } => *api,
        }
    }
}

impl ResponseError for StaffError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignInRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } | Self::Forgery { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if self.api() {
            let code = match self {
                Self::SignInRequired { .. } => ErrorCode::Unauthorized,
                Self::Forbidden { .. } | Self::Forgery { .. } => ErrorCode::Forbidden,
                Self::Unavailable { .. } => ErrorCode::StoreUnavailable,
            };
            return ApiError::new(code, self.to_string()).error_response();
        }
        match self {
            // A person without a session goes to the sign-in form, and back here afterwards.
            Self::SignInRequired { next, .. } => HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/support/login?next={}", urlencode(next)),
                ))
                .finish(),
            Self::Forbidden { .. } => crate::pages::console_error(
                status,
                "Admins only",
                "Your role is support: you can look up sessions, but only admins change branding.",
            ),
            Self::Forgery { .. } => crate::pages::console_error(
                status,
                "Form refused",
                "This form was not sent from a console page of your session, or the page is too \
                 old. Go back, reload the page and try again.",
            ),
            Self::Unavailable { .. } => crate::pages::console_error(
                status,
                "Try again in a moment",
                "Storage is briefly unavailable.",
            ),
        }
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl FromRequest for Staff {
    type Error = StaffError;
    type Future = LocalBoxFuture<'static, Result<Self, StaffError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

impl FromRequest for Admin {
    type Error = StaffError;
    type Future = LocalBoxFuture<'static, Result<Self, StaffError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let staff = authenticate(&req).await?;
            if staff.role.is_admin() {
                return Ok(Admin(staff));
            }
            if let Some(state) = req.app_data::<web::Data<AppState>>() {
                let target = format!("{} {}", req.method(), req.path());
                super::audit::record(state, Some(&staff), "admin_page", &target, "denied").await;
            }
            Err(StaffError::Forbidden { api: is_api(&req) })
        })
    }
}

fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/v1/")
}

async fn authenticate(req: &HttpRequest) -> Result<Staff, StaffError> {
    let api = is_api(req);
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("app state is registered");
    let ip = crate::client_addr::client_ip(req, &state.settings.server.trusted_proxies);
    let sign_in = || StaffError::SignInRequired {
        api,
        next: req
            .uri()
            .path_and_query()
            .map_or("/support".into(), |p| p.to_string()),
    };
    if req.headers().contains_key(header::AUTHORIZATION) {
        let token = bearer(req).map_err(|_| sign_in())?;
        return match verify_token(&state.settings, token) {
            Ok((name, role)) => Ok(Staff {
                name,
                role,
                method: SignInMethod::Token,
                ip,
                session: None,
            }),
            Err(reason) => {
                tracing::info!(%reason, "staff token refused");
                Err(sign_in())
            }
        };
    }
    let cookie = req
        .cookie(session_cookie(&state.settings))
        .ok_or_else(sign_in)?;
    let id = SessionTokenHash::of(cookie.value());
    let session = match state.store.staff_session(&id).await {
        Ok(Some(session)) if session.expires_at > now_millis() => session,
        Ok(_) => return Err(sign_in()),
        Err(e @ StoreError::Unavailable(_)) => {
            tracing::warn!(error = %e, "console session unreadable");
            return Err(StaffError::Unavailable { api });
        }
        // A session record that does not decode is no session: signing in again replaces it.
        Err(e) => {
            crate::error::log_corrupt_once(&e);
            return Err(sign_in());
        }
    };
    Ok(Staff {
        name: session.name,
        role: session.role,
        method: session.method,
        ip,
        session: Some((id, session.csrf)),
    })
}

/// Checks a staff JWT: HS256 with `BFF_STAFF_SESSION_SECRET`, unexpired, `role` support or admin.
pub fn verify_token(
    settings: &Settings,
    token: &str,
) -> Result<(StaffName, StaffRole), TokenError> {
    let key = DecodingKey::from_secret(
        settings
            .secrets
            .staff_session_secret
            .expose_secret()
            .as_bytes(),
    );
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = settings.app_jwt.leeway.as_secs();
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)?.claims;
    let role = match claims.role {
        Some(Role::Support) => StaffRole::Support,
        Some(Role::Admin) => StaffRole::Admin,
        Some(Role::App) | None => return Err(TokenError::NotStaff),
    };
    let name = StaffName::parse(&claims.sub).ok_or(TokenError::BadSubject)?;
    Ok((name, role))
}
