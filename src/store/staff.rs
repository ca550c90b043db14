//! What the support console and branding admin keep: staff sign-ins, the audit log, and each
//! product's branding with its history. Part of [`super::Store`], implemented for
//! Redis in `redis/staff.rs` and in memory in `memory/staff.rs`.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::StoreResult;
use crate::domain::branding_version::{BrandingVersion, SaveOutcome};
use crate::domain::ids::ProductName;
use crate::domain::staff::{AuditEntry, SessionTokenHash, StaffSession};

/// The most audit entries kept in each log (newest first).
pub const MAX_AUDIT: usize = 5000;

/// The two audit logs. Refused sign-ins by people not signed in have their own, so a flood of
/// them can never push a staff action out of the staff log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditLog {
    /// What signed-in staff did, and successful sign-ins.
    Staff,
    /// Failed, locked-out and busy sign-in attempts.
    Refused,
}
/// The most versions of one product's branding kept.
pub const MAX_BRANDING_VERSIONS: usize = 200;

#[async_trait]
pub trait StaffStore: Send + Sync {
    /// Keeps a signed-in console session for `ttl`.
    async fn put_staff_session(
        &self,
        id: &SessionTokenHash,
        session: &StaffSession,
        ttl: Duration,
    ) -> StoreResult<()>;

    /// A console session, `None` when unknown, signed out or expired.
    async fn staff_session(&self, id: &SessionTokenHash) -> StoreResult<Option<StaffSession>>;

    /// Signs a console session out.
    async fn delete_staff_session(&self, id: &SessionTokenHash) -> StoreResult<()>;

    /// Appends to one audit log (each capped at [`MAX_AUDIT`]).
    async fn record_audit(&self, log: AuditLog, entry: &AuditEntry) -> StoreResult<()>;

    /// One audit log's newest entries, newest first.
    async fn audit_log(&self, log: AuditLog, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    /// The current saved branding of every product that has one (one read for all).
    async fn current_branding(&self) -> StoreResult<Vec<BrandingVersion>>;

    /// Saves `version` as its product's current branding if the current one is still
    /// `version.version - 1`, keeps it in the history, and tells every replica — atomically.
    async fn save_branding(&self, version: &BrandingVersion) -> StoreResult<SaveOutcome>;

    /// A product's saved versions, newest first.
    async fn branding_history(
        &self,
        product: &ProductName,
        limit: usize,
    ) -> StoreResult<Vec<BrandingVersion>>;

    /// Fires when any replica saved branding, and after the notification channel reconnects
    /// (when messages may have been missed): either way, reload [`Self::current_branding`].
    fn branding_changes(&self) -> broadcast::Receiver<()>;
}
