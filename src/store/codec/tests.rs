//! The stored format, held to what was stored before the codec moved into the store.

use super::*;
use crate::domain::callback::{CallbackEvent, CallbackKind};

fn transition(kind: CallbackKind, query: &str) -> Transition {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    Transition::new(&CallbackEvent::parse(kind, &pairs).unwrap(), "test", 1_000)
}

/// The pairs sorted, owned: what a hash holds (field order in a hash means nothing).
fn sorted(fields: Vec<(&'static str, Cow<'_, str>)>) -> Vec<(&'static str, String)> {
    let mut fields: Vec<_> = fields.into_iter().map(|(k, v)| (k, v.into())).collect();
    fields.sort();
    fields
}

const LINK: &str = "cb65f82c-dc93-4d3e-8270-9a27528397f5";

#[test]
fn terminal_fields_are_the_ones_stored_before_the_codec_moved() {
    let success = transition(
        CallbackKind::Success,
        &format!("link={LINK}&institution=imss_mx_employment"),
    );
    assert_eq!(
        sorted(terminal_fields(&success)),
        [
            ("institution", "imss_mx_employment".into()),
            ("link_id", LINK.into())
        ]
    );
    let exit = transition(
        CallbackKind::Exit,
        "last_encountered_error_code=login_error&meta_data_institution_name=imss_mx_employment\
         &meta_data_step=abandon-survey",
    );
    // An error without a message is stored with an empty one.
    assert_eq!(
        sorted(terminal_fields(&exit)),
        [
            ("error_code", "login_error".into()),
            ("error_message", String::new()),
            ("exit_institution", "imss_mx_employment".into()),
            ("exit_step", "abandon-survey".into()),
            ("institution", "imss_mx_employment".into()),
        ]
    );
    let bare_exit = transition(CallbackKind::Exit, "");
    assert_eq!(sorted(terminal_fields(&bare_exit)), []);
    let error = transition(
        CallbackKind::Event,
        "error=ACCESS_TOKEN_NOT_VALID&error_message=expired",
    );
    assert_eq!(
        sorted(terminal_fields(&error)),
        [
            ("error_code", "ACCESS_TOKEN_NOT_VALID".into()),
            ("error_message", "expired".into()),
        ]
    );
    let elsewhere = sorted(terminal_fields(&success.owned_elsewhere()));
    assert_eq!(elsewhere[0], ("error_code", "link_owned_elsewhere".into()));
    assert_eq!(elsewhere.len(), 2, "{elsewhere:?}");
    let warning = transition(CallbackKind::Event, "warning=institution_disabled");
    assert_eq!(sorted(terminal_fields(&warning)), []);
    assert_eq!(
        warning_json(warning.warning.as_ref().unwrap()),
        r#"{"code":"institution_disabled","message":null,"at":1000}"#
    );
}

