use std::collections::BTreeMap;

use super::*;
use crate::domain::ids::Platform;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_load_in_embedded_mode_with_dev_secrets() {
    let s = Settings::load_from(&env(&[])).unwrap();
    assert_eq!(s.server.port, 8080);
    assert_eq!(s.belvo.environment, BelvoEnvironment::Embedded);
    assert_eq!(s.products.len(), 4);
    assert_eq!(s.secrets.defaulted.len(), 6);
}

#[test]
fn shortcuts_and_double_underscore_env_override_files() {
    let s = Settings::load_from(&env(&[
        ("PORT", "9000"),
        ("REDIS_URL", "redis://127.0.0.1:7000"),
        ("BFF__STORE__KEY_PREFIX", "acme"),
        ("BFF__PRODUCTS__MX_EMPLOYMENT__STALE_IN", "90d"),
    ]))
    .unwrap();
    assert_eq!(s.server.port, 9000);
    assert_eq!(s.store.redis_url, "redis://127.0.0.1:7000");
    assert_eq!(s.store.key_prefix, "acme");
    let mx = &s.products[&ProductName::parse("mx_employment").unwrap()];
    assert_eq!(mx.stale_in.to_string(), "90d");
}

#[test]
fn outside_embedded_a_missing_secret_is_named() {
    let err = Settings::load_from(&env(&[("BELVO_ENV", "sandbox")])).unwrap_err();
    assert_eq!(err.key, "BELVO_SECRET_ID");
}

#[test]
fn a_resource_outside_its_country_is_a_configuration_error() {
    let err = Settings::load_from(&env(&[(
        "BFF__PRODUCTS__CO_EMPLOYMENT__FETCH_RESOURCES",
        "[\"EMPLOYMENT_RECORDS\", \"OWNERS\"]",
    )]))
    .unwrap_err();
    assert_eq!(err.key, "products.co_employment.fetch_resources");
    assert!(
        err.problem.contains("EMPLOYMENT_RECORDS"),
        "{}",
        err.problem
    );
    let err = Settings::load_from(&env(&[(
        "BFF__PRODUCTS__MX_EMPLOYMENT__FETCH_RESOURCES",
        "[\"BILLS\"]",
    )]))
    .unwrap_err();
    assert_eq!(err.key, "products.mx_employment.fetch_resources");
}

#[test]
fn bad_values_name_their_key() {
    let err = Settings::load_from(&env(&[("BFF__SERVER__PORT", "not-a-port")])).unwrap_err();
    assert_eq!(err.key, "server.port");
    let err = Settings::load_from(&env(&[(
        "BFF__PRODUCTS__MX_EMPLOYMENT__BRANDING__OVERLAY_BACKGROUND_COLOR",
        "red",
    )]))
    .unwrap_err();
    assert!(err.key.starts_with("products.mx_employment"), "{}", err.key);
}

#[test]
fn redacted_output_never_contains_secrets() {
    let s = Settings::load_from(&env(&[("BELVO_SECRET_PASSWORD", "s3cr3t-value")])).unwrap();
    let printed = s.redacted();
    assert!(!printed.contains("s3cr3t-value"));
    assert!(printed.contains("BELVO_SECRET_PASSWORD = \"set\""));
}

