//! `/w/{session_id}`: the session's `widget_url`, which never goes stale (SPEC §11). Each opening
//! is counted; the browser is sent to Belvo's widget with a token that has more than a minute
//! left — the current one, or a fresh one requested with the session's own body, by one replica
//! at a time.

use std::time::Duration;

use crate::domain::explanation::Lang;
use crate::domain::ids::SessionId;
use crate::domain::session::{now_millis, AccessToken, Millis, Session, Status, WidgetOpening};
use crate::error::{ApiError, ErrorCode};

/// A token with at most this much left is renewed before the widget opens.
pub const RENEW_WITHIN_MS: Millis = 60_000;
/// How often a replica waiting for another's renewal looks for the new token.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Why `/w/` does not send the browser on: the page to show, in the session's language.
#[derive(Debug)]
pub enum WidgetRefusal {
    /// No such session (or its record expired).
    Unknown,
    /// Finished (`succeeded`, `exited`, `failed`) or past its deadline (`expired`).
    Closed { status: Status, lang: Lang },
    /// A Brazil open-finance session whose first token expired: its CPF/CNPJ was never kept,
    /// so the app must open a new session.
    ConsentDetailsRequired { lang: Lang },
    /// Belvo, the store or the user's token budget failed; the session stays pending and the
    /// page offers to try again.
    Failed { error: ApiError, lang: Lang },
}

impl WidgetRefusal {
    fn failed(error: impl Into<ApiError>, lang: Lang) -> Self {
        Self::Failed {
            error: error.into(),
            lang,
        }
    }
}

impl super::Sessions {
    /// Counts the opening and answers where to send the browser: Belvo's widget with a usable token.
    #[tracing::instrument(skip_all, fields(session_id = %id))]
    pub async fn open_widget(&self, id: &SessionId) -> Result<String, WidgetRefusal> {
        let now = now_millis();
        let opened = self
            .store
            .open_widget(id, now)
            .await
            .map_err(|e| WidgetRefusal::failed(e, Lang::default()))?;
        let session = match opened {
            WidgetOpening::Missing => return Err(WidgetRefusal::Unknown),
            WidgetOpening::Closed(session) => {
                return Err(WidgetRefusal::Closed {
                    status: session.status_at(now),
                    lang: self.language(&session),
                })
            }
            WidgetOpening::Open(session) => session,
        };
        let lang = self.language(&session);
        let record = &session.record;
        let token = match &record.token {
            Some(token) if record.token_expires_at - now > RENEW_WITHIN_MS => token.clone(),
            _ => self.renew(&session, lang).await?,
        };
        let product = crate::products::find(&self.settings.products, record.product.as_str())
            .map(|(_, p)| p)
            .ok_or(WidgetRefusal::Closed {
                status: Status::Expired,
                lang,
            })?;
        Ok(super::open::belvo_widget_url(
            &self.widget_url,
            product,
            &token.0,
            record.locale.as_deref(),
            &record.institutions,
            record.access_mode,
            &record.owner,
        ))
    }

    /// A fresh token for the session: requested here when no other replica is at it, else awaited.
    async fn renew(&self, session: &Session, lang: Lang) -> Result<AccessToken, WidgetRefusal> {
        let record = &session.record;
        let id = &record.id;
        let Some((product_name, product)) =
            crate::products::find(&self.settings.products, record.product.as_str())
        else {
            // The product was removed from the configuration since: nothing to renew with.
            return Err(WidgetRefusal::Closed {
                status: Status::Expired,
                lang,
            });
        };
        if product.open_finance.is_some() {
            return Err(WidgetRefusal::ConsentDetailsRequired { lang });
        }
        let hold = self.settings.belvo.timeout + Duration::from_secs(1);
        let failed = |e: ApiError| WidgetRefusal::failed(e, lang);
        if !self
            .store
            .begin_renewal(id, hold)
            .await
            .map_err(|e| failed(e.into()))?
        {
            return self
                .await_renewal(id, record.token.as_ref(), hold, lang)
                .await;
        }
        let renewed = async {
            super::token_budget::spend(&self.store, &self.settings.limits, &record.owner).await?;
            let look = self.branding.look(product_name).unwrap_or_default();
            let request = super::open::token_request(
                product,
                look,
                self.callback_urls(id),
                record.access_mode,
                None,
                record.update_link,
            );
            let token = self.belvo.widget_token(&request).await?;
            let access = AccessToken(token.access);
            self.store
                .store_token(id, &access, token.expires_at * 1000)
                .await?;
            tracing::info!("widget token renewed");
            Ok::<_, ApiError>(access)
        }
        .await;
        if renewed.is_err() {
            // Let the next opening try again at once (best effort: the mark expires anyway).
            let _ = self.store.end_renewal(id).await;
        }
        renewed.map_err(failed)
    }

    /// Another replica (or request) renews the token: wait until another token than the one this
    /// opening found (`stale`) is stored, at most `hold`.
    async fn await_renewal(
        &self,
        id: &SessionId,
        stale: Option<&AccessToken>,
        hold: Duration,
        lang: Lang,
    ) -> Result<AccessToken, WidgetRefusal> {
        let deadline = tokio::time::Instant::now() + hold;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(WAIT_STEP).await;
            let current = self
                .store
                .current_token(id)
                .await
                .map_err(|e| WidgetRefusal::failed(e, lang))?;
            if let Some((token, _)) = current {
                if Some(&token) != stale {
                    return Ok(token);
                }
            }
        }
        Err(WidgetRefusal::failed(
            ApiError::new(
                ErrorCode::BelvoTimeout,
                "the widget's access could not be renewed in time; try again",
            ),
            lang,
        ))
    }

    /// The session's language: its locale (`mx` is Spanish), else its product's widget locale, else
    /// Spanish (the widget's default).
    fn language(&self, session: &Session) -> Lang {
        let product_locale = || {
            let (_, product) =
                crate::products::find(&self.settings.products, session.record.product.as_str())?;
            product.widget_params.get("locale").cloned()
        };
        match session
            .record
            .locale
            .clone()
            .or_else(product_locale)
            .as_deref()
        {
            Some("en") => Lang::En,
            Some("pt") => Lang::Pt,
            _ => Lang::Es,
        }
    }
}
