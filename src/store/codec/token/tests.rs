use super::*;

/// The access token Belvo's Brazil OFDA widget guide shows (760 bytes).
const BELVO_DOCS_TOKEN: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzEyNTcxODkyLCJpYXQiOjE3MTI1NzA2OTIsImp0aSI6ImFiNjRmYjkyZmY1ZjQ0MTU4N2IwM2Y2MDJhMzhhMjNhIiwidXNlcl9pZCI6IjZlOWJlODg0LTQ3ODEtNDE0My1iNjczLWFjYTAyNDc1ZWU4YyIsIm9yZ2FuaXphdGlvbl9uYW1lIjoiRG9taW5payBDaG9sZXdza2kncyB0ZWFtIiwib3JnYW5pemF0aW9uX2lkIjoiNmU5YmU4ODQtNDc4MS00MTQzLWI2NzMtYWNhMDI0NzVlZThjIiwic2NvcGVzIjpbInJlYWRfaW5zdGl0dXRpb25zIiwid3JpdGVfbGlua3MiXSwiZW52aXJvbm1lbnQiOiJzYW5kYm94IiwiYXBpX3VybCI6InNhbmRib3guYmVsdm8uY29tIiwiY3JlZGVudGlhbHNfc3RvcmFnZSI6IjMwZCIsInN0YWxlX2luIjoiMzY1ZCIsImZldGNoX3Jlc291cmNlcyI6WyJBQ0NPVU5UUyIsIlRSQU5TQUNUSU9OUyIsIk9XTkVSUyJdLCJpc3MiOiJzYW5kYm94LmJlbHZvLmNvbSJ9.2Irt1KCEKo6V17Y-N3zWeX3AchEvCrUWa_AlWoZ2gIIBhHvghHGkXtupOOrXKVqW9kTCOBE77-1riyyblUo4fw";

fn emulator_like_token(organization: &str, resources: &[&str]) -> String {
    let claims = serde_json::json!({
        "token_type": "access",
        "exp": 1_796_000_600,
        "iat": 1_796_000_000,
        "jti": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "user_id": "6e9be884-4781-4143-b673-aca02475ee8c",
        "organization_name": organization,
        "organization_id": "0b4c9a1e-77d2-4b8e-9a55-3f1e2d3c4b5a",
        "scopes": ["read_institutions", "write_links"],
        "environment": "production",
        "api_url": "api.belvo.com",
        "credentials_storage": "30d",
        "stale_in": "365d",
        "fetch_resources": resources,
        "iss": "api.belvo.com",
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"a secret"),
    )
    .unwrap()
}

#[test]
fn a_belvo_token_is_kept_in_under_a_third_of_its_text_and_reads_back_exactly() {
    let stored = encode_widget_token(BELVO_DOCS_TOKEN);
    assert_eq!(stored[0], COMPACT_V1);
    assert!(stored.len() < 256, "{} bytes", stored.len());
    assert_eq!(decode_widget_token(&stored).unwrap(), BELVO_DOCS_TOKEN);

    for token in [
        emulator_like_token(
            "Acme Lending S.A. de C.V.",
            &["EMPLOYMENT_RECORDS", "OWNERS"],
        ),
        emulator_like_token(
            "Financeira Ação Ltda",
            &["ACCOUNTS", "TRANSACTIONS", "OWNERS"],
        ),
        emulator_like_token("x", &[]),
    ] {
        let stored = encode_widget_token(&token);
        assert_eq!(stored[0], COMPACT_V1);
        assert!(
            stored.len() * 2 < token.len(),
            "{} bytes for {}",
            stored.len(),
            token.len()
        );
        assert_eq!(decode_widget_token(&stored).unwrap(), token);
    }
}

#[test]
fn what_the_version_before_stored_reads_as_it_is() {
    // The token key and the session hash's `token` field held the token's text.
    assert_eq!(
        decode_widget_token(BELVO_DOCS_TOKEN.as_bytes()).unwrap(),
        BELVO_DOCS_TOKEN
    );
    assert_eq!(
        decode_widget_token(b"token-from-before").unwrap(),
        "token-from-before"
    );
}

