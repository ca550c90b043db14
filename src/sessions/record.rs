//! Recording a widget event (from a deeplink callback or the app's events endpoint).

use crate::domain::callback::CallbackEvent;
use crate::domain::funnel::TerminalStep;
use crate::domain::ids::SessionId;
use crate::domain::session::{now_millis, Applied, Status, Transition};
use crate::error::ApiError;

impl super::Sessions {
    /// Applies `event` to the session in one store round trip.
    #[tracing::instrument(skip(self, session_id, event), fields(session_id = %session_id, kind = event.kind()))]
    pub async fn record(
        &self,
        session_id: &SessionId,
        event: &CallbackEvent,
        source: &str,
    ) -> Result<Applied, ApiError> {
        let mut transition = Transition::new(event, source, now_millis());
        transition.emit = self.settings.notify.enabled();
        transition.funnel = TerminalStep::of(event, &self.known_institutions);
        let applied = self.store.apply(session_id, &transition).await?;
        crate::metrics::callback_recorded(event.kind(), source, outcome_label(&applied));
        match applied {
            Applied::Recorded {
                status, changed, ..
            } => {
                tracing::info!(status = status.as_str(), changed, "widget event recorded");
                if let (true, Status::Failed, CallbackEvent::Success { link, .. }) =
                    (changed, status, event)
                {
                    tracing::warn!(link = %link, "success names a link another user owns: the session failed");
                    crate::metrics::link_claim_refused();
                    return Ok(applied);
                }
                if let (true, CallbackEvent::Success { link, .. }) = (changed, event) {
                    super::verify::spawn(
                        self.belvo.clone(),
                        self.store.clone(),
                        *session_id,
                        *link,
                        self.settings.links.check_every,
                        self.known_institutions.clone(),
                    );
                }
            }
            Applied::Replay { .. } => tracing::info!("replayed widget event counted once"),
            Applied::Missing | Applied::Expired => {}
        }
        Ok(applied)
    }
}

/// What recording did, as the callbacks metric names it.
fn outcome_label(applied: &Applied) -> &'static str {
    match applied {
        Applied::Recorded { changed: true, .. } => "applied",
        Applied::Recorded { changed: false, .. } => "ignored",
        Applied::Replay { .. } => "replay",
        Applied::Expired => "expired",
        Applied::Missing => "unknown_session",
    }
}
