//! `POST /v1/widget-sessions`: ask Belvo for a widget token with the product's preset, build the
//! widget URL, remember the session.

use serde::Deserialize;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};

use crate::belvo::types::{CallbackUrls, Consent, IdentificationInfo, TokenRequest, WidgetConfig};
use crate::config::product_values::Scope;
use crate::config::{BelvoEnvironment, ProductSettings};
use crate::domain::branding_version::WidgetLook;
use crate::domain::event::AppSub;
use crate::domain::external_id::ExternalId;
use crate::domain::ids::{AccessMode, Code, LinkId, Platform, SessionId};
use crate::domain::session::{now_millis, AccessToken, NewSession, SessionMode};
use crate::domain::tax_id::{Cnpj, Cpf};
use crate::error::{ApiError, ErrorCode};

/// What the app asks for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"product": "mx_employment", "platform": "ios"}))]
pub struct OpenRequest {
    /// A configured product: mx_employment, br_employment, co_employment, br_ofda...
    pub product: String,
    /// ios, android or web: picks the deeplink the callbacks return to.
    #[schema(schema_with = platform_schema)]
    pub platform: String,
    /// Narrows the product's institutions (never widens them): 1 to 20 Belvo codes.
    #[serde(default)]
    #[schema(schema_with = institutions_schema)]
    pub institutions: Option<Vec<String>>,
    #[serde(default)]
    pub access_mode: Option<AccessMode>,
    /// es, en, pt or mx.
    #[serde(default)]
    #[schema(schema_with = locale_schema)]
    pub locale: Option<String>,
    /// Brazil open finance (br_ofda) only, and required there.
    #[serde(default)]
    pub consent: Option<ConsentRequest>,
}

/// The user's part of an OFDA consent: who they are, and optionally fewer permissions.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// One or two entries (check digits are verified).
    pub identification_info: Vec<IdentificationRequest>,
    /// A subset of the product's: REGISTER, ACCOUNTS, CREDIT_CARDS, CREDIT_OPERATIONS.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentificationRequest {
    /// CPF or CNPJ.
    #[serde(rename = "type")]
    pub kind: String,
    /// 11 (CPF) or 14 (CNPJ) digits.
    pub number: String,
    pub name: String,
}

impl std::fmt::Debug for IdentificationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentificationRequest")
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

pub struct OpenedSession {
    pub session: NewSession,
    pub widget_url: String,
    pub callback_urls: CallbackUrls,
}

const LOCALES: &[&str] = &["es", "en", "pt", "mx"];
const MAX_INSTITUTIONS: usize = 20;

/// What the schema says of the string fields checked here, so clients see the same rules.
fn string_enum(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
}

pub(super) fn platform_schema() -> Object {
    string_enum(&["ios", "android", "web"])
        .description(Some("Picks the deeplink the callbacks return to."))
        .build()
}

pub(super) fn locale_schema() -> Object {
    let mut locales: Vec<Option<&str>> = LOCALES.iter().copied().map(Some).collect();
    locales.push(None);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(locales))
        .description(Some("The widget's language."))
        .build()
}

fn institutions_schema() -> ArrayBuilder {
    let code = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(crate::domain::ids::Code::PATTERN));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(code)
        .min_items(Some(1))
        .max_items(Some(MAX_INSTITUTIONS))
        .description(Some(
            "Narrows the product's institutions (never widens them): 1 to 20 Belvo codes.",
        ))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

/// The widget's language, when the app names one: es, en, pt or mx.
pub(super) fn check_locale(locale: Option<String>) -> Result<Option<String>, ApiError> {
    match locale {
        Some(l) if LOCALES.contains(&l.as_str()) => Ok(Some(l)),
        Some(_) => Err(invalid(format!(
            "locale must be one of {}",
            LOCALES.join(", ")
        ))),
        None => Ok(None),
    }
}

