//! `/support/funnel?product=&platform=&mode=&from=&to=` (SPEC §14): the conversion funnel of the
//! hosted widget over a range of days, as a server-rendered SVG chart (no script), conversion per
//! step, where users leave (with the explanation of each error code) and the time from opening
//! to success; `?format=csv` downloads the same numbers.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::{audit, Staff};
use crate::domain::explanation::{explain, Explanation};
use crate::domain::funnel::{Day, DayRange, Filter, Report};
use crate::domain::ids::Platform;
use crate::domain::session::{now_millis, SessionMode};
use crate::routes::console::{self, Nav, PageError};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct FunnelQuery {
    product: Option<String>,
    platform: Option<String>,
    mode: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// Chart geometry (px): the label column (wide enough for "Every resource ready"), the longest
/// bar, one row.
const LABEL_WIDTH: u32 = 180;
const BAR_MAX: u32 = 420;
const ROW: u32 = 44;

struct Bar {
    label: &'static str,
    step: &'static str,
    count: u64,
    y: u32,
    width: u32,
    text_x: u32,
    of_created: String,
    of_previous: String,
}

struct Leave {
    step: String,
    count: u64,
    of_created: String,
    explanation: Option<Explanation>,
}

#[derive(Template)]
#[template(path = "support/funnel.html")]
struct FunnelPage {
    nav: Option<Nav>,
    products: Vec<(String, bool)>,
    platforms: Vec<(&'static str, bool)>,
    modes: Vec<(&'static str, bool)>,
    from: String,
    to: String,
    bars: Vec<Bar>,
    chart_height: u32,
    chart_width: u32,
    label_width: u32,
    leaves: Vec<Leave>,
    institutions: Vec<(String, u64, u64)>,
    p50: String,
    p90: String,
    timed: u64,
    csv: String,
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<FunnelQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let csv = query.format.as_deref() == Some("csv");
    let (filter, range) = match parse(&state, &query) {
        Ok(parsed) => parsed,
        // The download gets its error as text, the page as the console's error page.
        Err(message) if csv => return Ok(HttpResponse::BadRequest().body(message)),
        Err(message) => return Err(PageError::BadRequest(message)),
    };
    let days: Vec<Day> = range.days().collect();
    let counts = state.store.funnel_counts(&days).await?;
    let report = Report::build(counts.iter().map(|(f, n)| (f.as_str(), *n)), &filter);
    let target = format!("{}..{}", range.from, range.to);
    audit::record(&state, Some(&staff), "view_funnel", &target, "ok").await;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"funnel-{}-{}.csv\"",
                    range.from, range.to
                ),
            ))
            .body(to_csv(&report)));
    }
    let lang = crate::routes::request_lang(&req);
    let page = view(
        &state,
        &staff,
        &filter,
        range,
        &report,
        lang,
        req.query_string(),
    );
    Ok(console::page(StatusCode::OK, &page))
}

