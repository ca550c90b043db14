//! `POST /v1/links/{link_id}/reconnect`: a session in Belvo's update mode for a link the user
//! owns (SPEC §11). The product's normal token body plus `link_id`, with `read_links` added to
//! the scopes; the success must name the same link (`apply_event.lua` checks it).

use serde::Deserialize;

use super::open::{check_locale, locale_schema, platform_schema, token_request, OpenedSession};
use crate::belvo::BelvoError;
use crate::domain::event::AppSub;
use crate::domain::external_id::ExternalId;
use crate::domain::health::{BelvoRecord, HealthChange};
use crate::domain::ids::{LinkId, Platform, SessionId};
use crate::domain::session::{now_millis, AccessToken, NewSession, SessionMode};
use crate::domain::webhook::LinkState;
use crate::error::{ApiError, ErrorCode};

/// What the app asks for to reconnect a link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"platform": "ios", "locale": "es"}))]
pub struct ReconnectRequest {
    /// ios, android or web: picks the deeplink the callbacks return to.
    #[schema(schema_with = platform_schema)]
    pub platform: String,
    /// es, en, pt or mx.
    #[serde(default)]
    #[schema(schema_with = locale_schema)]
    pub locale: Option<String>,
}

impl super::Sessions {
    /// Opens an update-mode session for `link` (already checked to be `owner`'s and confirmed).
    #[tracing::instrument(skip_all, fields(link = %link_id, session_id))]
    pub async fn reconnect(
        &self,
        owner: &ExternalId,
        sub: &AppSub,
        link_id: LinkId,
        link: &LinkState,
        request: ReconnectRequest,
    ) -> Result<OpenedSession, ApiError> {
        let platform: Platform = request.platform.parse().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "platform must be ios, android or web",
            )
        })?;
        let locale = check_locale(request.locale)?;
        let product_name = link
            .product
            .as_ref()
            .ok_or_else(|| ApiError::not_found("link"))?;
        let (product_name, product) =
            crate::products::require(&self.settings.products, product_name.as_str())?;
        if product.open_finance.is_some() {
            return Err(ApiError::new(
                ErrorCode::ReconnectNotSupported,
                "Brazil open-finance links are not reconnected in the widget: renew the consent \
                 instead (POST /v1/links/{link_id}/consent-renewal)",
            ));
        }
        super::token_budget::spend(&self.store, &self.settings.limits, owner).await?;
        let id = SessionId::generate();
        tracing::Span::current().record("session_id", tracing::field::display(id));
        let callback_urls = self.callback_urls(&id);
        let look = self.branding.look(product_name).unwrap_or_default();
        let access_mode = product.access_mode;
        let request = token_request(
            product,
            look,
            callback_urls.clone(),
            access_mode,
            None,
            Some(link_id),
        );
        let token = match self.belvo.widget_token(&request).await {
            Ok(token) => token,
            Err(BelvoError::Rejected { status: 404, .. }) => {
                // Belvo no longer has the link: it is gone (SPEC §11), kept read-only here.
                let gone = HealthChange::Record(BelvoRecord::Missing);
                crate::links::health::apply(&self.store, &link_id, gone).await?;
                return Err(ApiError::new(
                    ErrorCode::LinkUnknownToBelvo,
                    "Belvo no longer knows this link: connect the account again with a new \
                     session (POST /v1/widget-sessions)",
                ));
            }
            Err(other) => return Err(other.into()),
        };
        let now = now_millis();
        let session = NewSession {
            id,
            owner: owner.clone(),
            product: product_name.clone(),
            platform,
            institutions: link.institution.iter().cloned().collect(),
            access_mode,
            created_at: now,
            token_expires_at: token.expires_at * 1000,
            deadline: now + self.settings.sessions.pending_timeout.as_millis() as i64,
            locale,
            mode: SessionMode::Update,
            update_link: Some(link_id),
            token: Some(AccessToken(token.access)),
            sub: self.settings.notify.keeps_sub().then(|| sub.clone()),
        };
        self.create(&session).await?;
        let widget_url = format!("{}/w/{id}", self.public_base_url);
        tracing::info!(platform = platform.as_str(), "reconnect session opened");
        Ok(OpenedSession {
            session,
            widget_url,
            callback_urls,
        })
    }
}
