//! The branding editor's view: fields with their errors, the preview, and the history.

use crate::branding::{BrandingInput, FieldErrors};
use crate::domain::branding::{HexColor, HttpsUrl};
use crate::domain::branding_version::{BrandingVersion, ChangeKind};
use crate::routes::console::human_time;

pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    /// `text`, `url`, `color`, `select` or `textarea`.
    pub kind: &'static str,
    pub value: String,
    pub error: Option<String>,
}

const LABELS: &[(&str, &str, &str, &str)] = &[
    (
        "company_name",
        "Company name",
        "Shown at the top of the widget. Up to 60 characters.",
        "text",
    ),
    (
        "company_icon",
        "Icon URL",
        "A square SVG with a transparent background, on https.",
        "url",
    ),
    (
        "company_logo",
        "Logo URL",
        "A horizontal SVG with a transparent background, on https.",
        "url",
    ),
    (
        "company_terms_url",
        "Terms or privacy policy URL",
        "Linked from the widget, on https.",
        "url",
    ),
    (
        "overlay_background_color",
        "Overlay color",
        "Behind the widget while it opens, as #RRGGBB.",
        "color",
    ),
    (
        "social_proof",
        "Social proof",
        "Belvo's message on how many people connected.",
        "select",
    ),
    (
        "theme",
        "Theme colors",
        "One --cssKey: value a line, e.g. --colorPrimary: #0663F9.",
        "textarea",
    ),
];

pub fn fields(input: &BrandingInput, errors: &FieldErrors) -> Vec<FieldView> {
    LABELS
        .iter()
        .map(|&(name, label, hint, kind)| FieldView {
            name,
            label,
            hint,
            kind,
            value: value(input, name).to_owned(),
            error: errors.get(name).cloned(),
        })
        .collect()
}

fn value<'a>(input: &'a BrandingInput, name: &str) -> &'a str {
    match name {
        "company_name" => &input.company_name,
        "company_icon" => &input.company_icon,
        "company_logo" => &input.company_logo,
        "company_terms_url" => &input.company_terms_url,
        "overlay_background_color" => &input.overlay_background_color,
        "social_proof" => &input.social_proof,
        _ => &input.theme,
    }
}

/// The widget header as the draft would show it; invalid values are left out.
pub struct Preview {
    pub name: String,
    pub logo: String,
    pub icon: String,
    pub terms: String,
    /// A valid `#RRGGBB`, or empty.
    pub color: String,
    pub social_proof: bool,
}

impl Preview {
    pub fn of(input: &BrandingInput) -> Self {
        let url = |raw: &str| {
            HttpsUrl::parse(raw.trim())
                .map(|u| u.to_string())
                .unwrap_or_default()
        };
        Self {
            name: input.company_name.trim().chars().take(60).collect(),
            logo: url(&input.company_logo),
            icon: url(&input.company_icon),
            terms: url(&input.company_terms_url),
            color: HexColor::parse(input.overlay_background_color.trim())
                .map(String::from)
                .unwrap_or_default(),
            social_proof: input.social_proof != "hide",
        }
    }

    /// The stylesheet that paints the overlay color (no inline style under the CSP).
    pub fn stylesheet(&self) -> String {
        if self.color.is_empty() {
            String::new()
        } else {
            format!("/admin/branding/preview.css?color=%23{}", &self.color[1..])
        }
    }
}

pub struct HistoryRow {
    pub version: u64,
    pub at: String,
    pub author: String,
    pub change: String,
    /// (field, before, after), `—` for unset.
    pub diff: Vec<(String, String, String)>,
    pub current: bool,
}

pub fn history(versions: &[BrandingVersion], current: u64) -> Vec<HistoryRow> {
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    versions
        .iter()
        .map(|v| HistoryRow {
            version: v.version,
            at: if v.version == 0 {
                "—".into()
            } else {
                human_time(v.at)
            },
            author: v.author.clone(),
            change: match v.change {
                _ if v.version == 0 => "from configuration".into(),
                ChangeKind::Edit => "edit".into(),
                ChangeKind::Rollback { to } => format!("rollback to v{to}"),
            },
            diff: v
                .diff
                .iter()
                .map(|c| (c.field.clone(), shown(&c.before), shown(&c.after)))
                .collect(),
            current: v.version == current,
        })
        .collect()
}