#[test]
fn a_record_written_before_the_codec_moved_reads_the_same() {
    let stored: HashMap<String, String> = [
        ("id", "0b6d1f5e-3f0e-4c53-9a51-5a0f3f2f6c11"),
        ("owner", "u_owner"),
        ("product", "mx_employment"),
        ("platform", "android"),
        ("institutions", "imss_mx_employment,issste_mx_employment"),
        ("access_mode", "recurrent"),
        ("created_at", "1000"),
        ("token_expires_at", "601000"),
        ("deadline", "61000"),
        ("status", "exited"),
        ("updated_at", "2000"),
        ("event_count", "2"),
        (
            "warnings",
            r#"[{"code":"institution_disabled","message":null,"at":1500}]"#,
        ),
        ("replays", "1"),
        ("error_code", "login_error"),
        ("error_message", ""),
        ("exit_step", "abandon-survey"),
        ("seen:abc", "1500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let session = session_from_fields(&stored).unwrap();
    assert_eq!(session.record.access_mode, AccessMode::Recurrent);
    assert_eq!(session.record.institutions.len(), 2);
    assert_eq!(session.stored_status, Status::Exited);
    let error = session.last_error.as_ref().unwrap();
    assert_eq!(
        (error.code.as_str(), error.message.as_deref()),
        ("login_error", None)
    );
    let exit = session.exit.as_ref().unwrap();
    assert_eq!(exit.step.as_deref(), Some("abandon-survey"));
    assert_eq!(exit.institution_name, None);
    assert_eq!((session.event_count, session.replays), (2, 1));
    assert_eq!(session.warnings[0].at, 1500);
    // Read as an HMGET of the named fields answers, the same session.
    let values: Vec<Option<String>> = SESSION_FIELDS
        .iter()
        .map(|f| stored.get(*f).cloned())
        .collect();
    assert_eq!(session_from_values(&values).unwrap(), Some(session.clone()));
    // Read as an HGETALL answers (the hash's own order, a legacy token field and dedupe
    // markers among the fields), the same session; an empty answer is no session.
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = stored
        .iter()
        .map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes()))
        .collect();
    pairs.sort_unstable_by(|a, b| b.cmp(a));
    pairs.insert(1, (b"seen:def".to_vec(), b"1600".to_vec()));
    pairs.insert(3, (LEGACY_TOKEN_FIELD.into(), vec![b't'; 700]));
    assert_eq!(session_from_pairs(pairs).unwrap(), Some(session.clone()));
    assert_eq!(session_from_pairs(Vec::new()).unwrap(), None);
    // And what a new session writes is what the reader reads.
    let written: HashMap<String, String> = new_session_fields(&session.record)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let fresh = session_from_fields(&written).unwrap();
    assert_eq!(fresh.record, session.record);
    // Exactly the fields written since stage 1 that differ from what their absence reads as
    // (`updated_at` equal to `created_at`, `mode` `connect` are left out), with their initial
    // values; never the widget token, which has a key of its own.
    let mut names: Vec<&str> = written.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "access_mode",
            "created_at",
            "deadline",
            "event_count",
            "id",
            "institutions",
            "owner",
            "platform",
            "product",
            "status",
            "token_expires_at",
            "warnings",
        ]
    );
    assert_eq!(written["event_count"], "0");
    assert_eq!(fresh.updated_at, session.record.created_at);
    assert_eq!(fresh.record.mode, SessionMode::Connect);
    assert_eq!(written["status"], "pending");
    assert_eq!(written["warnings"], "[]");
    assert_eq!(written["institutions"], stored["institutions"]);
    // An update-mode session writes its mode; a token given is not a hash field.
    let update = NewSession {
        mode: SessionMode::Update,
        update_link: Some(LinkId::new_random()),
        token: Some(AccessToken("t".repeat(700))),
        ..session.record.clone()
    };
    let written: HashMap<&str, String> = new_session_fields(&update).into_iter().collect();
    assert_eq!(written["mode"], "update");
    assert!(written.contains_key("link_id"));
    assert!(!written.contains_key(LEGACY_TOKEN_FIELD));
    // Every value stays within Redis's default `hash-max-listpack-value` (64 bytes), so the
    // hash is a listpack (with the institutions of this record: a long list is the exception).
    for (field, value) in &written {
        assert!(value.len() <= 64, "{field} is {} bytes", value.len());
    }
}

#[test]
fn a_link_hash_reads_its_resources_and_verification() {
    let stored: HashMap<String, String> = [
        ("session", "0b6d1f5e-3f0e-4c53-9a51-5a0f3f2f6c11"),
        ("owner", "u_owner"),
        ("verified", "1"),
        ("mismatches", "2"),
        ("res:OWNERS", r#"{"status":"ready","total":1}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let link = link_from_fields(&stored);
    assert!(link.session.is_some() && link.owner.is_some());
    assert_eq!((link.verified, link.mismatches), (Some(true), 2));
    assert_eq!(link.resources["OWNERS"].total, Some(1));
}

#[test]
fn an_entry_gets_its_effect_as_its_last_field() {
    let entry = serde_json::json!({"kind": "webhook"});
    assert_eq!(
        entry_with_effect(&entry, "applied").as_deref(),
        Some(r#"{"kind":"webhook","effect":"applied"}"#)
    );
    assert_eq!(entry_with_effect(&serde_json::json!({}), "ignored"), None);
    assert_eq!(entry_with_effect(&serde_json::json!([1]), "ignored"), None);
}
