//! Data endpoints with deterministic, realistic, paginated data per link
//! (`{count, next, previous, results}`, `?link=&page=&page_size=`, absolute `next` / `previous`).

use std::sync::atomic::Ordering;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::api_auth::{belvo_error, denied};
use super::pages::PageQuery;
use super::refusals::Refused;
use super::Emulator;

/// `?link=`: whose data (required).
#[derive(Deserialize)]
pub struct LinkQuery {
    link: Option<String>,
}

const FIRST_NAMES: &[&str] = &[
    "María", "José", "Ana", "Luis", "Camila", "João", "Fernanda", "Carlos",
];
const LAST_NAMES: &[&str] = &[
    "García",
    "Hernández",
    "Silva",
    "Souza",
    "Rodríguez",
    "López",
    "Gómez",
];
const EMPLOYERS: &[&str] = &[
    "ACME SA DE CV",
    "Banco Andino",
    "Comercial Norte",
    "Tecnologia Verde LTDA",
    "Servicios Unidos",
];

/// A reproducible number stream from a link id.
pub(super) struct Seed(Vec<u8>);

impl Seed {
    pub(super) fn new(link: &str, salt: &str) -> Self {
        Self(Sha256::digest(format!("{link}:{salt}")).to_vec())
    }
    pub(super) fn pick<'a>(&self, i: usize, list: &[&'a str]) -> &'a str {
        list[self.0[i % 32] as usize % list.len()]
    }
    pub(super) fn num(&self, i: usize, max: u32) -> u32 {
        u32::from(self.0[i % 32]) * 257 % max.max(1)
    }
}

/// How many items each resource has for a link (webhook totals use the same numbers).
pub fn total(resource: &str, link: &str) -> usize {
    let seed = Seed::new(link, resource);
    match resource {
        "OWNERS" => 1,
        "EMPLOYMENT_RECORDS" => 1,
        "EMPLOYMENT_METRICS" => 1,
        "EMPLOYMENTS" => 2 + seed.num(0, 3) as usize,
        "ACCOUNTS" => 1 + seed.num(0, 3) as usize,
        "TRANSACTIONS" => 20 + seed.num(0, 60) as usize,
        _ => 0,
    }
}

fn owner(link: &str, i: usize) -> Value {
    let s = Seed::new(link, "owner");
    json!({
        "id": uuid_from(link, "owner", i),
        "link": link,
        "display_name": format!("{} {}", s.pick(1, FIRST_NAMES), s.pick(2, LAST_NAMES)),
        "first_name": s.pick(1, FIRST_NAMES),
        "last_name": s.pick(2, LAST_NAMES),
        "email": format!("user{}@example.com", s.num(3, 9999)),
        "phone_number": format!("+52 55 {:04} {:04}", s.num(4, 9999), s.num(5, 9999)),
        "address": "Av. Reforma 100, Ciudad de México",
        "collected_at": "2024-06-26T16:25:54.344113Z",
        "created_at": "2024-06-26T16:25:54.344113Z",
    })
}

fn employment_record(link: &str, i: usize) -> Value {
    let s = Seed::new(link, "employment_record");
    let jobs: Vec<Value> = (0..2 + s.num(0, 3) as usize)
        .map(|j| {
            json!({
                "employer": s.pick(j + 1, EMPLOYERS),
                "employer_registration": format!("Y{:09}", s.num(j + 2, 999_999_999)),
                "start_date": format!("{}-{:02}-01", 2010 + j * 3, 1 + s.num(j + 3, 12)),
                "end_date": if j == 0 { Value::Null } else { json!(format!("{}-06-30", 2012 + j * 3)) },
                "base_salary": 8000 + s.num(j + 4, 40_000),
                "currency": "MXN",
                "state": "CIUDAD DE MEXICO",
            })
        })
        .collect();
    json!({
        "id": uuid_from(link, "employment_record", i),
        "link": link,
        "personal_data": {
            "first_name": s.pick(1, FIRST_NAMES),
            "last_name": s.pick(2, LAST_NAMES),
            "social_security_number": format!("{:011}", s.num(3, 999_999_999)),
            "birth_date": "1990-05-17",
        },
        "employment_records": jobs,
        "collected_at": "2024-06-26T16:25:54.344113Z",
        "created_at": "2024-06-26T16:25:54.344113Z",
    })
}

