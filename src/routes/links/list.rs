//! `GET /v1/links` and `GET /v1/links/{id}`.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{is_open_finance, owned_link};
use crate::auth::AppUser;
use crate::domain::consent::{ConsentState, LinkConsent};
use crate::domain::explanation::{explain_health, Explanation, Lang};
use crate::domain::health::Health;
use crate::domain::ids::LinkId;
use crate::domain::session::rfc3339;
use crate::domain::webhook::{LinkState, Readiness};
use crate::error::{ApiError, ErrorBody};
use crate::routes::lang::request_lang;
use crate::state::AppState;

/// A link as the app sees it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Link)]
pub struct LinkView<'a> {
    #[schema(value_type = String, format = Uuid)]
    link_id: LinkId,
    /// The product the link was made for.
    #[schema(value_type = Option<String>, required = true)]
    product: Option<&'a str>,
    /// The institution Belvo connected, e.g. `imss_mx_employment`.
    #[schema(required = true)]
    institution: Option<&'a str>,
    /// The widget session that made the link; `null` for a link made through `POST /v1/links`.
    #[schema(format = Uuid, required = true)]
    session_id: Option<String>,
    /// Readiness of each resource Belvo fetches for the link (e.g. `EMPLOYMENT_RECORDS`), from
    /// its webhooks; empty until the first one arrives.
    resources: BTreeMap<&'a str, LinkResource>,
    /// The worst of what is known of the link (SPEC §11): `gone` > `consent_expired` >
    /// `needs_reconnect` > `unavailable` > `consent_expiring` > `ok`.
    health: Health,
    /// Why the health is not `ok` (`null` when it is).
    #[schema(required = true)]
    health_reason: Option<HealthReasonView<'a>>,
    /// When the health last changed (`null` if it never did).
    #[schema(format = DateTime, required = true)]
    health_changed_at: Option<String>,
    /// When Belvo's record of the link was last read (`null` if never).
    #[schema(format = DateTime, required = true)]
    checked_at: Option<String>,
    /// Brazil open-finance links (`br_ofda`) only: the consent the user gave (SPEC §12).
    #[serde(skip_serializing_if = "Option::is_none")]
    consent: Option<ConsentView<'a>>,
}

/// A `br_ofda` link's open-finance consent, from Belvo's CONSENT webhooks.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Consent)]
pub struct ConsentView<'a> {
    /// Belvo's consent id (`null` until a webhook names it).
    #[schema(required = true)]
    consent_id: Option<&'a str>,
    /// `active`, `expiring` (renew before `due_at`), `expired` (renew: `POST
    /// /v1/links/{link_id}/consent-renewal`) or `unavailable` (the institution cannot deliver
    /// some resources).
    state: ConsentState,
    /// When the consent expires (`null` until a webhook gives a readable date).
    #[schema(format = DateTime, required = true)]
    due_at: Option<String>,
    /// When the consent's state last changed (`null` if it never did).
    #[schema(format = DateTime, required = true)]
    changed_at: Option<String>,
    /// What the state means for the user (`null` when `active`).
    #[schema(required = true)]
    explanation: Option<Explanation>,
}

impl<'a> ConsentView<'a> {
    fn new(consent: &'a LinkConsent, lang: Lang) -> Self {
        Self {
            consent_id: consent.consent_id.as_deref(),
            state: consent.state,
            due_at: consent.due_at.map(rfc3339),
            changed_at: consent.changed_at.map(rfc3339),
            explanation: consent
                .state
                .reason_code()
                .map(|code| explain_health(code, lang)),
        }
    }
}

/// Why a link's health is what it is: the code (a LINK webhook's `invalid_credentials` or
/// `token_required`, Belvo's `invalid_link`, `link_unconfirmed`, `link_gone`...), Belvo's
/// message, and an explanation for the user in the `Accept-Language`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = HealthReason)]
pub struct HealthReasonView<'a> {
    code: &'a str,
    #[schema(required = true)]
    message: Option<&'a str>,
    explanation: Explanation,
}

