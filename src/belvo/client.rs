//! The HTTP client for Belvo's API (reqwest, Basic auth, timeouts, typed errors).

use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use super::types::{
    BelvoApiError, BelvoLink, ConsentManagementRequest, CreateLink, TokenRequest, TokenResponse,
};
use crate::domain::ids::LinkId;

#[derive(Clone)]
pub struct BelvoClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    secret_id: SecretString,
    secret_password: SecretString,
}

/// A widget access token and when it expires (read from its own `exp`).
#[derive(Debug, Clone)]
pub struct WidgetToken {
    pub access: String,
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BelvoError {
    #[error("Belvo did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Belvo could not be reached: {0}")]
    Unreachable(String),
    #[error("Belvo refused our credentials (check BELVO_SECRET_ID / BELVO_SECRET_PASSWORD)")]
    Unauthorized,
    #[error("Belvo rejected the request ({status}): {code}: {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Belvo answered something we cannot read: {0}")]
    BadResponse(String),
}

/// How the client talks to Belvo: the longest wait per call, and the keep-alive pool
/// (`belvo.max_idle_connections`, `belvo.idle_timeout`).
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub timeout: Duration,
    pub max_idle: usize,
    pub idle_timeout: Duration,
}

impl Pool {
    pub fn from_settings(belvo: &crate::config::BelvoSettings) -> Self {
        Self {
            timeout: belvo.timeout,
            max_idle: belvo.max_idle_connections,
            idle_timeout: belvo.idle_timeout,
        }
    }
}

impl BelvoClient {
    pub fn new(
        base_url: &str,
        pool: Pool,
        secret_id: SecretString,
        secret_password: SecretString,
    ) -> Self {
        let timeout = pool.timeout;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("belvo-bff/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(pool.max_idle)
            .pool_idle_timeout(pool.idle_timeout)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(60))
            .build()
            .expect("reqwest client builds with static settings");
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout,
            secret_id,
            secret_password,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `POST /api/token/`: a widget access token for one session.
    #[tracing::instrument(skip_all, fields(fetch_resources = ?request.fetch_resources))]
    pub async fn widget_token(&self, request: &TokenRequest) -> Result<WidgetToken, BelvoError> {
        timed("token", self.request_token(request)).await
    }

    async fn request_token(&self, request: &TokenRequest) -> Result<WidgetToken, BelvoError> {
        let mut body = request.clone();
        body.id = self.secret_id.expose_secret().to_owned();
        body.password = self.secret_password.expose_secret().to_owned();
        self.post_token(&body).await
    }

    /// `POST /api/token/` for My Belvo Portal (`consent_management`): a token for the portal
    /// view of this app's consents, or for renewing one. The CPF/CNPJ goes to Belvo only.
    #[tracing::instrument(skip_all)]
    pub async fn consent_management_token(
        &self,
        request: &ConsentManagementRequest,
    ) -> Result<WidgetToken, BelvoError> {
        let mut body = request.clone();
        body.id = self.secret_id.expose_secret().to_owned();
        body.password = self.secret_password.expose_secret().to_owned();
        timed("token_consent_management", self.post_token(&body)).await
    }

    /// Posts a token request body (credentials already in it) and reads the access token.
    async fn post_token<T: serde::Serialize>(&self, body: &T) -> Result<WidgetToken, BelvoError> {
        let url = format!("{}/api/token/", self.base_url);
        let started = std::time::Instant::now();
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, status = %response.status(), "belvo token call");
        let tokens: TokenResponse = Self::read(response).await?;
        let expires_at = jwt_exp(&tokens.access)
            .ok_or_else(|| BelvoError::BadResponse("access token has no readable exp".into()))?;
        Ok(WidgetToken {
            access: tokens.access,
            expires_at,
        })
    }

    /// `GET /api/links/{id}/`: Belvo's own record of a link.
    #[tracing::instrument(skip(self, id), fields(link = %id))]
    pub async fn link(&self, id: &LinkId) -> Result<BelvoLink, BelvoError> {
        timed("links", self.get(&format!("/api/links/{id}/"), &[])).await
    }

    /// `DELETE /api/links/{id}/`: deletes the link at Belvo (its credentials and data). `false`
    /// when Belvo no longer knows it (404), which for a deletion is as good.
    #[tracing::instrument(skip(self, id), fields(link = %id))]
    pub async fn delete_link(&self, id: &LinkId) -> Result<bool, BelvoError> {
        let call = async {
            let url = format!("{}/api/links/{id}/", self.base_url);
            let response = self.send(self.http.delete(url)).await?;
            match response.status() {
                s if s.is_success() => Ok(true),
                reqwest::StatusCode::NOT_FOUND => Ok(false),
                _ => Self::read::<serde_json::Value>(response)
                    .await
                    .map(|_| false),
            }
        };
        timed("links_delete", call).await
    }

    /// `POST /api/links/`: creates a link with the user's credentials (the API flow).
    #[tracing::instrument(skip_all, fields(institution = %request.institution))]
    pub async fn create_link(&self, request: &CreateLink) -> Result<BelvoLink, BelvoError> {
        let call = async {
            let url = format!("{}/api/links/", self.base_url);
            let response = self.send(self.http.post(url).json(request)).await?;
            Self::read(response).await
        };
        timed("links_create", call).await
    }

