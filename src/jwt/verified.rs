//! App tokens verified lately (see [`VerifiedTokens`]).

use crate::domain::event::AppSub;
use crate::domain::external_id::ExternalId;

use super::AppJwtVerifier;

/// App tokens verified lately, by their exact text, with the user each names (their external
/// id and `sub`, what `auth::AppUser` holds). An app polls with one token many times; finding
/// it here costs a hash and a compare, where verifying it
/// costs a signature check (HS256: an HMAC key set up and the token hashed; RS256 and ES256
/// far more), two base64 decodings and two JSON parses, and deriving the external id another
/// HMAC. Only tokens that passed [`AppJwtVerifier::verify`] are kept; a kept one is taken only
/// while it has not expired (the verifier's leeway applies) and the verifier's keys are the ones
/// it was checked with (a JWKS fetched again is a new generation), else it is verified again.
pub struct VerifiedTokens {
    verified: quick_cache::sync::Cache<Box<str>, Verified, ByTokenBytes>,
}

#[derive(Clone)]
struct Verified {
    external_id: ExternalId,
    sub: AppSub,
    exp: u64,
    generation: u64,
}

/// Weighs a kept token by its bytes and its user's, so the cache's memory is bounded whatever
/// the tokens' size.
#[derive(Clone)]
struct ByTokenBytes;

impl quick_cache::Weighter<Box<str>, Verified> for ByTokenBytes {
    fn weight(&self, token: &Box<str>, verified: &Verified) -> u64 {
        (token.len() + verified.external_id.as_str().len() + verified.sub.0.len() + 96) as u64
    }
}

/// Longest token kept (longer ones are verified each time).
const MAX_CACHED_TOKEN: usize = 4096;

/// What the kept tokens may weigh: some ten thousand tokens of an identity provider's size
/// (about 800 bytes), far more of the BFF's own.
pub const VERIFIED_TOKENS_BYTES: u64 = 8 * 1024 * 1024;

impl VerifiedTokens {
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

    /// The user `token` names, if it is kept and would still pass [`AppJwtVerifier::verify`].
    pub fn get(&self, token: &str, verifier: &AppJwtVerifier) -> Option<(ExternalId, AppSub)> {
        let kept = self.verified.get(token)?;
        let now = jsonwebtoken::get_current_timestamp();
        (kept.generation == verifier.keys_generation() && verifier.still_valid(kept.exp, now))
            .then_some((kept.external_id, kept.sub))
    }

    /// Keeps `token`, verified under the keys of `generation`.
    pub fn insert(
        &self,
        token: &str,
        (external_id, sub): (&ExternalId, &AppSub),
        exp: u64,
        generation: u64,
    ) {
        if token.len() <= MAX_CACHED_TOKEN {
            let verified = Verified {
                external_id: external_id.clone(),
                sub: sub.clone(),
                exp,
                generation,
            };
            self.verified.insert(token.into(), verified);
        }
    }
}
