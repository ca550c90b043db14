//! `AppUser`: the mobile app's signed-in user, from `Authorization: Bearer <app JWT>`.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::jwt::TokenError;
use crate::domain::external_id::ExternalId;
use crate::error::ApiError;
use crate::state::AppState;

/// A verified app user. Only the pseudonymous external id leaves this type.
#[derive(Debug, Clone)]
pub struct AppUser {
    pub external_id: ExternalId,
}

impl FromRequest for AppUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AppUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("app state missing"))?;
    let result = bearer(req).and_then(|token| state.app_jwt.verify(token));
    match result {
        Ok(claims) => Ok(AppUser {
            external_id: ExternalId::derive(&state.settings.secrets.external_id_key, &claims.sub),
        }),
        Err(reason) => {
            tracing::info!(%reason, "app token refused");
            Err(ApiError::unauthorized(
                "a valid app token is required (Authorization: Bearer <JWT>)",
            ))
        }
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(req: &HttpRequest) -> Result<&str, TokenError> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::Missing)
}
