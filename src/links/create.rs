//! Making a link through the API flow (MX, BR and CO guides): the username (CURP, CPF or cédula)
//! is checked before Belvo is called, attempts are counted per hashed username so the user never
//! burns Belvo's 3-a-day limit, Belvo's refusals come back explained in the caller's language,
//! and the new link is claimed for its user. The username is never stored or logged in clear.

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use crate::belvo::types::CreateLink;
use crate::belvo::BelvoError;
use crate::config::{BelvoEnvironment, Settings};
use crate::domain::country::Country;
use crate::domain::explanation::{explain_message, Lang};
use crate::domain::external_id::ExternalId;
use crate::domain::health::{BelvoRecord, HealthChange};
use crate::domain::ids::{LinkId, ProductName};
use crate::domain::tax_id::{Cedula, Cpf, Curp};
use crate::domain::webhook::LinkClaim;
use crate::error::{ApiError, ErrorCode};

/// Belvo (IMSS) allows 3 login attempts per username per 24 h.
const ATTEMPTS_PER_DAY: u64 = 3;
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A link made through the API flow.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"product": "mx_employment", "username": "RAMJ850101HDFMRN09"}))]
pub struct CreateLinkRequest {
    /// An employment product (not open finance).
    product: String,
    /// The user's CURP (MX), CPF (BR) or cédula (CO), checked before Belvo is called.
    username: String,
}

/// A link just made through the API flow, as Belvo answered it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"link_id": "cb65f82c-dc93-4d3e-8270-9a27528397f5",
    "product": "mx_employment", "institution": "imss_mx_employment",
    "access_mode": "single", "status": "valid"}))]
pub struct CreatedLink {
    /// Belvo's id of the new link; the caller's from now on (`GET /v1/links/{link_id}`).
    #[schema(value_type = String, format = Uuid)]
    link_id: LinkId,
    /// The product it was made for, as in the request.
    #[schema(value_type = String)]
    product: ProductName,
    /// The institution Belvo connected: the product's first one (sandbox or production).
    institution: String,
    /// `single` or `recurrent`, as Belvo reports it (`null` when Belvo does not say).
    #[schema(required = true)]
    access_mode: Option<String>,
    /// The link's status at Belvo, e.g. `valid` (`null` when Belvo does not say).
    #[schema(required = true)]
    status: Option<String>,
}

impl super::Links {
    /// Makes a link for `owner` through the API flow; refusals are explained in `lang`.
    #[tracing::instrument(skip_all, fields(product = %request.product))]
    pub async fn create(
        &self,
        owner: &ExternalId,
        request: CreateLinkRequest,
        lang: Lang,
    ) -> Result<CreatedLink, ApiError> {
        let (product_name, product) =
            crate::products::require(&self.settings.products, &request.product)?;
        let product_name = product_name.clone();
        if product.open_finance.is_some() {
            return Err(ApiError::new(
                ErrorCode::ApiFlowUnavailable,
                "open finance links are made in the widget only",
            ));
        }
        let username = normalized_username(product.country, &request.username)?;
        let sandbox = self.settings.belvo.environment != BelvoEnvironment::Production;
        let institution = product
            .institutions_for(sandbox)
            .first()
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ApiFlowUnavailable,
                    "the product lists no institution",
                )
            })?;

        let subject = attempt_subject(&self.settings, counted_as(product.country, &username));
        self.within_limits(owner, &subject).await?;

        let belvo_request = CreateLink {
            institution: institution.to_string(),
            username,
            fetch_resources: product
                .fetch_resources
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            access_mode: product.access_mode.as_str().to_owned(),
            external_id: Some(owner.to_string()),
        };
        let link = self
            .belvo
            .create_link(&belvo_request)
            .await
            .map_err(|e| belvo_refusal(e, lang))?;
        let link_id = LinkId::parse(&link.id)
            .ok()
            .ok_or_else(|| ApiError::internal("Belvo returned a link id that is not a UUID"))?;
        let claim = LinkClaim {
            owner: owner.clone(),
            product: product_name.clone(),
            institution: link.institution.clone(),
            // No session: no funnel counts this link's steps.
            funnel: None,
        };
        self.store.claim_link(&link_id, &claim).await?;
        let status = link.status.as_deref().and_then(BelvoRecord::from_status);
        if let Some(record) = status {
            super::health::apply(&self.store, &link_id, HealthChange::Record(record)).await?;
        }
        super::health::schedule_checks(&self.store, &link_id, self.settings.links.check_every)
            .await?;
        tracing::info!(link = %link_id, product = %product_name, "link created through the API");
        Ok(CreatedLink {
            link_id,
            product: product_name,
            institution: link.institution,
            access_mode: link.access_mode,
            status: link.status,
        })
    }

    /// Counts this attempt against both limits: different IDs per user, and tries per ID.
    async fn within_limits(&self, owner: &ExternalId, subject: &str) -> Result<(), ApiError> {
        // One user may try only so many different ids a day: nobody can walk through other
        // people's ids, or spend their attempts at Belvo.
        let (allowed, left) = self
            .store
            .count_distinct(
                &format!("link-usernames:{owner}"),
                subject,
                DAY,
                self.settings.limits.usernames_per_day,
            )
            .await?;
        if !allowed {
            return Err(ApiError::new(
                ErrorCode::TooManyUsernames,
                format!(
                    "this user tried {} different IDs in the last 24 hours; retry later with one of them",
                    self.settings.limits.usernames_per_day
                ),
            )
            .retry_after(left.as_secs().max(1)));
        }
        let (attempts, left) = self.store.count_attempt(subject, DAY).await?;
        if attempts > ATTEMPTS_PER_DAY {
            return Err(ApiError::new(
                ErrorCode::TooManyAttempts,
                "this ID was tried 3 times in the last 24 hours; the institution would lock it",
            )
            .retry_after(left.as_secs().max(1)));
        }
        Ok(())
    }
}