/// One resource of a link: whether Belvo has fetched it, and how many items it holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkResource {
    status: Readiness,
    /// How many items Belvo fetched (`null` until its webhook says).
    #[schema(required = true)]
    total: Option<u64>,
}

/// The caller's links.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Links<'a> {
    links: Vec<LinkView<'a>>,
}

impl<'a> LinkView<'a> {
    /// The view of a link; `open_finance` when its product is a Brazil open-finance one (it
    /// then carries its consent).
    pub(super) fn new(id: LinkId, link: &'a LinkState, lang: Lang, open_finance: bool) -> Self {
        let health = &link.health;
        Self {
            consent: open_finance.then(|| ConsentView::new(&link.consent, lang)),
            health: health.current(),
            health_reason: health
                .reason
                .as_ref()
                .filter(|_| health.current() != Health::Ok)
                .map(|r| HealthReasonView {
                    code: &r.code,
                    message: r.message.as_deref(),
                    explanation: explain_health(&r.code, lang),
                }),
            health_changed_at: health.changed_at.map(rfc3339),
            checked_at: health.checked_at.map(rfc3339),
            link_id: id,
            product: link.product.as_ref().map(|p| p.as_str()),
            institution: link.institution.as_deref(),
            session_id: link.session.map(|s| s.to_string()),
            resources: link
                .resources
                .iter()
                .map(|(name, r)| {
                    let resource = LinkResource {
                        status: r.status,
                        total: r.total,
                    };
                    (name.as_str(), resource)
                })
                .collect(),
        }
    }
}

/// `GET /v1/links?health=`: only the links in that health.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the links whose health is this one (e.g. `needs_reconnect`).
    #[serde(default)]
    #[param(inline)]
    health: Option<Health>,
}

/// The caller's links (made through the widget and verified, or through the API).
#[utoipa::path(
    get,
    path = "/v1/links",
    operation_id = "list_links",
    tag = "links",
    params(ListQuery),
    responses(
        (status = 200, description = "The caller's links", body = Links, example = json!({"links": [{
            "link_id": "cb65f82c-dc93-4d3e-8270-9a27528397f5", "product": "mx_employment",
            "institution": "imss_mx_employment", "session_id": null,
            "resources": {"EMPLOYMENT_RECORDS": {"status": "ready", "total": 1}},
            "health": "needs_reconnect", "health_reason": {"code": "invalid_credentials",
            "message": "Invalid credentials provided to login to the institution",
            "explanation": {"code": "invalid_credentials",
            "what": "The institution no longer accepts the saved login details (did the password change?).",
            "user_action": "Reconnect your account from the app.", "retryable": false}},
            "health_changed_at": "2026-11-25T14:45:22Z", "checked_at": "2026-11-25T02:10:00Z"}]})),
        (status = 400, description = "invalid_query: `health` is not a health value", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    user: AppUser,
    query: web::Query<ListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut owned = Vec::new();
    for id in state.store.user_links(&user.external_id).await? {
        if let Some(link) = state.store.link(&id).await? {
            let wanted = query.health.is_none_or(|h| h == link.health.current());
            if link.owner.as_ref() == Some(&user.external_id) && wanted {
                owned.push((id, link));
            }
        }
    }
    let lang = request_lang(&req);
    let links = owned
        .iter()
        .map(|(id, link)| LinkView::new(*id, link, lang, is_open_finance(&state, link)))
        .collect();
    Ok(HttpResponse::Ok().json(Links { links }))
}

/// One of the caller's links; anyone else's (or an unverified one) is 404.
#[utoipa::path(
    get,
    path = "/v1/links/{link_id}",
    operation_id = "show_link",
    tag = "links",
    params(("link_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The link: product, institution, session, resources, health", body = LinkView),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, unverified, or not the caller's", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn show(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<LinkId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, link) = owned_link(&state, &user, path.into_inner()).await?;
    let lang = request_lang(&req);
    let open_finance = is_open_finance(&state, &link);
    Ok(HttpResponse::Ok().json(LinkView::new(id, &link, lang, open_finance)))
}
