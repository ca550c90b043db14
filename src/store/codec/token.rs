//! The widget token as Redis keeps it ([`Keys::widget_token`](crate::store::Keys::widget_token)),
//! in fewer bytes than its text (issue 19: a pending session within 1 KiB while its token lives).
//!
//! Belvo's widget token is a JWT: three base64url segments (a constant header, the claims as
//! JSON, a 64-byte HS512 signature), ~760 bytes of text of which the claims' names and most of
//! their values are the same in every token. So a token is kept as its three segments decoded to
//! bytes and compressed by zstd against a dictionary of Belvo's claims ([`DICTIONARY_V1`]): about
//! 230 bytes against 760. The token stays opaque: it is kept this way only when decoding the
//! stored bytes gives back exactly the same text (checked on every write), else as its text.
//!
//! A stored value says how it was written by its first byte:
//! - [`COMPACT_V1`]: `zstd(dictionary v1, [header length: u8][header][claims length: u16 BE]
//!   [claims][signature])` without the frame's constant 4-byte magic number, each part a
//!   segment decoded from base64url;
//! - [`VERBATIM`]: the token's text after that byte (a token whose text starts with one of the
//!   two marker bytes, never seen in practice: a JWT starts with `eyJ`);
//! - anything else: the token's text as it is, as every version before this one wrote it (and
//!   as the layout before the token's own key kept it in the session hash's `token` field).

use std::cell::RefCell;

use data_encoding::BASE64URL_NOPAD;

/// A token kept compact: zstd with [`DICTIONARY_V1`].
const COMPACT_V1: u8 = 0x01;
/// A token kept as its text, after this byte.
const VERBATIM: u8 = 0x00;
/// The zstd level: a token is compressed once per session creation or renewal (with the check
/// that it reads back, about 10 µs at this level). Higher levels save a byte or two more at
/// several times the CPU; 3 costs ~8 bytes more per token.
const LEVEL: i32 = 6;
/// Every zstd frame starts with these 4 bytes: not stored, put back to read.
const ZSTD_MAGIC: [u8; 4] = 0xFD2F_B528_u32.to_le_bytes();
/// No widget token comes near this: a stored value that would decompress to more is corrupt.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What zstd finds matches in: Belvo's JWT header and its access-token claims as its guides show
/// them (the names in Belvo's order, the documented scopes, resources, environments and hosts).
/// Part of the stored format: values written with it need it byte for byte to be read, so it is
/// never changed; a better one gets a marker of its own and this one stays for reading.
const DICTIONARY_V1: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"production","api_url":"api.belvo.com","iss":"api.belvo.com"read_consents","write_consents","write_consent_callback","delete_consents"]"BALANCES","INCOMES","INVESTMENTS","RECURRING_EXPENSES","RISK_INSIGHTS","INVOICES","TAX_RETURNS","TAX_STATUS","TAX_COMPLIANCE_STATUS","EMPLOYMENTS","EMPLOYMENT_RECORDS","OWNERS"]"fetch_resources":["ACCOUNTS","TRANSACTIONS","OWNERS"],"scopes":["read_institutions","write_links","read_links"],{"alg":"HS512","typ":"JWT"}{"token_type":"access","exp":17,"iat":17,"jti":"","user_id":"","organization_name":"","organization_id":"","scopes":["read_institutions","write_links"],"environment":"sandbox","api_url":"sandbox.belvo.com","credentials_storage":"30d","stale_in":"365d","fetch_resources":["EMPLOYMENT_RECORDS","OWNERS"],"iss":"sandbox.belvo.com"}"#;

/// A stored widget token that cannot be read back: a bug or a foreign write, never user input.
#[derive(Debug, thiserror::Error)]
#[error("stored widget token is malformed: {0}")]
pub struct CorruptToken(&'static str);

thread_local! {
    // A context per thread, each with the dictionary loaded once (zstd digests it on first use):
    // the compressor's is about 80 KB once used, on the threads that create or renew sessions.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = RefCell::new(
        zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY_V1).ok()
    );
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = RefCell::new(
        zstd::bulk::Decompressor::with_dictionary(DICTIONARY_V1).ok()
    );
}

/// The bytes a store keeps for `token`: compact when that reads back exactly, else its text.
pub fn encode_widget_token(token: &str) -> Vec<u8> {
    if let Some(compact) = compact(token) {
        if decode_widget_token(&compact).is_ok_and(|back| back == token) {
            return compact;
        }
    }
    match token.as_bytes().first() {
        Some(&COMPACT_V1 | &VERBATIM) => [&[VERBATIM], token.as_bytes()].concat(),
        _ => token.as_bytes().to_vec(),
    }
}

/// The token that `stored` (as [`encode_widget_token`] or any earlier version wrote it) holds.
pub fn decode_widget_token(stored: &[u8]) -> Result<String, CorruptToken> {
    let text = match stored.split_first() {
        Some((&COMPACT_V1, compressed)) => return expand(compressed),
        Some((&VERBATIM, text)) => text,
        _ => stored,
    };
    String::from_utf8(text.to_vec()).map_err(|_| CorruptToken("not UTF-8"))
}

/// The compact form of a JWT of three base64url segments; `None` for anything else.
fn compact(token: &str) -> Option<Vec<u8>> {
    let mut segments = token.split('.');
    let (header, claims, signature) = (segments.next()?, segments.next()?, segments.next()?);
    if segments.next().is_some() {
        return None;
    }
    let decode = |s: &str| BASE64URL_NOPAD.decode(s.as_bytes()).ok();
    let (header, claims, signature) = (decode(header)?, decode(claims)?, decode(signature)?);
    let mut parts = Vec::with_capacity(3 + header.len() + claims.len() + signature.len());
    parts.push(u8::try_from(header.len()).ok()?);
    parts.extend_from_slice(&header);
    parts.extend_from_slice(&u16::try_from(claims.len()).ok()?.to_be_bytes());
    parts.extend_from_slice(&claims);
    parts.extend_from_slice(&signature);
    let compressed = COMPRESSOR.with(|c| c.borrow_mut().as_mut()?.compress(&parts).ok())?;
    let frame = compressed.strip_prefix(&ZSTD_MAGIC)?;
    Some([&[COMPACT_V1], frame].concat())
}

/// The token's text from its compact form (after the marker).
fn expand(frame: &[u8]) -> Result<String, CorruptToken> {
    let compressed = [&ZSTD_MAGIC, frame].concat();
    let parts = DECOMPRESSOR
        .with(|d| {
            d.borrow_mut()
                .as_mut()
                .map(|d| d.decompress(&compressed, MAX_TOKEN_BYTES))
        })
        .ok_or(CorruptToken("no zstd context"))?
        .map_err(|_| CorruptToken("not zstd of dictionary v1"))?;
    let truncated = CorruptToken("truncated");
    let (&header_len, rest) = parts.split_first().ok_or(truncated)?;
    let header = rest
        .get(..usize::from(header_len))
        .ok_or(CorruptToken("truncated header"))?;
    let rest = &rest[header.len()..];
    let claims_len = match rest {
        [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => return Err(CorruptToken("truncated claims length")),
    };
    let claims = rest
        .get(2..2 + claims_len)
        .ok_or(CorruptToken("truncated claims"))?;
    let signature = &rest[2 + claims_len..];
    Ok([header, claims, signature]
        .map(|segment| BASE64URL_NOPAD.encode(segment))
        .join("."))
}

#[cfg(test)]
// Named from this file's folder, so `bench/floor` (which compiles this file in) finds it too.
#[path = "token/tests.rs"]
mod tests;
