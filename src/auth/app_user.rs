//! `AppUser`: the mobile app's signed-in user, from `Authorization: Bearer <app JWT>`.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture};

use crate::domain::event::AppSub;
use crate::domain::external_id::ExternalId;
use crate::error::ApiError;
use crate::jwt::{Claims, TokenError};
use crate::state::AppState;

/// A verified app user. Only the pseudonymous external id leaves this type.
#[derive(Debug, Clone)]
pub struct AppUser {
    pub external_id: ExternalId,
    /// The token's `sub`, for the outbound events that carry it (never logged).
    pub sub: AppSub,
}

impl FromRequest for AppUser {
    type Error = ApiError;
    /// Ready at once (a check against keys in memory), except for a token whose kid the cached
    /// JWKS lacks: that one waits for a (rate-limited) refetch of the set.
    type Future =
        Either<Ready<Result<Self, ApiError>>, LocalBoxFuture<'static, Result<Self, ApiError>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return Either::Left(ready(Err(ApiError::internal("app state missing"))));
        };
        let token = match bearer(req) {
            Ok(token) => token,
            Err(reason) => return Either::Left(ready(Err(refused(reason)))),
        };
        if let Some((external_id, sub)) = state.app_users.get(token, &state.app_jwt) {
            return Either::Left(ready(Ok(AppUser { external_id, sub })));
        }
        // Before verifying: a JWKS fetched meanwhile must not be credited with this check.
        let generation = state.app_jwt.keys_generation();
        let result = state.app_jwt.verify(token);
        if result
            .as_ref()
            .err()
            .and_then(TokenError::missing_kid)
            .is_some()
        {
            let (state, token) = (state.clone(), token.to_owned());
            return Either::Right(Box::pin(async move {
                let result = state.app_jwt.verify_after_refetch(&token).await;
                outcome(&state, &token, generation, result)
            }));
        }
        Either::Left(ready(outcome(state, token, generation, result)))
    }
}

/// The user a verified token names (kept with `token`, checked under the keys of
/// `generation`), or the 401 a refused one gets.
fn outcome(
    state: &AppState,
    token: &str,
    generation: u64,
    result: Result<Claims, TokenError>,
) -> Result<AppUser, ApiError> {
    let claims = result.map_err(refused)?;
    let user = AppUser {
        external_id: state.external_ids.derive(&claims.sub),
        sub: AppSub(claims.sub),
    };
    let named = (&user.external_id, &user.sub);
    state.app_users.insert(token, named, claims.exp, generation);
    Ok(user)
}

/// The 401 a refused token gets; the reason is logged, never sent.
fn refused(reason: TokenError) -> ApiError {
    tracing::info!(%reason, "app token refused");
    ApiError::unauthorized("a valid app token is required (Authorization: Bearer <JWT>)")
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
