//! `/support/funnel` (SPEC §14): the funnel after a scripted mix of outcomes, counted once per
//! session however often a callback is replayed, down to the links verified and ready; its CSV;
//! its date errors; its metric.

use crate::console_helpers::{scripted_mix, spawn_with_product, SUPPORT};

fn csv_value<'a>(csv: &'a str, section: &str, name: &str) -> Option<&'a str> {
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|cells| cells[0] == section && cells[1] == name)
        .map(|cells| cells[2])
}

#[tokio::test]
async fn the_funnel_counts_each_session_once_and_downloads_as_csv() {
    let app = spawn_with_product("mx_funnel_page").await;
    scripted_mix(&app, "mx_funnel_page").await;
    let staff = app.signed_in(SUPPORT).await;
    let (status, csv) = app
        .page(
            &staff,
            "/support/funnel?product=mx_funnel_page&platform=ios&format=csv",
        )
        .await;
    assert_eq!(status, 200, "{csv}");
    assert!(csv.starts_with("section,name,count,percent\n"), "{csv}");
    let step = |name| csv_value(&csv, "step", name);
    assert_eq!(step("created"), Some("5"), "{csv}");
    assert_eq!(step("opened"), Some("4"), "{csv}");
    assert_eq!(step("success"), Some("2"), "{csv}");
    assert_eq!(step("link_verified"), Some("2"), "{csv}");
    assert_eq!(step("resources_ready"), Some("2"), "{csv}");
    let steps: Vec<&str> = csv
        .lines()
        .filter_map(|l| l.strip_prefix("step,"))
        .map(|rest| rest.split(',').next().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "created",
            "opened",
            "success",
            "link_verified",
            "resources_ready"
        ],
        "funnel order: {csv}"
    );
    assert!(csv.contains("step,resources_ready,2,40.0\n"), "{csv}");
    let left = |name| csv_value(&csv, "left", name);
    assert_eq!(left("exit_institution"), Some("1"), "{csv}");
    assert_eq!(left("exit_first_screen"), Some("1"), "{csv}");
    assert_eq!(left("error:login_error"), Some("1"), "{csv}");
    // Known institutions by name (the sandbox's too).
    assert_eq!(
        csv_value(&csv, "institution_success", "planet_mx_employment"),
        Some("1")
    );
    assert!(csv_value(&csv, "seconds_to_success", "p50").is_some_and(|v| !v.is_empty()));

    // Another platform or product has none of them.
    let (_, android) = app
        .page(
            &staff,
            "/support/funnel?product=mx_funnel_page&platform=android&format=csv",
        )
        .await;
    assert_eq!(
        csv_value(&android, "step", "created"),
        Some("0"),
        "{android}"
    );

    let (status, html) = app
        .page(
            &staff,
            "/support/funnel?product=mx_funnel_page&platform=ios",
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg id=\"funnel-chart\""), "{html}");
    assert!(html.contains("data-step=\"error:login_error\""), "{html}");
    assert!(html.contains("<g data-step=\"resources_ready\">"), "{html}");
    assert!(html.contains("Every resource ready"), "{html}");
    assert!(!html.contains("<script"), "no script: {html}");
}

#[tokio::test]
async fn reversed_or_too_long_ranges_are_refused_with_a_clear_message() {
    let app = spawn_with_product("mx_funnel_dates").await;
    let staff = app.signed_in(SUPPORT).await;
    let (status, html) = app
        .page(&staff, "/support/funnel?from=2026-03-10&to=2026-03-01")
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("is after"), "{html}");
    let (status, html) = app
        .page(&staff, "/support/funnel?from=2026-01-01&to=2026-04-30")
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("at most 90 days"), "{html}");
    let (status, text) = app
        .page(
            &staff,
            "/support/funnel?from=2026-01-01&to=2026-04-30&format=csv",
        )
        .await;
    assert_eq!(status, 400);
    assert!(text.contains("at most 90 days"), "{text}");
    let (status, html) = app.page(&staff, "/support/funnel?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(html.contains("YYYY-MM-DD"), "{html}");
    let (status, _) = app.page(&staff, "/support/funnel?platform=desktop").await;
    assert_eq!(status, 400);
    // Staff only.
    let anonymous = app
        .client
        .get(app.url("/support/funnel"))
        .send()
        .await
        .unwrap();
    assert_ne!(anonymous.status(), 200);
}

#[tokio::test]
async fn funnel_steps_are_exported_with_closed_labels() {
    let app = spawn_with_product("mx_funnel_metric").await;
    scripted_mix(&app, "mx_funnel_metric").await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = [
        ("created", 5),
        ("opened", 4),
        ("success", 2),
        ("link_verified", 2),
        ("resources_ready", 2),
        ("error", 1),
        ("exit_institution", 1),
        ("exit_first_screen", 1),
    ];
    for (step, count) in expected {
        let series = format!(
            "bff_funnel_steps_total{{product=\"mx_funnel_metric\",platform=\"ios\",step=\"{step}\"}} {count}\n"
        );
        assert!(metrics.contains(&series), "{series} missing");
    }
    assert!(!metrics.contains("step=\"error:"), "codes are not labels");
}
