//! HTTP Basic `secret_id:secret_password` on the API, and Belvo's error body.

use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use secrecy::ExposeSecret;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::Emulator;

/// Belvo's error body: a list of `{request_id, code, message, field?}`.
pub fn belvo_error(status: u16, code: &str, message: &str, field: Option<&str>) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).expect("valid status");
    let mut error = json!({
        "request_id": uuid::Uuid::new_v4().simple().to_string(),
        "code": code,
        "message": message,
    });
    if let Some(field) = field {
        error["field"] = field.into();
    }
    HttpResponse::build(status).json(vec![error])
}

/// Whether `id`/`password` are the configured credentials (constant time).
pub fn credentials_ok(emulator: &Emulator, id: &str, password: &str) -> bool {
    let id_ok: bool = id
        .as_bytes()
        .ct_eq(emulator.secret_id.expose_secret().as_bytes())
        .into();
    let pw_ok: bool = password
        .as_bytes()
        .ct_eq(emulator.secret_password.expose_secret().as_bytes())
        .into();
    id_ok & pw_ok
}

/// Belvo's 401 when the request lacks HTTP Basic auth with the configured credentials.
pub fn denied(emulator: &Emulator, req: &HttpRequest) -> Option<HttpResponse> {
    let decoded = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|d| String::from_utf8(d).ok());
    let ok = decoded
        .as_deref()
        .and_then(|d| d.split_once(':'))
        .is_some_and(|(id, pw)| credentials_ok(emulator, id, pw));
    (!ok).then(|| belvo_error(401, "authentication_failed", "Invalid credentials", None))
}
