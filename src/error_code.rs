//! The error registry: every code the API can answer, declared once with its HTTP status and
//! default message. [`crate::error::ApiError`] holds an [`ErrorCode`], so no handler can answer a
//! code that is not here; `docs/api.md` and the OpenAPI document are checked against this list
//! by the tests (`tests/api/error_registry.rs`).
//!
//! To add a code: one line in the table below, a line in `docs/api.md`'s error table, and the
//! status in the `#[utoipa::path]` responses of the routes that answer it.

use actix_web::http::StatusCode;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:ident, $message:literal;)*) => {
        /// A stable snake_case code clients can branch on, with its status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// Belvo refused an API-flow link and the explanation table (`domain::explanation`)
            /// names the case: its own code (e.g. `imss_nss_not_found`), answered as 422.
            Explained(&'static str),
        }

        impl ErrorCode {
            /// Every code of the table (the explained ones come from [`ErrorCode::all`]).
            pub const DECLARED: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Explained(code) => code,
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                    Self::Explained(_) => StatusCode::UNPROCESSABLE_ENTITY,
                }
            }

            /// The sentence answered when the case has nothing more precise to say.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(Self::$variant => $message,)*
                    Self::Explained(_) => "Belvo refused the request; see the explanation",
                }
            }
        }
    };
}

