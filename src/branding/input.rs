//! What an editor sends — the admin form's fields, or the API's JSON turned into them — checked
//! field by field so each problem can be shown next to its field.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::branding::{HexColor, HttpsUrl};
use crate::domain::branding_version::WidgetLook;
use crate::domain::theme::Theme;

/// Problems by field name.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// What `branding` may hold, as Belvo takes it.
const BRANDING_FIELDS: [&str; 6] = [
    "company_name",
    "company_icon",
    "company_logo",
    "company_terms_url",
    "overlay_background_color",
    "social_proof",
];

/// The API body, for messages.
const SHAPE: &str =
    "{\"branding\": {\"company_name\": …, …}, \"theme\": [{\"css_key\": …, \"value\": …}]}";

/// "field `a`" or "fields `a`, `b`".
fn fields_named(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [one] => format!("field {one}"),
        many => format!("fields {}", many.join(", ")),
    }
}

/// Every field as text, as the form posts it. Empty means "unset: Belvo's default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BrandingInput {
    pub company_name: String,
    pub company_icon: String,
    pub company_logo: String,
    pub company_terms_url: String,
    pub overlay_background_color: String,
    /// `show`, `hide` or empty.
    pub social_proof: String,
    /// One `--key: value` a line.
    pub theme: String,
}

impl BrandingInput {
    /// The form's fields for a saved look.
    pub fn from_look(look: &WidgetLook) -> Self {
        let field = |name| look.field(name).unwrap_or_default();
        Self {
            company_name: field("company_name"),
            company_icon: field("company_icon"),
            company_logo: field("company_logo"),
            company_terms_url: field("company_terms_url"),
            overlay_background_color: field("overlay_background_color"),
            social_proof: match look.branding.social_proof {
                Some(true) => "show".into(),
                Some(false) => "hide".into(),
                None => String::new(),
            },
            theme: field("theme"),
        }
    }