impl super::Sessions {
    /// Opens a widget session for `owner`: the product's preset, a widget token from Belvo, the
    /// session remembered.
    #[tracing::instrument(skip_all, fields(product = %request.product, session_id))]
    pub async fn open(
        &self,
        owner: &ExternalId,
        sub: &AppSub,
        request: OpenRequest,
    ) -> Result<OpenedSession, ApiError> {
        let (product_name, product) =
            crate::products::require(&self.settings.products, &request.product)?;
        let product_name = product_name.clone();
        let platform: Platform = request
            .platform
            .parse()
            .map_err(|_| invalid("platform must be ios, android or web"))?;
        let sandbox = self.settings.belvo.environment != BelvoEnvironment::Production;
        let institutions =
            narrow_institutions(product.institutions_for(sandbox), request.institutions)?;
        let access_mode = request.access_mode.unwrap_or(product.access_mode);
        let locale = check_locale(request.locale)?;
        let consent = consent_for(product, request.consent)?;

        super::token_budget::spend(&self.store, &self.settings.limits, owner).await?;
        let id = SessionId::generate();
        tracing::Span::current().record("session_id", tracing::field::display(id));
        let callback_urls = self.callback_urls(&id);
        let look = self.branding.look(&product_name).unwrap_or_default();
        let token_request = token_request(
            product,
            look,
            callback_urls.clone(),
            access_mode,
            consent,
            None,
        );
        let token = self.belvo.widget_token(&token_request).await?;

        let now = now_millis();
        let session = NewSession {
            id,
            owner: owner.clone(),
            product: product_name,
            platform,
            institutions,
            access_mode,
            created_at: now,
            token_expires_at: token.expires_at * 1000,
            deadline: now + self.settings.sessions.pending_timeout.as_millis() as i64,
            locale,
            mode: SessionMode::Connect,
            update_link: None,
            token: Some(AccessToken(token.access)),
            sub: self.settings.notify.keeps_sub().then(|| sub.clone()),
        };
        self.create(&session).await?;
        // This server's URL, not Belvo's: it never goes stale (`/w/` renews the token).
        let widget_url = format!("{}/w/{id}", self.public_base_url);
        tracing::info!(platform = platform.as_str(), "widget session opened");
        Ok(OpenedSession {
            session,
            widget_url,
            callback_urls,
        })
    }
}

