//! My Belvo Portal for Brazil open-finance consents (SPEC §12): the renewal URL of a link's
//! expired consent, and the portal view limited to this app's consents. Both ask Belvo for a
//! `consent_management` token with the user's CPF/CNPJ, checked as session creation checks it
//! and sent to Belvo only: never stored, never logged.

use serde::Deserialize;

use crate::belvo::types::ConsentManagementRequest;
use crate::config::ProductSettings;
use crate::domain::consent::ConsentState;
use crate::domain::external_id::ExternalId;
use crate::domain::ids::LinkId;
use crate::domain::session::Millis;
use crate::domain::webhook::LinkState;
use crate::error::{ApiError, ErrorCode};
use crate::sessions::{consent_for, ConsentRequest, IdentificationRequest};

/// Who the user is, for My Belvo Portal: their CPF (or CNPJ and CPF for a business).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"identification_info": [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]}))]
pub struct PortalRequest {
    /// One or two entries, checked as in `POST /v1/widget-sessions` (check digits verified).
    pub identification_info: Vec<IdentificationRequest>,
}

/// A portal URL with its short-lived access token.
#[derive(Debug)]
pub struct ConsentPortal {
    pub url: String,
    /// When the token in `url` stops working (ms).
    pub expires_at: Millis,
}

impl super::Links {
    /// The renewal URL of `link`'s expired consent (`link` is already checked to be `owner`'s).
    #[tracing::instrument(skip_all, fields(link = %link_id))]
    pub async fn renew_consent(
        &self,
        owner: &ExternalId,
        link_id: LinkId,
        link: &LinkState,
        request: PortalRequest,
    ) -> Result<ConsentPortal, ApiError> {
        let product = link
            .product
            .as_ref()
            .and_then(|p| self.settings.products.get(p))
            .filter(|p| p.open_finance.is_some())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotOpenFinance,
                    "only Brazil open-finance links have a consent to renew",
                )
            })?;
        if link.consent.state != ConsentState::Expired {
            return Err(ApiError::new(
                ErrorCode::ConsentNotExpired,
                format!(
                    "this link's consent is {}, not expired: the user manages it in the consent \
                     portal (POST /v1/consent-portal)",
                    link.consent.state
                ),
            ));
        }
        let token = self.portal_token(owner, product, request).await?;
        let mut url = self.portal(&token.access);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("link_id", &link_id.to_string());
            if let Some(id) = &link.consent.consent_id {
                query.append_pair("consent_id", id);
            }
            let renew = link.consent.renew.clone().unwrap_or_default();
            for (key, value) in [
                ("institution", renew.institution),
                ("institution_display_name", renew.institution_display_name),
                ("institution_icon_logo", renew.institution_icon_logo),
            ] {
                if let Some(value) = value {
                    query.append_pair(key, &value);
                }
            }
            query.append_pair("action", "renew");
        }
        tracing::info!("consent renewal URL issued");
        Ok(ConsentPortal {
            url: url.into(),
            expires_at: token.expires_at * 1000,
        })
    }

    /// The portal view limited to this app's consents, for the user `request` names.
    #[tracing::instrument(skip_all)]
    pub async fn consent_portal(
        &self,
        owner: &ExternalId,
        request: PortalRequest,
    ) -> Result<ConsentPortal, ApiError> {
        let product = self
            .settings
            .products
            .values()
            .find(|p| p.open_finance.is_some())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotOpenFinance,
                    "no Brazil open-finance product is configured on this server",
                )
            })?;
        let token = self.portal_token(owner, product, request).await?;
        let url = self.portal(&token.access);
        Ok(ConsentPortal {
            url: url.into(),
            expires_at: token.expires_at * 1000,
        })
    }

    /// The public portal (all the user's Belvo consents; no token).
    pub fn public_portal_url(&self) -> String {
        let mut url = self.portal_base();
        url.query_pairs_mut().append_pair("mode", "landing");
        url.into()
    }

    /// Checks the identification, spends the user's token budget, asks Belvo for the token.
    async fn portal_token(
        &self,
        owner: &ExternalId,
        product: &ProductSettings,
        request: PortalRequest,
    ) -> Result<crate::belvo::WidgetToken, ApiError> {
        let consent = consent_for(
            product,
            Some(ConsentRequest {
                identification_info: request.identification_info,
                permissions: None,
            }),
        )?
        .ok_or_else(|| ApiError::internal("an open-finance product without its consent"))?;
        crate::sessions::token_budget::spend(&self.store, &self.settings.limits, owner).await?;
        let request = ConsentManagementRequest::new(consent);
        Ok(self.belvo.consent_management_token(&request).await?)
    }

    /// The portal URL with `access_token`.
    fn portal(&self, access: &str) -> url::Url {
        let mut url = self.portal_base();
        url.query_pairs_mut().append_pair("access_token", access);
        url
    }

    fn portal_base(&self) -> url::Url {
        url::Url::parse(&self.portal_url).expect("belvo.portal_url is checked at start-up")
    }
}