#[test]
fn a_token_that_would_not_read_back_exactly_is_kept_as_its_text() {
    let (header, rest) = BELVO_DOCS_TOKEN.split_once('.').unwrap();
    let (claims, signature) = rest.split_once('.').unwrap();
    // The signature's last character carries 6 bits of which its 64 bytes use 2: one of `A`,
    // `Q`, `g`, `w` (the 4 others zero). The character after it sets a stray bit, which a
    // lenient decoder would drop: not a token that reads back exactly.
    let (kept, last) = signature.split_at(signature.len() - 1);
    let stray = match last {
        "A" => "B",
        "Q" => "R",
        "g" => "h",
        "w" => "x",
        other => panic!("not a 64-byte signature's last character: {other}"),
    };
    let stray_bits = format!("{header}.{claims}.{kept}{stray}");
    for token in [
        "renewed-token".to_owned(),
        "a.b".to_owned(),
        format!("{BELVO_DOCS_TOKEN}.{header}"),
        format!("{header}.{claims}={signature}"),
        format!("{header}.{claims}.{signature}="),
        format!("{header}.{claims}.{signature}\n"),
        stray_bits,
        String::new(),
        "..".to_owned(),
    ] {
        let stored = encode_widget_token(&token);
        if token != ".." {
            assert_eq!(stored, token.as_bytes(), "{token:?}");
        }
        assert_eq!(decode_widget_token(&stored).unwrap(), token);
    }
}

#[test]
fn a_token_starting_with_a_marker_byte_is_kept_after_the_verbatim_marker() {
    for token in ["\u{0}abc", "\u{1}abc", "\u{1}", "\u{0}"] {
        let stored = encode_widget_token(token);
        assert_eq!(stored[0], VERBATIM);
        assert_eq!(&stored[1..], token.as_bytes());
        assert_eq!(decode_widget_token(&stored).unwrap(), token);
    }
}

#[test]
fn a_malformed_stored_value_is_an_error_not_a_token() {
    assert!(decode_widget_token(&[COMPACT_V1]).is_err());
    assert!(decode_widget_token(&[COMPACT_V1, 1, 2, 3]).is_err());
    assert!(decode_widget_token(&[VERBATIM, 0xff]).is_err());
    assert!(decode_widget_token(&[0xc3]).is_err());
    // A valid frame whose parts are cut short.
    let frame = zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY_V1)
        .unwrap()
        .compress(&[40, b'{'])
        .unwrap();
    assert!(decode_widget_token(&[&[COMPACT_V1], &frame[4..]].concat()).is_err());
}

/// [`BELVO_DOCS_TOKEN`] as this version stores it. Stored values outlive the code that wrote
/// them: however zstd's output changes, these bytes must read back as the token (the dictionary
/// and the layout are the format, never changed).
const BELVO_DOCS_TOKEN_STORED_V1: &[&str] = &[
    "01603b019d0600940a1b01dd3132353731383932303661623634666239326666356634343135383762303366",
    "3630326133386132336136653962653838342d343738312d343134332d623637332d61636130323437356565",
    "3863446f6d696e696b2043686f6c6577736b692773207465616dd88aedd4a0842a8e95d7b63e377cd6797dc0",
    "72112f0ab5166bf0255a8676808201847be08471a45edba938ead7295a96f644c238113befed6b8b2c9b954a",
    "387f0d00fe6b8181858450fe52608d1250bddf60efd604997b286f8d05813421c451c1d3a8c1b390b201",
];

#[test]
fn a_token_stored_by_this_version_reads_back_the_same_in_later_ones() {
    let stored = data_encoding::HEXLOWER
        .decode(BELVO_DOCS_TOKEN_STORED_V1.concat().as_bytes())
        .unwrap();
    assert_eq!(stored[0], COMPACT_V1);
    assert_eq!(decode_widget_token(&stored).unwrap(), BELVO_DOCS_TOKEN);
}
