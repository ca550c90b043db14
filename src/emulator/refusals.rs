//! Every API refusal under the emulator in Belvo's shape (a list of `{request_id, code, message,
//! field?}`): bodies missing a field (`required`, with the field), bodies that do not parse,
//! malformed query strings, unknown routes (404) and wrong methods (405). Belvo's own clients
//! (belvo-python, belvo-js) read these lists; the HTML widget keeps its pages.

use actix_web::http::{header, StatusCode};
use actix_web::{error, web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::api_auth::belvo_error;
use crate::pages::error_page;

/// A refusal already in Belvo's shape, boxed so `Result`s that carry it stay small.
pub type Refused = Box<HttpResponse>;

/// Parses a JSON body as Belvo does: every `required` field (dotted for nested ones, e.g.
/// `widget.callback_urls`) present and not null, else `required` naming the first one missing;
/// anything else that does not fit `T` is `invalid`.
pub fn parse_body<T: DeserializeOwned>(body: &[u8], required: &[&str]) -> Result<T, Refused> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(belvo_error(
            400,
            "invalid",
            &format!("JSON parse error - {e}"),
            None,
        ))
    })?;
    if !value.is_object() {
        return Err(Box::new(belvo_error(
            400,
            "invalid",
            "Invalid data. Expected a dictionary.",
            None,
        )));
    }
    if let Some(missing) = required.iter().find(|path| lookup(&value, path).is_none()) {
        return Err(Box::new(belvo_error(
            400,
            "required",
            "This field is required.",
            Some(missing),
        )));
    }
    serde_json::from_value(value).map_err(|e| {
        Box::new(belvo_error(
            400,
            "invalid",
            &format!("Invalid request body: {e}"),
            None,
        ))
    })
}

/// The value at a dotted path, if present and not null.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// `404` for a path the emulator does not serve: Belvo's list under the API, a page under the
/// widget.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if is_widget(&req) {
        return error_page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "The emulated widget has no such page.",
        );
    }
    belvo_error(404, "not_found", "Not found.", None)
}

/// `405` for a known path asked with a method it does not take, with `Allow`.
pub fn method_not_allowed(
    allowed: &'static str,
) -> impl Fn(HttpRequest) -> std::future::Ready<HttpResponse> + Clone {
    move |req: HttpRequest| std::future::ready(refuse_method(&req, allowed))
}

fn refuse_method(req: &HttpRequest, allowed: &'static str) -> HttpResponse {
    let mut response = if is_widget(req) {
        error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "The emulated widget does not take this method here.",
        )
    } else {
        belvo_error(
            405,
            "method_not_allowed",
            &format!("Method \"{}\" not allowed.", req.method()),
            None,
        )
    };
    if let Ok(value) = header::HeaderValue::from_str(allowed) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

fn is_widget(req: &HttpRequest) -> bool {
    let path = req.path();
    path.starts_with("/widget/")
        || path.starts_with("/emulator/widget/")
        || path == "/widget"
        || path == "/emulator/widget"
}

/// Query strings that do not fit a handler's parameters (e.g. `page=abc`): Belvo's `invalid`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let response = belvo_error(400, "invalid", &format!("Invalid query: {err}"), None);
        error::InternalError::from_response(err, response).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_nested_field_is_named_by_its_path() {
        let body = json!({"widget": {"callback_urls": null}}).to_string();
        let refused = parse_body::<Value>(body.as_bytes(), &["widget", "widget.callback_urls"]);
        let response = refused.unwrap_err();
        assert_eq!(response.status(), 400);
        assert!(lookup(&json!({"a": {"b": 1}}), "a.b").is_some());
        assert!(lookup(&json!({"a": {"b": null}}), "a.b").is_none());
        assert!(lookup(&json!({"a": 1}), "a.b").is_none());
    }
}