/// Apps may narrow the product's institutions, never widen them.
fn narrow_institutions(
    allowed: &[Code],
    requested: Option<Vec<String>>,
) -> Result<Vec<String>, ApiError> {
    let Some(requested) = requested else {
        return Ok(allowed.iter().map(Code::to_string).collect());
    };
    if requested.is_empty() || requested.len() > MAX_INSTITUTIONS {
        return Err(invalid(format!(
            "institutions must list 1 to {MAX_INSTITUTIONS} codes"
        )));
    }
    for inst in &requested {
        if Code::parse(inst).is_err() {
            return Err(invalid("institutions must be Belvo institution codes"));
        }
        if !allowed.is_empty() && !allowed.iter().any(|code| code.as_str() == inst) {
            let allowed: Vec<&str> = allowed.iter().map(Code::as_str).collect();
            return Err(ApiError::new(
                ErrorCode::InstitutionNotAllowed,
                format!(
                    "{inst} is not offered for this product (allowed: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(requested)
}

/// The OFDA consent: the product's terms and permissions, the user's identification.
pub fn consent_for(
    product: &ProductSettings,
    request: Option<ConsentRequest>,
) -> Result<Option<Consent>, ApiError> {
    let Some(of) = &product.open_finance else {
        return match request {
            Some(_) => Err(invalid("consent is only for open finance products")),
            None => Ok(None),
        };
    };
    let request = request.ok_or_else(|| {
        invalid(
            "consent.identification_info is required for open finance (the user's CPF and name)",
        )
    })?;
    if request.identification_info.is_empty() || request.identification_info.len() > 2 {
        return Err(invalid(
            "consent.identification_info must have 1 or 2 entries",
        ));
    }
    let mut identification_info = Vec::new();
    for info in request.identification_info {
        let number = match info.kind.as_str() {
            "CPF" => Cpf::parse(&info.number).map(|c| c.as_str().to_owned()),
            "CNPJ" => Cnpj::parse(&info.number).map(|c| c.as_str().to_owned()),
            _ => {
                return Err(invalid(
                    "consent.identification_info.type must be CPF or CNPJ",
                ))
            }
        }
        .ok_or_else(|| {
            invalid(format!(
                "consent.identification_info: not a valid {}",
                info.kind
            ))
        })?;
        let name = info.name.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(invalid(
                "consent.identification_info.name must be 1 to 120 characters",
            ));
        }
        identification_info.push(IdentificationInfo {
            kind: info.kind,
            number,
            name: name.to_owned(),
        });
    }
    let offered: Vec<String> = of.permissions.iter().map(|p| p.to_string()).collect();
    let permissions = match request.permissions {
        None => offered,
        Some(p) if !p.is_empty() && p.iter().all(|x| offered.contains(x)) => p,
        Some(_) => {
            return Err(invalid(format!(
                "consent.permissions must be a non-empty subset of {}",
                offered.join(", ")
            )))
        }
    };
    Ok(Some(Consent {
        terms_and_conditions_url: of.terms_and_conditions_url.to_string(),
        permissions,
        identification_info,
    }))
}

/// The token body for a product, exactly in the guides' shape (credentials filled by the client).
/// In update mode (`update_link`) it names the link and adds `read_links` to the scopes, as
/// Belvo's update-mode guide asks.
pub(super) fn token_request(
    product: &ProductSettings,
    look: WidgetLook,
    callback_urls: CallbackUrls,
    access_mode: AccessMode,
    consent: Option<Consent>,
    update_link: Option<LinkId>,
) -> TokenRequest {
    let mut scopes = product.scopes.to_string();
    if update_link.is_some() && !product.scopes.contains(Scope::ReadLinks) {
        scopes.push_str(",read_links");
    }
    let credentials_storage = match access_mode {
        AccessMode::Recurrent => Some("store".to_owned()),
        AccessMode::Single => product.credentials_storage.map(|c| c.to_string()),
    };
    let of = product.open_finance.as_ref();
    TokenRequest {
        id: String::new(),
        password: String::new(),
        scopes,
        stale_in: Some(product.stale_in.to_string()),
        credentials_storage,
        fetch_resources: product
            .fetch_resources
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        widget: WidgetConfig {
            callback_urls,
            branding: Some(look.branding),
            theme: (!look.theme.is_empty()).then(|| look.theme.to_json()),
            purpose: of.map(|o| o.purpose.as_str().to_owned()),
            openfinance_feature: of.map(|o| o.openfinance_feature.clone()),
            consent,
        },
        link_id: update_link.map(|l| l.to_string()),
    }
}

/// Belvo's hosted widget with a token:
/// `widget_url?access_token=..&locale=..&<product params>&institutions=..&access_mode=..&external_id=..`
pub(super) fn belvo_widget_url(
    base: &str,
    product: &ProductSettings,
    access_token: &str,
    locale: Option<&str>,
    institutions: &[String],
    access_mode: AccessMode,
    external_id: &ExternalId,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("access_token", access_token);
    let locale = locale.or(product.widget_params.get("locale").map(String::as_str));
    if let Some(locale) = locale {
        query.append_pair("locale", locale);
    }
    for (param, value) in product.widget_params.iter().filter(|(k, _)| *k != "locale") {
        query.append_pair(param, value);
    }
    if !institutions.is_empty() {
        query.append_pair("institutions", &institutions.join(","));
    }
    query.append_pair("access_mode", access_mode.as_str());
    query.append_pair("external_id", external_id.as_str());
    // Lists read as the guides write them (`resources=OWNERS,ACCOUNTS`).
    let query = query.finish().replace("%2C", ",");
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn institutions_can_be_narrowed_not_widened() {
        let names = ["imss_mx_employment", "issste_mx_employment"];
        let allowed: Vec<Code> = names.iter().map(|n| Code::parse(n).unwrap()).collect();
        assert_eq!(narrow_institutions(&allowed, None).unwrap(), names);
        assert_eq!(
            narrow_institutions(&allowed, Some(vec!["imss_mx_employment".into()])).unwrap(),
            vec!["imss_mx_employment"]
        );
        assert!(narrow_institutions(&allowed, Some(vec!["other_mx".into()])).is_err());
        assert!(narrow_institutions(&allowed, Some(vec![])).is_err());
        assert!(narrow_institutions(&[], Some(vec!["ofbradesco_br_retail".into()])).is_ok());
        assert!(narrow_institutions(&[], Some(vec!["bad code".into()])).is_err());
    }
}