error_codes! {
    /// The JSON body does not parse or does not fit the request's schema.
    InvalidJson = "invalid_json", BAD_REQUEST, "the JSON body is not valid";
    /// The query string does not fit the route's parameters.
    InvalidQuery = "invalid_query", BAD_REQUEST, "the query string is not valid";
    /// A field parses but its value is refused (platform, locale, wait, If-Match...).
    InvalidRequest = "invalid_request", BAD_REQUEST, "the request is not valid";
    /// The product is not configured on this server.
    UnknownProduct = "unknown_product", BAD_REQUEST, "product is not configured";
    /// The app asked for an institution the product does not offer.
    InstitutionNotAllowed = "institution_not_allowed", BAD_REQUEST, "this institution is not offered for this product";
    /// An event posted by the app is malformed.
    InvalidEvent = "invalid_event", BAD_REQUEST, "the event is not valid";
    /// A callback's query string is malformed (recorded nowhere).
    InvalidCallback = "invalid_callback", BAD_REQUEST, "the callback's query string is not valid";
    /// A Belvo webhook's payload is malformed.
    InvalidWebhook = "invalid_webhook", BAD_REQUEST, "the webhook payload is not valid";
    /// The API flow's username is not a valid CURP, CPF or cédula.
    InvalidUsername = "invalid_username", BAD_REQUEST, "username is not valid for this product";
    /// The product cannot make links through the API (open finance, or no institution).
    ApiFlowUnavailable = "api_flow_unavailable", BAD_REQUEST, "this product makes links in the widget only";
    /// A branding field is refused; the message names each field's problem.
    InvalidBranding = "invalid_branding", BAD_REQUEST, "the branding is not valid";
    /// A branding edit that changes nothing.
    Unchanged = "unchanged", BAD_REQUEST, "nothing changed";
    /// The demo page could not open a session.
    DemoFailed = "demo_failed", BAD_REQUEST, "could not open a session";
    /// No token, or a token that is expired, wrongly signed or of the wrong kind.
    Unauthorized = "unauthorized", UNAUTHORIZED, "a valid bearer token is required";
    /// Signed in, but not allowed (role, CSRF, source address).
    Forbidden = "forbidden", FORBIDDEN, "this is not allowed";
    /// Unknown route, or a resource that does not exist or is someone else's.
    NotFound = "not_found", NOT_FOUND, "not found";
    /// Belvo refused a data call because the link's credentials need the user (`invalid_link`,
    /// `token_required`): reconnect the link. The link's health is `needs_reconnect`.
    LinkNeedsReconnect = "link_needs_reconnect", CONFLICT, "the link needs the user to reconnect it";
    /// Belvo no longer knows the link (health `gone`): it is kept read-only, its data is gone.
    LinkGone = "link_gone", GONE, "Belvo no longer has this link; connect the account again";
    /// The widget session exists but has expired.
    SessionExpired = "session_expired", GONE, "this widget session has expired; open a new one";
    /// `/w/` of a Brazil open-finance session whose first token expired: its CPF/CNPJ was never
    /// kept, so the app opens a new session.
    ConsentDetailsRequired = "consent_details_required", GONE, "this link expired; open a new session from the app to give your consent again";
    /// `/w/` of a session that has finished: the page says how it ended.
    SessionFinished = "session_finished", GONE, "this widget session has finished";
    /// `POST /v1/links/{id}/reconnect` of a Brazil open-finance link: its consent is renewed
    /// instead (SPEC §12).
    ReconnectNotSupported = "reconnect_not_supported", CONFLICT, "this link is not reconnected in the widget; renew its consent instead";
    /// Consent renewal of a link that is not a Brazil open-finance one (it has no consent), or
    /// the consent portal on a server without an open-finance product.
    NotOpenFinance = "not_open_finance", CONFLICT, "only Brazil open-finance links have a consent";
    /// Consent renewal of a consent that has not expired: the user manages it in the consent
    /// portal (`POST /v1/consent-portal`).
    ConsentNotExpired = "consent_not_expired", CONFLICT, "this consent has not expired; manage it in the consent portal (POST /v1/consent-portal)";
    /// `POST /v1/links/{id}/reconnect` of a link Belvo no longer knows: connect it again.
    LinkUnknownToBelvo = "link_unknown_to_belvo", CONFLICT, "Belvo no longer knows this link; connect the account again with a new session";
    /// `If-Match` names a version that is no longer the current one.
    VersionConflict = "version_conflict", PRECONDITION_FAILED, "the resource changed since that version";
    /// The body is larger than the route accepts.
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "the request body is too large";
    /// A JSON route was sent something else than `Content-Type: application/json`.
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "send JSON with Content-Type: application/json";
    /// The same username was tried too often; `retry_after` says when to try again.
    TooManyAttempts = "too_many_attempts", TOO_MANY_REQUESTS, "this ID was tried too often; retry later";
    /// One user tried more different IDs today than `limits.usernames_per_day` (`retry_after`).
    TooManyUsernames = "too_many_usernames", TOO_MANY_REQUESTS, "this user tried too many different IDs today; retry later";
    /// One user caused more Belvo token requests than `limits.token_requests_*` (`retry_after`).
    TooManyRequests = "too_many_requests", TOO_MANY_REQUESTS, "too many widget sessions for this user; retry later";
    /// A link was checked with Belvo less than a minute ago (`retry_after`).
    TooManyChecks = "too_many_checks", TOO_MANY_REQUESTS, "this link was checked less than a minute ago; retry later";
    /// Belvo's own daily limit for this username was hit (`retry_after`: a day).
    ForbiddenByHost = "forbidden_by_host", TOO_MANY_REQUESTS, "the institution refuses more attempts today";
    /// The request's headers are too large.
    HeadersTooLarge = "headers_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers are too large";
    /// A fault on our side; details are in the log under the request id.
    Internal = "internal", INTERNAL_SERVER_ERROR, "something went wrong on our side; the request id helps us find it";
    /// A stored record (or a script's reply) does not decode: retrying will not help.
    CorruptRecord = "corrupt_record", INTERNAL_SERVER_ERROR, "a stored record could not be read; retrying will not help, the request id helps us find it";
    /// Belvo answered with an error this server does not explain.
    BelvoRejected = "belvo_rejected", BAD_GATEWAY, "Belvo rejected the request";
    /// Belvo could not be reached or answered nonsense.
    BelvoUnavailable = "belvo_unavailable", BAD_GATEWAY, "Belvo could not be reached; retry shortly";
    /// Belvo refused this server's credentials.
    BelvoMisconfigured = "belvo_misconfigured", BAD_GATEWAY, "the server's Belvo credentials were refused";
    /// Redis is briefly unavailable (`Retry-After`).
    StoreUnavailable = "store_unavailable", SERVICE_UNAVAILABLE, "storage is briefly unavailable; retry shortly";
    /// Belvo did not answer in time.
    BelvoTimeout = "belvo_timeout", GATEWAY_TIMEOUT, "Belvo did not answer in time; retry shortly";
}

impl ErrorCode {
    /// Every code the API can answer: the table, then each explained refusal's code.
    pub fn all() -> Vec<ErrorCode> {
        let explained = crate::domain::explanation::codes()
            .filter(|code| !Self::DECLARED.iter().any(|d| d.as_str() == *code))
            .map(Self::Explained);
        Self::DECLARED.iter().copied().chain(explained).collect()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_errors() {
        let all = ErrorCode::all();
        let mut names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a code is declared twice");
        for code in all {
            assert!(code.status().as_u16() >= 400, "{code}");
            assert!(!code.default_message().is_empty(), "{code}");
        }
    }

    #[test]
    fn the_table_is_snake_case() {
        for code in ErrorCode::DECLARED {
            let name = code.as_str();
            let snake = name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            assert!(snake, "{name}");
        }
    }
}
