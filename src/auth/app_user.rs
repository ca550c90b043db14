//! `AppUser`: the mobile app's signed-in user, from `Authorization: Bearer <app JWT>`.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture};

use crate::domain::event::AppSub;
use crate::domain::external_id::ExternalId;
use crate::error::ApiError;
use crate::jwt::{AppJwtVerifier, Claims, TokenError};
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
            Err(reason) => return Either::Left(ready(outcome(state, "", 0, Err(reason)))),
        };
        if let Some(user) = state.app_users.get(token, &state.app_jwt) {
            return Either::Left(ready(Ok(user)));
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
    match result {
        Ok(claims) => {
            let user = AppUser {
                external_id: state.external_ids.derive(&claims.sub),
                sub: AppSub(claims.sub),
            };
            state.app_users.insert(token, &user, claims.exp, generation);
            Ok(user)
        }
        Err(reason) => {
            tracing::info!(%reason, "app token refused");
            Err(ApiError::unauthorized(
                "a valid app token is required (Authorization: Bearer <JWT>)",
            ))
        }
    }
}

/// App tokens verified lately, by their exact text, with the user each names. An app polls
/// with one token many times; finding it here costs a hash and a compare, where verifying it
/// costs a signature check (HS256: an HMAC key set up and the token hashed; RS256 and ES256
/// far more), two base64 decodings and two JSON parses, and deriving the external id another
/// HMAC. Only tokens that passed [`AppJwtVerifier::verify`] are kept; a kept one is taken only
/// while it has not expired (the verifier's leeway applies) and the verifier's keys are the ones
/// it was checked with (a JWKS fetched again is a new generation), else it is verified again.
pub struct AppUsers {
    verified: quick_cache::sync::Cache<Box<str>, Verified, ByTokenBytes>,
}

#[derive(Clone)]
struct Verified {
    user: AppUser,
    exp: u64,
    generation: u64,
}

/// Weighs a kept token by its bytes and its user's, so the cache's memory is bounded whatever
/// the tokens' size.
#[derive(Clone)]
struct ByTokenBytes;

impl quick_cache::Weighter<Box<str>, Verified> for ByTokenBytes {
    fn weight(&self, token: &Box<str>, verified: &Verified) -> u64 {
        (token.len() + verified.user.external_id.as_str().len() + verified.user.sub.0.len() + 96)
            as u64
    }
}

/// Longest token kept (longer ones are verified each time).
const MAX_CACHED_TOKEN: usize = 4096;

/// What the kept tokens may weigh: some ten thousand tokens of an identity provider's size
/// (about 800 bytes), far more of the BFF's own.
pub const APP_USERS_BYTES: u64 = 8 * 1024 * 1024;

impl AppUsers {
    /// Keeps tokens up to about `bytes` (the least used go first).
    pub fn new(bytes: u64) -> Self {
        Self {
            verified: quick_cache::sync::Cache::with_weighter(
                (bytes / 1024) as usize,
                bytes,
                ByTokenBytes,
            ),
        }
    }

    fn get(&self, token: &str, verifier: &AppJwtVerifier) -> Option<AppUser> {
        let kept = self.verified.get(token)?;
        let now = jsonwebtoken::get_current_timestamp();
        (kept.generation == verifier.keys_generation() && verifier.still_valid(kept.exp, now))
            .then_some(kept.user)
    }

    /// Keeps `token`, verified under the keys of `generation`.
    fn insert(&self, token: &str, user: &AppUser, exp: u64, generation: u64) {
        if token.len() <= MAX_CACHED_TOKEN {
            let verified = Verified {
                user: user.clone(),
                exp,
                generation,
            };
            self.verified.insert(token.into(), verified);
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
