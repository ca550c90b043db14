//! A flood of concurrent wrong-password sign-ins for one account: the attempts past the limit
//! are refused before any password is checked, so the process runs no more argon2 checks than
//! the limit allows (counted by the process's own metric), and stays responsive.

use futures_util::future::join_all;

use crate::bff::Bff;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn two_hundred_concurrent_wrong_passwords_run_at_most_the_allowed_checks() {
    let dir = std::env::temp_dir().join(format!("bff-flood-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("staff.toml");
    let hash = belvo_bff::password::hash(PASSWORD).unwrap();
    std::fs::write(
        &config,
        format!(
            "[staff]\nmax_failures_per_account = 5\nmax_failures_per_ip = 20\n\
             [staff.accounts.adam]\npassword_hash = \"{hash}\"\nrole = \"admin\"\n"
        ),
    )
    .unwrap();
    let bff = Bff::start(&[("BFF_CONFIG", config.to_str().unwrap())]).await;

    // One sign-in form (its csrf cookie and field), posted 200 times at once.
    let page = bff
        .client
        .get(bff.url("/support/login"))
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..][..html[start..].find('"').unwrap()].to_owned();

    let attempts = (0..200).map(|i| {
        bff.client
            .post(bff.url("/support/login"))
            .header("cookie", &cookie)
            .form(&[
                ("username", "adam"),
                ("password", &format!("wrong guess {i}")),
                ("csrf", &csrf),
            ])
            .send()
    });
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let refused_at_once = statuses.iter().filter(|&&s| s == 429).count();
    let wrong = statuses.iter().filter(|&&s| s == 401).count();
    assert_eq!(refused_at_once + wrong, 200, "{statuses:?}");
    assert!((1..=5).contains(&wrong), "{wrong} checked and refused");

    let checks = bff.metric("bff_staff_password_checks_total").await;
    assert!(
        (1..=5).contains(&checks),
        "{checks} password checks for 200 attempts at an account allowed 5 failures"
    );
    let health = bff.client.get(bff.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}
