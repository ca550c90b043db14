//! The widget's `theme`: custom colors as Belvo's branding guide takes them,
//! `[{"css_key": "--colorPrimary", "value": "#0663F9"}, ...]`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One custom property of the widget's stylesheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"css_key": "--colorPrimary", "value": "#0663F9"}))]
pub struct ThemeEntry {
    /// A CSS custom property: `--`, a letter, then letters, digits and `-` (at most 64 bytes).
    css_key: String,
    /// A short CSS value such as `#0663F9`: 1 to 64 characters among letters, digits, spaces and
    /// `#%(),.-_`.
    value: String,
}

impl ThemeEntry {
    const MAX_KEY: usize = 64;
    const MAX_VALUE: usize = 64;

    /// `css_key` is a CSS custom property (`--name`); `value` a short CSS value with nothing that
    /// could end the declaration (`;`, braces, quotes, angle brackets).
    pub fn parse(css_key: &str, value: &str) -> Result<Self, String> {
        let key_ok = css_key.len() <= Self::MAX_KEY
            && css_key.strip_prefix("--").is_some_and(|name| {
                name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !key_ok {
            return Err(format!(
                "{css_key:?} is not a CSS custom property like --colorPrimary"
            ));
        }
        let value_ok = !value.is_empty()
            && value.len() <= Self::MAX_VALUE
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " #%(),.-_".contains(c));
        if !value_ok {
            return Err(format!(
                "the value of {css_key} must be a short CSS value like #0663F9"
            ));
        }
        Ok(Self {
            css_key: css_key.to_owned(),
            value: value.to_owned(),
        })
    }

    pub fn css_key(&self) -> &str {
        &self.css_key
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

/// The whole theme: at most [`Theme::MAX_ENTRIES`] entries, each key once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<ThemeEntry>", into = "Vec<ThemeEntry>")]
pub struct Theme(Vec<ThemeEntry>);

impl Theme {
    pub const MAX_ENTRIES: usize = 40;

    pub fn new(entries: Vec<ThemeEntry>) -> Result<Self, String> {
        if entries.len() > Self::MAX_ENTRIES {
            return Err(format!("at most {} entries", Self::MAX_ENTRIES));
        }
        for (i, e) in entries.iter().enumerate() {
            if entries[..i].iter().any(|o| o.css_key == e.css_key) {
                return Err(format!("{} appears more than once", e.css_key));
            }
        }
        Ok(Self(entries))
    }

    /// Parses one `--key: value` a line (blank lines ignored), as the branding form takes it.
    pub fn parse_lines(text: &str) -> Result<Self, String> {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| {
                let (key, value) = line
                    .split_once(':')
                    .ok_or_else(|| format!("{line:?} is not `--key: value`"))?;
                ThemeEntry::parse(key.trim(), value.trim().trim_end_matches(';').trim())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(entries)
    }

    pub fn entries(&self) -> &[ThemeEntry] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As Belvo's token request takes it.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        self.0
            .iter()
            .map(|e| serde_json::json!({"css_key": e.css_key, "value": e.value}))
            .collect()
    }
}

/// One `--key: value` a line: the form's and the history's way of showing a theme.
impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {}", e.css_key, e.value)?;
        }
        Ok(())
    }
}

impl TryFrom<Vec<ThemeEntry>> for Theme {
    type Error = String;
    fn try_from(entries: Vec<ThemeEntry>) -> Result<Self, String> {
        // Entries deserialised from JSON skip `ThemeEntry::parse`: check them here.
        let checked = entries
            .iter()
            .map(|e| ThemeEntry::parse(&e.css_key, &e.value))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(checked)
    }
}

impl From<Theme> for Vec<ThemeEntry> {
    fn from(t: Theme) -> Self {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_into_entries_and_print_back() {
        let theme = Theme::parse_lines("--colorPrimary: #0663F9\n\n  --colorSecondary: #FFFFFF;\n")
            .unwrap();
        assert_eq!(theme.entries().len(), 2);
        assert_eq!(
            theme.to_string(),
            "--colorPrimary: #0663F9\n--colorSecondary: #FFFFFF"
        );
        assert_eq!(
            theme.to_json()[0],
            serde_json::json!({"css_key": "--colorPrimary", "value": "#0663F9"})
        );
    }

    #[test]
    fn keys_must_be_custom_properties_and_values_harmless() {
        assert!(Theme::parse_lines("color: red").is_err());
        assert!(Theme::parse_lines("--x: red; } body { display: none").is_err());
        assert!(Theme::parse_lines("--x: url(\"https://evil\")").is_err());
        assert!(Theme::parse_lines("--x: <script>").is_err());
        assert!(Theme::parse_lines("--x #fff").is_err());
        assert!(Theme::parse_lines("--x: #fff\n--x: #000").is_err());
    }

    #[test]
    fn json_entries_are_checked_too() {
        let ok: Result<Theme, _> =
            serde_json::from_value(serde_json::json!([{"css_key": "--a", "value": "#000000"}]));
        assert!(ok.is_ok());
        let bad: Result<Theme, _> =
            serde_json::from_value(serde_json::json!([{"css_key": "a", "value": "#000000"}]));
        assert!(bad.is_err());
    }
}