#[test]
fn redis_cluster_nodes_come_from_a_list_or_a_comma_separated_variable() {
    let s = Settings::load_from(&env(&[(
        "REDIS_CLUSTER_URLS",
        "redis://10.0.0.1:6379, redis://10.0.0.2:6379,",
    )]))
    .unwrap();
    assert_eq!(
        s.store.cluster_urls,
        ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"]
    );
    assert!(matches!(s.store.backend(), StoreBackend::Cluster(urls) if urls.len() == 2));
    let dir = std::env::temp_dir().join(format!("bff-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cluster.toml");
    std::fs::write(&file, "[store]\ncluster_urls = [\"rediss://a:6380\"]\n").unwrap();
    let s = Settings::load_from(&env(&[("BFF_CONFIG", file.to_str().unwrap())])).unwrap();
    assert_eq!(s.store.cluster_urls, ["rediss://a:6380"]);
    assert_eq!(
        Settings::load_from(&env(&[])).unwrap().store.backend(),
        StoreBackend::Memory
    );
}

#[test]
fn a_cluster_and_a_single_redis_together_or_a_braced_prefix_are_refused() {
    let both = Settings::load_from(&env(&[
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("REDIS_CLUSTER_URLS", "redis://127.0.0.1:7000"),
    ]))
    .unwrap_err();
    assert_eq!(both.key, "store.cluster_urls");
    let not_redis =
        Settings::load_from(&env(&[("REDIS_CLUSTER_URLS", "http://user:pw@a:1")])).unwrap_err();
    assert_eq!(not_redis.key, "store.cluster_urls");
    assert!(!not_redis.problem.contains("pw"), "{}", not_redis.problem);
    let braces = Settings::load_from(&env(&[("BFF__STORE__KEY_PREFIX", "bff{x}")])).unwrap_err();
    assert_eq!(braces.key, "store.key_prefix");
}

#[test]
fn printed_configuration_masks_redis_passwords() {
    let s = Settings::load_from(&env(&[(
        "REDIS_URL",
        "rediss://default:hunter2-redis@cache.example.com:6380",
    )]))
    .unwrap();
    let printed = s.redacted();
    assert!(!printed.contains("hunter2-redis"), "{printed}");
    assert!(printed.contains("rediss://default:***@cache.example.com:6380"));
}

#[test]
fn rs256_and_es256_need_exactly_one_of_a_pem_and_a_jwks_url() {
    let pem = include_str!("../../tests/fixtures/es256-public.pem");
    let jwks = "https://id.acme.example/.well-known/jwks.json";
    let load = |pairs: &[(&str, &str)]| {
        let mut all = vec![("BFF__APP_JWT__ALGORITHM", "ES256")];
        all.extend_from_slice(pairs);
        Settings::load_from(&env(&all))
    };
    let err = load(&[]).unwrap_err();
    assert_eq!(err.key, "app_jwt.public_key_pem");
    assert!(err.problem.contains("jwks_url"), "{}", err.problem);
    let err = load(&[
        ("BFF__APP_JWT__PUBLIC_KEY_PEM", pem),
        ("BFF__APP_JWT__JWKS_URL", jwks),
    ])
    .unwrap_err();
    assert_eq!(err.key, "app_jwt.jwks_url");
    assert!(err.problem.contains("public_key_pem"), "{}", err.problem);
    for bad in [
        "not a url",
        "ftp://id.acme.example/jwks.json",
        "file:///etc/jwks.json",
    ] {
        let err = load(&[("BFF__APP_JWT__JWKS_URL", bad)]).unwrap_err();
        assert_eq!(err.key, "app_jwt.jwks_url", "{bad}");
    }
    let s = load(&[("BFF__APP_JWT__JWKS_URL", jwks)]).unwrap();
    assert_eq!(s.app_jwt.jwks_url.as_ref().map(Url::as_str), Some(jwks));
    assert!(load(&[("BFF__APP_JWT__PUBLIC_KEY_PEM", pem)]).is_ok());
    let s = Settings::load_from(&env(&[
        ("BFF__APP_JWT__ALGORITHM", "RS256"),
        ("BFF__APP_JWT__JWKS_URL", "http://127.0.0.1:9999/jwks"),
    ]))
    .unwrap();
    assert_eq!(s.app_jwt.algorithm, JwtAlgorithm::RS256);
    // HS256 has no use for a JWKS: setting one is a mistake, not silently ignored.
    let err = Settings::load_from(&env(&[("BFF__APP_JWT__JWKS_URL", jwks)])).unwrap_err();
    assert_eq!(err.key, "app_jwt.jwks_url");
}

#[test]
fn product_values_that_do_not_parse_name_their_key() {
    let product = "BFF__PRODUCTS__BR_OFDA__";
    for (field, bad, named) in [
        (
            "SCOPES",
            "read_institutions,write_everything",
            "write_everything",
        ),
        ("STALE_IN", "a year", "365d"),
        ("CREDENTIALS_STORAGE", "forever", "nostore"),
        (
            "INSTITUTIONS",
            "[\"ofbradesco_br_retail\", \"bad code\"]",
            "bad code",
        ),
        (
            "OPEN_FINANCE__PERMISSIONS",
            "[\"REGISTER\", \"EVERYTHING\"]",
            "EVERYTHING",
        ),
        ("OPEN_FINANCE__PURPOSE", "", "600"),
    ] {
        let var = format!("{product}{field}");
        let err = Settings::load_from(&env(&[(var.as_str(), bad)])).unwrap_err();
        let key = format!(
            "products.br_ofda.{}",
            field.to_lowercase().replace("__", ".")
        );
        assert_eq!(err.key, key, "{var}: {err}");
        assert!(err.problem.contains(named), "{var}: {}", err.problem);
    }
}

#[test]
fn urls_parse_at_load_and_an_empty_one_means_none() {
    let s = Settings::load_from(&env(&[
        ("PUBLIC_BASE_URL", ""),
        ("BFF__BELVO__BASE_URL", ""),
        ("BFF__EMULATOR__WEBHOOK_URL", " "),
    ]))
    .unwrap();
    assert_eq!(s.server.public_base_url, None);
    assert_eq!(s.belvo_base_url(), None, "embedded: set at start-up");
    assert_eq!(s.emulator.webhook_url, None);
    let s = Settings::load_from(&env(&[("PUBLIC_BASE_URL", "https://bff.example.com/x")])).unwrap();
    assert_eq!(
        s.server.public_base_url.as_ref().map(Url::as_str),
        Some("https://bff.example.com/x")
    );
    for (var, key) in [
        ("PUBLIC_BASE_URL", "server.public_base_url"),
        ("BFF__BELVO__BASE_URL", "belvo.base_url"),
        ("BFF__BELVO__WIDGET_URL", "belvo.widget_url"),
        ("BFF__EMULATOR__WEBHOOK_URL", "emulator.webhook_url"),
    ] {
        let err = Settings::load_from(&env(&[(var, "not a url")])).unwrap_err();
        assert_eq!(err.key, key, "{err}");
        assert!(err.problem.contains("is not a URL"), "{}", err.problem);
    }
}

#[test]
fn deeplink_bases_are_keyed_by_platform_and_checked_at_load() {
    let s = Settings::load_from(&env(&[(
        "BFF__APP__DEEPLINK_BASE__WEB",
        "https://app.example.com",
    )]))
    .unwrap();
    assert_eq!(
        s.app.deeplink_base[&Platform::Web].as_str(),
        "https://app.example.com"
    );
    let err =
        Settings::load_from(&env(&[("BFF__APP__DEEPLINK_BASE__IOS", "acme://x?y=1")])).unwrap_err();
    assert_eq!(err.key, "app.deeplink_base.ios", "{err}");
    let err =
        Settings::load_from(&env(&[("BFF__APP__DEEPLINK_BASE__WATCHOS", "acme://")])).unwrap_err();
    assert!(err.key.starts_with("app.deeplink_base"), "{err}");
    assert!(err.problem.contains("watchos"), "{}", err.problem);
}

#[test]
fn links_are_kept_at_least_as_long_as_sessions() {
    let s = Settings::load_from(&env(&[])).unwrap();
    assert_eq!(s.sessions.retention, Duration::from_secs(7 * 86400));
    assert_eq!(s.links.retention, Duration::from_secs(400 * 86400));
    let err = Settings::load_from(&env(&[
        ("BFF__SESSIONS__RETENTION", "30d"),
        ("BFF__LINKS__RETENTION", "7d"),
    ]))
    .unwrap_err();
    assert_eq!(err.key, "links.retention");
    let err = Settings::load_from(&env(&[("BFF__SESSIONS__RETENTION", "10s")])).unwrap_err();
    assert_eq!(err.key, "sessions.retention");
}
