//! Property tests on every parser of outside input: never a panic, and for the HTTP edge never a
//! 500. Case counts are bounded so the suite stays fast (PROPTEST_CASES raises them).

use belvo_bff::domain::branding::{Branding, HexColor, HttpsUrl};
use belvo_bff::domain::callback::{CallbackEvent, CallbackKind};
use belvo_bff::domain::ids::{Code, LinkId, Message, SessionId};
use belvo_bff::domain::tax_id::{Cedula, Cnpj, Cpf, Curp};
use belvo_bff::domain::webhook::WebhookPayload;
use proptest::prelude::*;

const KINDS: [CallbackKind; 5] = [
    CallbackKind::Success,
    CallbackKind::Exit,
    CallbackKind::Event,
    CallbackKind::Error,
    CallbackKind::Warning,
];

fn callback_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("link".to_owned()),
        Just("institution".to_owned()),
        Just("error".to_owned()),
        Just("error_message".to_owned()),
        Just("warning".to_owned()),
        Just("warning_message".to_owned()),
        Just("last_encountered_error_code".to_owned()),
        Just("last_encountered_error_message".to_owned()),
        Just("meta_data_institution_name".to_owned()),
        Just("meta_data_step".to_owned()),
        ".{0,12}",
    ]
}

/// Text that sometimes looks like an identifier: arbitrary, near-miss digits and codes, ids,
/// URLs, colors, and messages with bidirectional controls.
fn identifier_input() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        "[0-9. -]{5,20}",
        "[A-Za-z0-9_-]{0,70}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "https?://[a-z0-9.:\\[\\]]{1,20}/[a-z]{0,5}",
        "#[0-9a-fA-FgG]{3,7}",
        "[a-z \u{202A}-\u{202E}\u{2066}-\u{2069}]{0,30}",
        "[A-Z]{4}[0-9]{6}[HM][A-Z]{5}[0-9A-Z][0-9]",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn callback_queries_never_panic(kind in 0usize..5, pairs in prop::collection::vec((callback_key(), ".{0,80}"), 0..8)) {
        if let Ok(event) = CallbackEvent::parse(KINDS[kind], &pairs) {
            // Whatever parses can be recorded: it serialises and has a fingerprint.
            prop_assert_eq!(event.fingerprint().len(), 32);
        }
    }

    #[test]
    fn raw_query_strings_never_panic(raw in ".{0,300}") {
        if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(&raw) {
            for kind in KINDS {
                let _ = CallbackEvent::parse(kind, &pairs);
            }
        }
    }

    /// Whatever an identifier parser accepts has the shape its type promises, and round-trips.
    #[test]
    fn identifiers_parse_only_into_their_promised_shape(raw in identifier_input()) {
        let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
            n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        if let Ok(id) = SessionId::parse(&raw) {
            prop_assert_eq!(SessionId::parse(&id.to_string()).ok(), Some(id));
            prop_assert_eq!(id.to_string().len(), 36);
        }
        if let Ok(id) = LinkId::parse(&raw) {
            prop_assert_eq!(LinkId::parse(&id.to_string()).ok(), Some(id));
        }
        if let Ok(code) = Code::parse(&raw) {
            prop_assert_eq!(code.as_str(), raw.as_str());
            prop_assert!((1..=64).contains(&raw.len()));
            prop_assert!(raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        }
        if let Ok(message) = Message::parse(&raw) {
            let text = message.as_str();
            prop_assert!(text.len() <= 1024 && !text.chars().any(char::is_control));
            prop_assert!(
                !text.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
                "bidi controls removed: {:?}", text
            );
        }
        if let Some(curp) = Curp::parse(&raw) {
            let c = curp.as_str();
            prop_assert!(c.len() == 18 && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        }
        if let Some(cpf) = Cpf::parse(&raw) {
            prop_assert!(digits(cpf.as_str(), 11..=11));
        }
        if let Some(cnpj) = Cnpj::parse(&raw) {
            prop_assert!(digits(cnpj.as_str(), 14..=14));
        }
        if let Some(cedula) = Cedula::parse(&raw) {
            prop_assert!(digits(cedula.as_str(), 6..=10));
        }
        if let Ok(url) = HttpsUrl::parse(&raw) {
            prop_assert!(url.as_str().starts_with("https://"), "{}", url.as_str());
        }
        if let Ok(color) = HexColor::parse(&raw) {
            let c = String::from(color);
            prop_assert!(c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn codes_accept_exactly_belvos_charset(raw in "[A-Za-z0-9_-]{1,64}") {
        prop_assert!(Code::parse(&raw).is_ok());
    }

    #[test]
    fn webhook_bodies_never_panic(raw in ".{0,400}") {
        if let Ok(payload) = serde_json::from_str::<WebhookPayload>(&raw) {
            let _ = payload.into_update(0);
        }
    }

    #[test]
    fn webhook_json_with_wrong_types_never_panics(
        id in prop_oneof![Just(serde_json::json!("w1")), Just(serde_json::json!(1)), Just(serde_json::json!(null)), Just(serde_json::json!("a b"))],
        link in prop_oneof![Just(serde_json::json!("2f5d361d-dad6-45d4-a0bf-26d479766067")), Just(serde_json::json!("x")), Just(serde_json::json!([]))],
        total in prop_oneof![Just(serde_json::json!(1)), Just(serde_json::json!(-1)), Just(serde_json::json!("7")), Just(serde_json::json!(1.5)), Just(serde_json::json!(u64::MAX))],
        external in prop_oneof![Just(serde_json::json!("u_x")), Just(serde_json::json!("")), Just(serde_json::json!("no spaces")), Just(serde_json::json!(null))],
    ) {
        let body = serde_json::json!({"webhook_id": id, "webhook_type": "OWNERS", "webhook_code": "historical_update",
            "link_id": link, "external_id": external, "data": {"total_owners": total}});
        if let Ok(payload) = serde_json::from_value::<WebhookPayload>(body) {
            let _ = payload.into_update(0);
        }
    }

    #[test]
    fn branding_json_never_panics(raw in ".{0,300}") {
        if let Ok(b) = serde_json::from_str::<Branding>(&raw) {
            let _ = b.validate();
        }
    }

    #[test]
    fn valid_cpfs_survive_formatting(base in prop::collection::vec(0u32..10, 9)) {
        let check = |ds: &[u32], start: u32| {
            let sum: u32 = ds.iter().zip((2..=start).rev()).map(|(d, w)| d * w).sum();
            let r = sum % 11;
            if r < 2 { 0 } else { 11 - r }
        };
        let mut ds = base.clone();
        ds.push(check(&ds, 10));
        ds.push(check(&ds, 11));
        let plain: String = ds.iter().map(|d| d.to_string()).collect();
        prop_assume!(!ds.iter().all(|d| *d == ds[0]));
        let formatted = format!("{}.{}.{}-{}", &plain[..3], &plain[3..6], &plain[6..9], &plain[9..]);
        prop_assert_eq!(Cpf::parse(&plain).map(|c| c.as_str().to_owned()), Some(plain.clone()));
        prop_assert_eq!(Cpf::parse(&formatted).map(|c| c.as_str().to_owned()), Some(plain));
    }
}

mod jwt {
    use std::collections::BTreeMap;

    use belvo_bff::auth::AppJwtVerifier;
    use belvo_bff::config::Settings;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bearer_tokens_never_panic_and_never_pass(raw in "[A-Za-z0-9_.=-]{0,300}") {
            let settings = Settings::load_from(&BTreeMap::new()).unwrap();
            let verifier = AppJwtVerifier::from_settings(&settings).unwrap();
            prop_assert!(verifier.verify(&raw).is_err());
        }
    }
}