    /// One page of Belvo's institutions (`GET /api/institutions/`), as Belvo sends it.
    pub async fn institutions(&self, page: u32) -> Result<serde_json::Value, BelvoError> {
        let query = [("page", page.to_string()), ("page_size", "100".to_owned())];
        timed("institutions", self.get("/api/institutions/", &query)).await
    }

    /// A page of a link's data from one of Belvo's list endpoints (`/api/owners/`, ...), with
    /// Belvo's own filters when the endpoint takes some (e.g. `value_date__gte`).
    pub async fn list(
        &self,
        endpoint: &'static str,
        path: &str,
        link: &LinkId,
        page: u32,
        page_size: u32,
        filters: &[(&str, String)],
    ) -> Result<serde_json::Value, BelvoError> {
        let mut query = vec![
            ("link", link.to_string()),
            ("page", page.to_string()),
            ("page_size", page_size.to_string()),
        ];
        query.extend(filters.iter().cloned());
        timed(endpoint, self.get(path, &query)).await
    }

    /// `GET {path}` with Basic auth and query pairs; Belvo's JSON as it is.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, BelvoError> {
        let url = format!("{}{path}", self.base_url);
        let response = self.send(self.http.get(url).query(query)).await?;
        Self::read(response).await
    }

    async fn read<T: serde::de::DeserializeOwned>(
        response: reqwest::Response,
    ) -> Result<T, BelvoError> {
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| BelvoError::Unreachable(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| BelvoError::BadResponse(e.to_string()));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(BelvoError::Unauthorized);
        }
        let first = serde_json::from_slice::<Vec<BelvoApiError>>(&bytes)
            .ok()
            .and_then(|errors| errors.into_iter().next());
        Err(BelvoError::Rejected {
            status: status.as_u16(),
            code: first.as_ref().map(|e| e.code.clone()).unwrap_or_default(),
            message: first.map(|e| e.message).unwrap_or_default(),
        })
    }

    /// Sends `request` with this server's Belvo credentials (Basic auth).
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, BelvoError> {
        request
            .basic_auth(
                self.secret_id.expose_secret(),
                Some(self.secret_password.expose_secret()),
            )
            .send()
            .await
            .map_err(|e| self.transport_error(e))
    }

    fn transport_error(&self, e: reqwest::Error) -> BelvoError {
        if e.is_timeout() {
            BelvoError::Timeout(self.timeout)
        } else {
            BelvoError::Unreachable(e.without_url().to_string())
        }
    }
}

/// Reads `exp` from a JWT's payload without checking its signature: the token is Belvo's, for
/// Belvo's widget; we only need to know when it stops working.
pub fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()
}

/// Times one Belvo API call (`endpoint` names it, e.g. `token`) and counts its failures.
async fn timed<T>(
    endpoint: &'static str,
    call: impl std::future::Future<Output = Result<T, BelvoError>>,
) -> Result<T, BelvoError> {
    let started = std::time::Instant::now();
    let result = call.await;
    let outcome = match &result {
        Ok(_) => Ok(()),
        Err(BelvoError::Timeout(_)) => Err("timeout"),
        Err(BelvoError::Unreachable(_)) => Err("unreachable"),
        Err(BelvoError::Unauthorized) => Err("unauthorized"),
        Err(BelvoError::Rejected { .. }) => Err("rejected"),
        Err(BelvoError::BadResponse(_)) => Err("bad_response"),
    };
    crate::metrics::belvo_call(endpoint, outcome, started.elapsed());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_from_the_guides_access_token() {
        let access = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzEyNTcxODkyLCJpYXQiOjE3MTI1NzA2OTIsImp0aSI6ImFiNjRmYjkyZmY1ZjQ0MTU4N2IwM2Y2MDJhMzhhMjNhIiwidXNlcl9pZCI6IjZlOWJlODg0LTQ3ODEtNDE0My1iNjczLWFjYTAyNDc1ZWU4YyIsIm9yZ2FuaXphdGlvbl9uYW1lIjoiRG9taW5payBDaG9sZXdza2kncyB0ZWFtIiwib3JnYW5pemF0aW9uX2lkIjoiNmU5YmU4ODQtNDc4MS00MTQzLWI2NzMtYWNhMDI0NzVlZThjIiwic2NvcGVzIjpbInJlYWRfaW5zdGl0dXRpb25zIiwid3JpdGVfbGlua3MiXSwiZW52aXJvbm1lbnQiOiJzYW5kYm94IiwiYXBpX3VybCI6InNhbmRib3guYmVsdm8uY29tIiwiY3JlZGVudGlhbHNfc3RvcmFnZSI6IjMwZCIsInN0YWxlX2luIjoiMzY1ZCIsImZldGNoX3Jlc291cmNlcyI6WyJBQ0NPVU5UUyIsIlRSQU5TQUNUSU9OUyIsIk9XTkVSUyJdLCJpc3MiOiJzYW5kYm94LmJlbHZvLmNvbSJ9.2Irt1KCEKo6V17Y-N3zWeX3AchEvCrUWa_AlWoZ2gIIBhHvghHGkXtupOOrXKVqW9kTCOBE77-1riyyblUo4fw";
        assert_eq!(jwt_exp(access), Some(1712571892));
        assert_eq!(jwt_exp("not.a-jwt"), None);
        assert_eq!(jwt_exp(""), None);
    }
}
