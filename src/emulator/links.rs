//! `POST /api/links/` and `GET /api/links/{id}/`, with fixture usernames that reproduce the IMSS
//! error table of the MX employment guide, and `forbidden_by_host` after 3 attempts a day.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::api_auth::{belvo_error, denied};
use super::institutions::{Institution, INSTITUTIONS};
use super::refusals::parse_body;
use super::{webhooks, Emulator, Link};
use crate::domain::country::Country;
use crate::domain::session::{now_millis, rfc3339};

/// Usernames (valid CURPs) that make the emulated IMSS answer each row of the guide's table.
/// Any other username connects. The fourth attempt of one username within 24 h is refused
/// with `forbidden_by_host`, as IMSS does.
pub const FIXTURE_USERNAMES: &[(&str, u16, &str, &str)] = &[
    ("BELA000101HDFNNN01", 400, "invalid_credentials", "El NSS capturado no coincide con la CURP"),
    ("BELB000101HDFNNN02", 400, "login_error", "El NSS no fue localizado en el IMSS"),
    ("BELC000101HDFNNN03", 400, "login_error", "El CURP proporcionado no fue localizado en la entidad externa RENAPO"),
    ("BELD000101HDFNNN04", 400, "login_error", "CURP es incorrecto"),
    ("BELE000101HDFNNN05", 400, "login_error", "Por favor, ingresa un CURP válido. Debe contener 18 caracteres"),
    ("BELF000101HDFNNN06", 400, "login_error", "La persona no cuenta con NSS"),
    ("BELG000101HDFNNN07", 400, "login_error", "Los datos registrados en el IMSS asociados a la CURP, presentan alguna inconsistencia, por favor acude a tu Subdelegación para obtener tu Número de Seguridad Social."),
    ("BELH000101HDFNNN08", 400, "login_error", "Es necesario que acudas a la subdelegación más cercana a tu domicilio a presentar tu trámite"),
    ("BELI000101HDFNNN09", 400, "login_error", "El correo ya está registrado con otro CURP"),
];

pub const FORBIDDEN_BY_HOST: &str = "Has agotado el número de solicitudes permitidas por día.";
const ATTEMPTS_PER_DAY: usize = 3;
const DAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize)]
pub struct CreateLink {
    institution: String,
    username: String,
    #[serde(default)]
    fetch_resources: Option<Vec<String>>,
    access_mode: String,
    #[serde(default)]
    external_id: Option<String>,
}

pub async fn create(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    emulator.counters.links.fetch_add(1, Ordering::Relaxed);
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    let request: CreateLink = match parse_body(&body, &["institution", "username", "access_mode"]) {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    let Some(institution) = INSTITUTIONS.iter().find(|i| i.code == request.institution) else {
        return belvo_error(
            400,
            "does_not_exist",
            "Institution does not exist.",
            Some("institution"),
        );
    };
    if !matches!(request.access_mode.as_str(), "single" | "recurrent") {
        return belvo_error(
            400,
            "invalid",
            "\"access_mode\" is not a valid choice.",
            Some("access_mode"),
        );
    }
    if request.username.is_empty() {
        return belvo_error(400, "required", "This field is required.", Some("username"));
    }
    if !emulator.count_attempt(&request.username) {
        return belvo_error(403, "forbidden_by_host", FORBIDDEN_BY_HOST, None);
    }
    if let Some((_, status, code, message)) = FIXTURE_USERNAMES
        .iter()
        .find(|(u, ..)| *u == request.username)
    {
        return belvo_error(*status, code, message, None);
    }
    let resources = request
        .fetch_resources
        .unwrap_or_else(|| default_resources(institution));
    let link = emulator.create_link(
        &request.institution,
        &request.access_mode,
        request.external_id,
        resources,
        &request.username,
    );
    HttpResponse::Created().json(link)
}

/// What a link fetches when the request does not say (Belvo's SDKs never send
/// `fetch_resources` on a link): the institution's resources.
fn default_resources(institution: &Institution) -> Vec<String> {
    let resources: &[&str] = match (institution.employment, institution.country) {
        (false, _) => &["ACCOUNTS", "TRANSACTIONS", "OWNERS"],
        (true, Country::Mexico) => &["EMPLOYMENT_RECORDS", "OWNERS"],
        (true, _) => &["EMPLOYMENTS", "OWNERS"],
    };
    resources.iter().map(|r| (*r).to_owned()).collect()
}

pub async fn show(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    emulator.counters.link_reads.fetch_add(1, Ordering::Relaxed);
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    match emulator.state().links.get(id.as_str()) {
        Some(link) => HttpResponse::Ok().json(link),
        None => belvo_error(404, "not_found", "Not found.", None),
    }
}

impl Emulator {
    /// Records an attempt for `username`; false when it is over the daily limit.
    fn count_attempt(&self, username: &str) -> bool {
        let now = Instant::now();
        let mut state = self.state();
        let attempts = state.attempts.entry(username.to_owned()).or_default();
        attempts.retain(|at| now.duration_since(*at) < DAY);
        if attempts.len() >= ATTEMPTS_PER_DAY {
            return false;
        }
        attempts.push(now);
        true
    }

    /// Creates a link and schedules its `historical_update` webhooks.
    pub(super) fn create_link(
        &self,
        institution: &str,
        access_mode: &str,
        external_id: Option<String>,
        fetch_resources: Vec<String>,
        username: &str,
    ) -> Link {
        let now = rfc3339(now_millis());
        let user_hash = Sha256::digest(username.as_bytes());
        let link = Link {
            id: uuid::Uuid::new_v4().to_string(),
            institution: institution.to_owned(),
            access_mode: access_mode.to_owned(),
            status: "valid",
            refresh_rate: None,
            created_by: "6e9be884-4781-4143-b673-aca02475ee8c",
            last_accessed_at: now.clone(),
            external_id,
            created_at: now,
            institution_user_id: base64::engine::general_purpose::STANDARD.encode(user_hash),
            credentials_storage: "365d".into(),
            stale_in: None,
            fetch_resources,
            consent: None,
        };
        let mut state = self.state();
        state.prune();
        state.links.insert(link.id.clone(), link.clone());
        drop(state);
        webhooks::schedule(self, &link);
        link
    }
}
