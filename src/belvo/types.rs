//! `POST /api/token/` bodies exactly as the guides show them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::branding::Branding;

/// The widget access token request (MX/BR employment guides, OFDA guide §1).
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenRequest {
    pub id: String,
    pub password: String,
    pub scopes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_storage: Option<String>,
    pub fetch_resources: Vec<String>,
    pub widget: WidgetConfig,
    /// Update mode: the link the widget repairs (Belvo keeps its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<String>,
}

// The password must never reach a log line.
impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("scopes", &self.scopes)
            .field("stale_in", &self.stale_in)
            .field("credentials_storage", &self.credentials_storage)
            .field("fetch_resources", &self.fetch_resources)
            .field("widget", &self.widget)
            .field("link_id", &self.link_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WidgetConfig {
    pub callback_urls: CallbackUrls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<Branding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openfinance_feature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
}

/// Where the widget sends the webview: this server's `/callbacks/{session_id}/{kind}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallbackUrls {
    pub success: String,
    pub exit: String,
    pub event: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consent {
    pub terms_and_conditions_url: String,
    pub permissions: Vec<String>,
    pub identification_info: Vec<IdentificationInfo>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct IdentificationInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub number: String,
    pub name: String,
}

// CPF/CNPJ and names are personal data.
impl fmt::Debug for IdentificationInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentificationInfo")
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The My Belvo Portal token request (`openfinance_feature: consent_management`): the portal
/// view of this app's consents, or the renewal of an expired one. Unlike the widget's it has no
/// `fetch_resources` and no callbacks, so it is its own type.
#[derive(Clone, Serialize, Deserialize)]
pub struct ConsentManagementRequest {
    pub id: String,
    pub password: String,
    /// `read_consents,write_consents,write_consent_callback`.
    pub scopes: String,
    pub widget: ConsentManagementWidget,
}

/// The `widget` of a [`ConsentManagementRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentManagementWidget {
    /// Always `consent_management`.
    pub openfinance_feature: String,
    pub consent: Consent,
}

/// The scopes a consent-management token asks for (My Belvo Portal guide).
pub const CONSENT_MANAGEMENT_SCOPES: &str = "read_consents,write_consents,write_consent_callback";

impl ConsentManagementRequest {
    /// The request for `consent` (the user's CPF/CNPJ); credentials are filled by the client.
    pub fn new(consent: Consent) -> Self {
        Self {
            id: String::new(),
            password: String::new(),
            scopes: CONSENT_MANAGEMENT_SCOPES.to_owned(),
            widget: ConsentManagementWidget {
                openfinance_feature: "consent_management".to_owned(),
                consent,
            },
        }
    }
}

// The password and the CPF/CNPJ must never reach a log line.
impl fmt::Debug for ConsentManagementRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentManagementRequest")
            .field("scopes", &self.scopes)
            .field("widget", &self.widget)
            .finish_non_exhaustive()
    }
}

/// `{access, refresh}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access: String,
    pub refresh: String,
}

/// One entry of Belvo's error list (`[{request_id, message, code}]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BelvoApiError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A link as `GET /api/links/{id}/` returns it (the fields the BFF uses).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BelvoLink {
    pub id: String,
    pub institution: String,
    #[serde(default)]
    pub access_mode: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

/// `POST /api/links/` (MX/CO/BR API guides). The username is a national id: never logged.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateLink {
    pub institution: String,
    pub username: String,
    pub fetch_resources: Vec<String>,
    pub access_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl fmt::Debug for CreateLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateLink")
            .field("institution", &self.institution)
            .field("fetch_resources", &self.fetch_resources)
            .finish_non_exhaustive()
    }
}
