//! Universal links and app links: the `.well-known` files iOS and Android fetch before they let
//! the configured apps open callback URLs themselves.

use belvo_bff::config::app_links::{AndroidPackage, AppleAppId, CertFingerprint};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, StoreKind, TestApp};

const FINGERPRINT: &str = "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

async fn configured_app() -> TestApp {
    spawn_app_with(StoreKind::Memory, |settings| {
        settings.server.public_base_url = Some("https://bff.example.com".parse().unwrap());
        settings.app.ios.app_ids = vec![
            AppleAppId::try_from("ABCDE12345.com.example.app".to_owned()).unwrap(),
            AppleAppId::try_from("ABCDE12345.com.example.app.beta".to_owned()).unwrap(),
        ];
        settings.app.android.package_name =
            Some(AndroidPackage::try_from("com.example.app".to_owned()).unwrap());
        settings.app.android.sha256_cert_fingerprints =
            vec![CertFingerprint::try_from(FINGERPRINT.to_owned()).unwrap()];
    })
    .await
}

async fn get_json(app: &TestApp, path: &str) -> (u16, String, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.json().await.unwrap())
}

#[tokio::test]
async fn apple_app_site_association_lets_the_ios_apps_open_callbacks() {
    let app = configured_app().await;

    let (status, content_type, body) =
        get_json(&app, "/.well-known/apple-app-site-association").await;

    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        body,
        json!({"applinks": {"details": [{
            "appIDs": ["ABCDE12345.com.example.app", "ABCDE12345.com.example.app.beta"],
            "components": [{"/": "/callbacks/*", "comment": "Belvo widget callbacks"}],
        }]}})
    );
}

#[tokio::test]
async fn assetlinks_lets_the_android_app_open_callbacks() {
    let app = configured_app().await;

    let (status, content_type, body) = get_json(&app, "/.well-known/assetlinks.json").await;

    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        body,
        json!([{
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": "com.example.app",
                "sha256_cert_fingerprints": [FINGERPRINT],
            }
        }])
    );
}

#[tokio::test]
async fn a_public_base_path_narrows_the_claimed_paths() {
    let app = spawn_app_with(StoreKind::Memory, |settings| {
        settings.server.public_base_url = Some("https://example.com/bff/".parse().unwrap());
        settings.app.ios.app_ids =
            vec![AppleAppId::try_from("ABCDE12345.com.example.app".to_owned()).unwrap()];
    })
    .await;

    let (_, _, body) = get_json(&app, "/.well-known/apple-app-site-association").await;

    assert_eq!(
        body["applinks"]["details"][0]["components"][0]["/"],
        "/bff/callbacks/*"
    );
}

#[tokio::test]
async fn without_configured_apps_both_files_are_json_404s() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;

    for path in [
        "/.well-known/apple-app-site-association",
        "/.well-known/assetlinks.json",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("configured"),
            "{body}"
        );
        assert_eq!(body["error"]["request_id"], request_id.as_str());
    }
}

#[test]
fn configuration_rejects_malformed_app_ids_and_fingerprints() {
    use std::collections::BTreeMap;
    let load = |toml: &str| {
        let dir = std::env::temp_dir().join(format!("bff-well-known-{}", uuid::Uuid::new_v4()));
        std::fs::write(&dir, toml).unwrap();
        let env = BTreeMap::from([("BFF_CONFIG".to_owned(), dir.display().to_string())]);
        let result = belvo_bff::config::Settings::load_from(&env);
        std::fs::remove_file(&dir).unwrap();
        result
    };

    let error = load("[app.ios]\napp_ids = [\"com.example.app\"]\n").unwrap_err();
    assert_eq!(error.key, "app.ios.app_ids.0", "{error}");

    let error = load(
        "[app.android]\npackage_name = \"com.example.app\"\n\
         sha256_cert_fingerprints = [\"AB:CD\"]\n",
    )
    .unwrap_err();
    assert!(
        error
            .key
            .starts_with("app.android.sha256_cert_fingerprints"),
        "{error}"
    );

    let error = load("[app.android]\npackage_name = \"com.example.app\"\n").unwrap_err();
    assert_eq!(error.key, "app.android.sha256_cert_fingerprints", "{error}");

    let loaded = load(&format!(
        "[app.android]\npackage_name = \"com.example.app\"\nsha256_cert_fingerprints = [\"{}\"]\n",
        FINGERPRINT.to_ascii_lowercase()
    ))
    .unwrap();
    assert_eq!(
        loaded.app.android.sha256_cert_fingerprints[0].as_str(),
        FINGERPRINT
    );
}