fn employment_metric(link: &str, i: usize) -> Value {
    let s = Seed::new(link, "employment_metric");
    json!({
        "id": uuid_from(link, "employment_metric", i),
        "link": link,
        "number_of_employers": 2 + s.num(1, 4),
        "average_salary": 9000 + s.num(2, 30_000),
        "months_employed": 24 + s.num(3, 120),
        "currently_employed": true,
        "collected_at": "2024-06-26T16:25:54.344113Z",
    })
}

fn employment(link: &str, i: usize, country: &str) -> Value {
    let s = Seed::new(link, "employment");
    let currency = if country == "BR" { "BRL" } else { "COP" };
    json!({
        "id": uuid_from(link, "employment", i),
        "link": link,
        "employer_name": s.pick(i + 1, EMPLOYERS),
        "occupation": "Analista",
        "start_date": format!("{}-{:02}-01", 2012 + i * 2, 1 + s.num(i + 2, 12)),
        "end_date": if i == 0 { Value::Null } else { json!(format!("{}-12-31", 2013 + i * 2)) },
        "salary": { "amount": 2500 + s.num(i + 3, 12_000), "currency": currency },
        "country": country,
        "collected_at": "2024-06-26T16:25:54.344113Z",
    })
}

pub(super) fn uuid_from(link: &str, kind: &str, i: usize) -> String {
    let d = Sha256::digest(format!("{link}:{kind}:{i}"));
    uuid::Builder::from_random_bytes(d[..16].try_into().expect("16 bytes"))
        .into_uuid()
        .to_string()
}

/// The link a data request names (`?link=`), once the call is counted and authenticated, and
/// the link is known.
pub(super) fn requested_link(
    emulator: &Emulator,
    req: &HttpRequest,
    query: &LinkQuery,
) -> Result<String, Refused> {
    emulator.counters.data.fetch_add(1, Ordering::Relaxed);
    if let Some(denied) = denied(emulator, req) {
        return Err(Box::new(denied));
    }
    let Some(link) = query.link.as_deref() else {
        return Err(Box::new(belvo_error(
            400,
            "required",
            "This field is required.",
            Some("link"),
        )));
    };
    let status = emulator.state().links.get(link).map(|l| l.status);
    let Some(status) = status else {
        return Err(Box::new(belvo_error(
            404,
            "not_found",
            "Link not found.",
            Some("link"),
        )));
    };
    // A broken link (`breaks.rs`) is refused as Belvo refuses it.
    if let Some(refusal) = super::breaks::data_refusal(status) {
        return Err(Box::new(refusal));
    }
    Ok(link.to_owned())
}

async fn list(
    emulator: &Emulator,
    req: &HttpRequest,
    query: &LinkQuery,
    page: &PageQuery,
    resource: &str,
    item: impl Fn(&str, usize) -> Value,
) -> HttpResponse {
    let link = match requested_link(emulator, req, query) {
        Ok(link) => link,
        Err(refused) => return *refused,
    };
    let count = total(resource, &link);
    let results = page.range(count).map(|i| item(&link, i)).collect();
    HttpResponse::Ok().json(page.body(req, count, results))
}

pub async fn owners(
    e: web::Data<Emulator>,
    req: HttpRequest,
    q: web::Query<LinkQuery>,
    p: web::Query<PageQuery>,
) -> HttpResponse {
    list(&e, &req, &q, &p, "OWNERS", owner).await
}

pub async fn employment_records(
    e: web::Data<Emulator>,
    req: HttpRequest,
    q: web::Query<LinkQuery>,
    p: web::Query<PageQuery>,
) -> HttpResponse {
    list(&e, &req, &q, &p, "EMPLOYMENT_RECORDS", employment_record).await
}

pub async fn employment_metrics(
    e: web::Data<Emulator>,
    req: HttpRequest,
    q: web::Query<LinkQuery>,
    p: web::Query<PageQuery>,
) -> HttpResponse {
    list(&e, &req, &q, &p, "EMPLOYMENT_METRICS", employment_metric).await
}

pub async fn br_employments(
    e: web::Data<Emulator>,
    req: HttpRequest,
    q: web::Query<LinkQuery>,
    p: web::Query<PageQuery>,
) -> HttpResponse {
    list(&e, &req, &q, &p, "EMPLOYMENTS", |l, i| {
        employment(l, i, "BR")
    })
    .await
}

pub async fn co_employments(
    e: web::Data<Emulator>,
    req: HttpRequest,
    q: web::Query<LinkQuery>,
    p: web::Query<PageQuery>,
) -> HttpResponse {
    list(&e, &req, &q, &p, "EMPLOYMENTS", |l, i| {
        employment(l, i, "CO")
    })
    .await
}
