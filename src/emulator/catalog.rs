//! `GET /api/` (the API root, which Belvo's SDKs call to check the credentials at login) and
//! `GET /api/institutions/` (paginated, with the fields of Belvo's Institution schema).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api_auth::denied;
use super::institutions::{Institution, INSTITUTIONS};
use super::pages::{absolute, PageQuery};
use super::Emulator;
use crate::domain::country::Country;

/// The API root: where each list lives, as absolute URLs (Basic auth, like every API route).
pub async fn root(emulator: web::Data<Emulator>, req: HttpRequest) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    let base = req.path().trim_end_matches('/');
    let mut body = serde_json::Map::new();
    for name in [
        "links",
        "institutions",
        "owners",
        "accounts",
        "transactions",
        "employment-records",
        "employment-metrics",
        "br/employments",
        "co/employments",
    ] {
        body.insert(
            name.into(),
            absolute(&req, &format!("{base}/{name}/")).into(),
        );
    }
    HttpResponse::Ok().json(body)
}

/// The filters Belvo documents that the emulator honours; others are ignored, as Belvo does.
#[derive(Deserialize)]
pub struct InstitutionFilters {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    country_code: Option<String>,
    #[serde(rename = "country_code__in")]
    country_codes: Option<String>,
    integration_type: Option<String>,
}

pub async fn list(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    filters: web::Query<InstitutionFilters>,
    page: web::Query<PageQuery>,
) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    let matching: Vec<Value> = INSTITUTIONS
        .iter()
        .enumerate()
        .map(|(i, institution)| describe(i, institution))
        .filter(|item| matches(item, &filters))
        .collect();
    let count = matching.len();
    let results = matching[page.range(count)].to_vec();
    HttpResponse::Ok().json(page.body(&req, count, results))
}

fn matches(item: &Value, f: &InstitutionFilters) -> bool {
    let is = |key: &str, wanted: &Option<String>| wanted.as_ref().is_none_or(|w| item[key] == **w);
    let country = item["country_codes"][0].as_str().unwrap_or_default();
    is("name", &f.name)
        && is("type", &f.kind)
        && is("integration_type", &f.integration_type)
        && f.country_code.as_ref().is_none_or(|c| c == country)
        && f.country_codes
            .as_ref()
            .is_none_or(|list| list.split(',').any(|c| c.trim() == country))
}

/// One institution in Belvo's shape.
fn describe(index: usize, institution: &Institution) -> Value {
    let (kind, integration, resources) = if institution.employment {
        let resources: &[&str] = match institution.country {
            Country::Mexico => &["EMPLOYMENT_METRICS", "EMPLOYMENT_RECORDS", "OWNERS"],
            Country::Brazil | Country::Colombia => &["EMPLOYMENTS", "OWNERS"],
        };
        ("employment", "credentials", resources)
    } else {
        let resources: &[&str] = &["ACCOUNTS", "OWNERS", "TRANSACTIONS"];
        ("bank", "openbanking", resources)
    };
    json!({
        "id": 1000 + index,
        "name": institution.code,
        "type": kind,
        "website": null,
        "display_name": institution.name,
        "country_codes": [institution.country.code()],
        "primary_color": "#056dae",
        "logo": null,
        "icon_logo": null,
        "text_logo": null,
        "form_fields": form_fields(institution),
        "features": [],
        "resources": resources,
        "integration_type": integration,
        "status": "healthy",
    })
}

/// What the API flow asks the user for: the national id of the country (open finance asks
/// nothing here, the user signs in at the bank).
fn form_fields(institution: &Institution) -> Value {
    if !institution.employment {
        return json!([]);
    }
    let (label, validation, placeholder) = match institution.country {
        Country::Mexico => (
            "CURP",
            "^[A-Z]{4}[0-9]{6}[HM][A-Z]{5}[A-Z0-9][0-9]$",
            "BELA000101HDFNNN01",
        ),
        Country::Brazil => ("CPF", "^[0-9]{11}$", "76109277673"),
        Country::Colombia => ("Cédula", "^[0-9]{6,10}$", "1020304050"),
    };
    json!([{
        "name": "username",
        "type": "text",
        "label": label,
        "validation": validation,
        "placeholder": placeholder,
        "validation_message": format!("Invalid {label}"),
    }])
}