/// Checks the username for the product's country before anything is sent anywhere.
fn normalized_username(country: Country, raw: &str) -> Result<String, ApiError> {
    let (parsed, expected) = match country {
        Country::Mexico => (
            Curp::parse(raw).map(|c| c.as_str().to_owned()),
            "a CURP (18 characters)",
        ),
        Country::Brazil => (
            Cpf::parse(raw).map(|c| c.as_str().to_owned()),
            "a CPF (11 digits with valid check digits)",
        ),
        Country::Colombia => (
            Cedula::parse(raw).map(|c| c.as_str().to_owned()),
            "a cédula (6 to 10 digits)",
        ),
    };
    parsed.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidUsername,
            format!("username must be {expected}"),
        )
    })
}

/// What is counted for a username: a cédula is a number, so `01234567` and `1234567` are one ID
/// to the attempt limits (it is still sent to Belvo as typed). Counting them together only ever
/// refuses sooner than the institution would.
fn counted_as(country: Country, username: &str) -> &str {
    match country {
        Country::Colombia => match username.trim_start_matches('0') {
            "" => "0",
            number => number,
        },
        Country::Mexico | Country::Brazil => username,
    }
}

/// A keyed hash of the username: attempts are counted without storing the id itself.
fn attempt_subject(settings: &Settings, username: &str) -> String {
    let key = settings.secrets.external_id_key.expose_secret();
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(b"link-attempt:");
    mac.update(username.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()[..16])
}

/// Belvo's refusal, explained: each IMSS row gets its own code; `forbidden_by_host` is a 429
/// with `retry_after` = a day.
fn belvo_refusal(error: BelvoError, lang: Lang) -> ApiError {
    let BelvoError::Rejected {
        status,
        code,
        message,
    } = &error
    else {
        return error.into();
    };
    if !matches!(status, 400 | 403) || code.is_empty() {
        return error.into();
    }
    let explanation = explain_message(code, Some(message), lang);
    let details = json!({"what": explanation.what, "user_action": explanation.user_action,
        "retryable": explanation.retryable});
    let belvo = json!({"code": code, "message": message});
    if code == "forbidden_by_host" {
        return ApiError::new(ErrorCode::ForbiddenByHost, explanation.what)
            .retry_after(DAY.as_secs())
            .with("explanation", details)
            .with("belvo", belvo);
    }
    ApiError::new(ErrorCode::Explained(explanation.code), explanation.what)
        .with("explanation", details)
        .with("belvo", belvo)
}