    /// The API's body: `{"branding": {...as Belvo takes it...}, "theme": [{css_key, value}]}`.
    pub fn from_json(body: &serde_json::Value) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut input = Self::default();
        let Some(obj) = body.as_object() else {
            errors.insert(
                "body",
                "must be a JSON object with `branding` and `theme`".into(),
            );
            return Err(errors);
        };
        let unknown: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !["branding", "theme"].contains(k))
            .collect();
        if !unknown.is_empty() {
            let misplaced = unknown.iter().any(|k| BRANDING_FIELDS.contains(k));
            errors.insert(
                "body",
                format!(
                    "unknown {}{}; the body is {SHAPE}",
                    fields_named(&unknown),
                    if misplaced {
                        " (branding fields go inside `branding`)"
                    } else {
                        ""
                    },
                ),
            );
        }
        let empty = serde_json::Map::new();
        let branding = match obj.get("branding") {
            None | Some(serde_json::Value::Null) => &empty,
            Some(serde_json::Value::Object(b)) => b,
            Some(_) => {
                errors.insert("branding", "must be an object".into());
                &empty
            }
        };
        let (mut unknown, mut mistyped) = (Vec::new(), Vec::new());
        for (key, value) in branding {
            let text = match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) if key == "social_proof" => {
                    if *b { "show" } else { "hide" }.into()
                }
                _ => {
                    mistyped.push(key.as_str());
                    continue;
                }
            };
            match key.as_str() {
                "company_name" => input.company_name = text,
                "company_icon" => input.company_icon = text,
                "company_logo" => input.company_logo = text,
                "company_terms_url" => input.company_terms_url = text,
                "overlay_background_color" => input.overlay_background_color = text,
                "social_proof" => input.social_proof = text,
                other => unknown.push(other),
            }
        }
        let mut problems = Vec::new();
        if !unknown.is_empty() {
            problems.push(format!(
                "unknown {} (known: {})",
                fields_named(&unknown),
                BRANDING_FIELDS.join(", ")
            ));
        }
        if !mistyped.is_empty() {
            problems.push(format!(
                "{} must be text (`social_proof` also true or false) or null",
                fields_named(&mistyped)
            ));
        }
        if !problems.is_empty() {
            errors.insert("branding", problems.join("; "));
        }
        match obj.get("theme") {
            None | Some(serde_json::Value::Null) => {}
            Some(theme) => match serde_json::from_value::<Theme>(theme.clone()) {
                Ok(theme) => input.theme = theme.to_string(),
                Err(e) => {
                    errors.insert(
                        "theme",
                        format!("must be [{{\"css_key\", \"value\"}}]: {e}"),
                    );
                }
            },
        }
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        }
    }

    /// The look these fields describe, or what is wrong with each bad field.
    pub fn validate(&self) -> Result<WidgetLook, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut look = WidgetLook::default();
        let name = self.company_name.trim();
        if !name.is_empty() {
            look.branding.company_name = Some(name.to_owned());
            if let Err((field, problem)) = look.branding.validate() {
                errors.insert(field, problem);
            }
        }
        let url = |field: &'static str, raw: &str, errors: &mut FieldErrors| {
            let raw = raw.trim();
            if raw.is_empty() {
                return None;
            }
            HttpsUrl::parse(raw)
                .map_err(|problem| errors.insert(field, format!("The address {problem}.")))
                .ok()
        };
        look.branding.company_icon = url("company_icon", &self.company_icon, &mut errors);
        look.branding.company_logo = url("company_logo", &self.company_logo, &mut errors);
        look.branding.company_terms_url =
            url("company_terms_url", &self.company_terms_url, &mut errors);
        let color = self.overlay_background_color.trim();
        if !color.is_empty() {
            match HexColor::parse(color) {
                Ok(c) => look.branding.overlay_background_color = Some(c),
                Err(problem) => {
                    errors.insert("overlay_background_color", format!("The color {problem}."));
                }
            }
        }
        look.branding.social_proof = match self.social_proof.as_str() {
            "" => None,
            "show" => Some(true),
            "hide" => Some(false),
            _ => {
                errors.insert(
                    "social_proof",
                    "Choose show, hide or Belvo's default.".into(),
                );
                None
            }
        };
        match Theme::parse_lines(&self.theme) {
            Ok(theme) => look.theme = theme,
            Err(problem) => {
                errors.insert("theme", problem);
            }
        }
        if errors.is_empty() {
            Ok(look)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> BrandingInput {
        BrandingInput {
            company_name: " ACME ".into(),
            company_logo: "https://cdn.acme.mx/logo.svg".into(),
            overlay_background_color: "#112233".into(),
            social_proof: "hide".into(),
            theme: "--colorPrimary: #0663F9".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_form_becomes_a_look_and_back() {
        let look = input().validate().unwrap();
        assert_eq!(look.branding.company_name.as_deref(), Some("ACME"));
        assert_eq!(look.branding.social_proof, Some(false));
        assert_eq!(look.theme.entries().len(), 1);
        let mut back = input();
        back.company_name = "ACME".into();
        assert_eq!(BrandingInput::from_look(&look), back);
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let bad = BrandingInput {
            company_name: "x".repeat(61),
            company_icon: "http://acme.mx/icon.svg".into(),
            company_terms_url: "javascript:alert(1)".into(),
            overlay_background_color: "red".into(),
            social_proof: "maybe".into(),
            theme: "color: red".into(),
            ..Default::default()
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<_> = errors.keys().copied().collect();
        assert_eq!(
            fields,
            [
                "company_icon",
                "company_name",
                "company_terms_url",
                "overlay_background_color",
                "social_proof",
                "theme"
            ]
        );
        assert!(errors["company_icon"].contains("https"));
    }

    #[test]
    fn json_bodies_use_belvo_shapes() {
        let body = serde_json::json!({
            "branding": {"company_name": "ACME", "social_proof": true, "company_logo": null},
            "theme": [{"css_key": "--colorPrimary", "value": "#0663F9"}]
        });
        let input = BrandingInput::from_json(&body).unwrap();
        assert_eq!(input.social_proof, "show");
        assert_eq!(input.theme, "--colorPrimary: #0663F9");
        let bad = serde_json::json!({"branding": {"logo": "x"}, "extra": 1});
        let errors = BrandingInput::from_json(&bad).unwrap_err();
        assert!(errors.contains_key("branding") && errors.contains_key("body"));
    }

    #[test]
    fn every_unknown_field_is_named_with_the_shape_to_use() {
        // The branding fields sent at the top level instead of inside `branding`.
        let flat = serde_json::json!({
            "company_name": "ACME", "social_proof": true, "company_logo": "https://acme.mx/l.svg"
        });
        let errors = BrandingInput::from_json(&flat).unwrap_err();
        let body = &errors["body"];
        for field in ["company_name", "social_proof", "company_logo"] {
            assert!(body.contains(&format!("`{field}`")), "{body}");
        }
        assert!(body.contains("go inside `branding`"), "{body}");
        assert!(body.contains("{\"branding\": {"), "{body}");

        let wrong = serde_json::json!({"branding": {"logo": "x", "icon": "y", "company_name": 3, "social_proof": []}});
        let errors = BrandingInput::from_json(&wrong).unwrap_err();
        let branding = &errors["branding"];
        for field in ["`logo`", "`icon`", "`company_name`", "`social_proof`"] {
            assert!(branding.contains(field), "{branding}");
        }
    }
}