/// The filters and range asked for, or what to change.
fn parse(state: &AppState, q: &FunnelQuery) -> Result<(Filter, DayRange), String> {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let product = given(&q.product);
    if let Some(p) = &product {
        crate::products::require(&state.settings.products, p).map_err(|e| e.to_string())?;
    }
    let platform = given(&q.platform);
    if platform
        .as_ref()
        .is_some_and(|p| p.parse::<Platform>().is_err())
    {
        return Err("platform must be one of: ios, android, web".to_owned());
    }
    let mode = given(&q.mode);
    if mode
        .as_ref()
        .is_some_and(|m| m.parse::<SessionMode>().is_err())
    {
        return Err("mode must be one of: connect, update".to_owned());
    }
    let today = Day::of_millis(now_millis());
    let range =
        DayRange::parse(q.from.as_deref(), q.to.as_deref(), today).map_err(|e| e.to_string())?;
    Ok((
        Filter {
            product,
            platform,
            mode,
        },
        range,
    ))
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn seconds(bound: Option<u32>) -> String {
    match bound {
        None => "–".to_owned(),
        Some(u32::MAX) => "over 4096 s".to_owned(),
        Some(s) => format!("≤ {s} s"),
    }
}

fn view(
    state: &AppState,
    staff: &Staff,
    filter: &Filter,
    range: DayRange,
    report: &Report,
    lang: crate::domain::explanation::Lang,
    query: &str,
) -> FunnelPage {
    let created = report.count("created");
    let widest = report.steps.iter().map(|s| s.2).max().unwrap_or(0).max(1);
    let mut previous = None;
    let bars = report
        .steps
        .iter()
        .enumerate()
        .map(|(i, (step, label, count))| {
            let width = (*count as f64 / widest as f64 * f64::from(BAR_MAX)).round() as u32;
            let bar = Bar {
                label,
                step,
                count: *count,
                y: i as u32 * ROW + 8,
                width,
                text_x: LABEL_WIDTH + width + 8,
                of_created: percent(*count, created),
                of_previous: previous.map_or("–".to_owned(), |p| percent(*count, p)),
            };
            previous = Some(*count);
            bar
        })
        .collect::<Vec<_>>();
    let leaves = report
        .leaves
        .iter()
        .map(|(step, count)| Leave {
            step: step.clone(),
            count: *count,
            of_created: percent(*count, created),
            explanation: step.strip_prefix("error:").map(|code| explain(code, lang)),
        })
        .collect();
    let chosen = |want: &Option<String>, value: &str| want.as_deref() == Some(value);
    FunnelPage {
        nav: Nav::of(staff, "funnel"),
        products: state
            .settings
            .products
            .keys()
            .map(|p| (p.to_string(), chosen(&filter.product, p.as_str())))
            .collect(),
        platforms: ["ios", "android", "web"]
            .into_iter()
            .map(|p| (p, chosen(&filter.platform, p)))
            .collect(),
        modes: ["connect", "update"]
            .into_iter()
            .map(|m| (m, chosen(&filter.mode, m)))
            .collect(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        chart_height: bars.len() as u32 * ROW + 8,
        chart_width: LABEL_WIDTH + BAR_MAX + 160,
        label_width: LABEL_WIDTH,
        bars,
        leaves,
        institutions: report.institutions.clone(),
        p50: seconds(report.p50_seconds),
        p90: seconds(report.p90_seconds),
        timed: report.timed,
        csv: csv_link(query),
    }
}

/// This page's query with `format=csv`.
fn csv_link(query: &str) -> String {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("format="))
        .collect();
    let mut link = String::from("/support/funnel?");
    for part in kept {
        link.push_str(part);
        link.push('&');
    }
    link.push_str("format=csv");
    link
}

/// `section,name,count,percent`: the steps (percent of created), where users left (percent of
/// created), per institution successes and leaves, and the opened → success quantiles.
fn to_csv(report: &Report) -> String {
    let created = report.count("created");
    let pct = |n: u64| {
        if created == 0 {
            String::new()
        } else {
            format!("{:.1}", n as f64 * 100.0 / created as f64)
        }
    };
    let mut out = String::from("section,name,count,percent\n");
    for (step, _, count) in &report.steps {
        out.push_str(&format!("step,{step},{count},{}\n", pct(*count)));
    }
    for (step, count) in &report.leaves {
        out.push_str(&format!("left,{step},{count},{}\n", pct(*count)));
    }
    for (institution, won, lost) in &report.institutions {
        out.push_str(&format!("institution_success,{institution},{won},\n"));
        out.push_str(&format!("institution_left,{institution},{lost},\n"));
    }
    for (name, bound) in [("p50", report.p50_seconds), ("p90", report.p90_seconds)] {
        let value = match bound {
            Some(u32::MAX) => "inf".to_owned(),
            Some(s) => s.to_string(),
            None => String::new(),
        };
        out.push_str(&format!("seconds_to_success,{name},{value},\n"));
    }
    out
}
