//! What a Belvo error code means for a person, in Spanish, Portuguese and English (SPEC §7).
//! One table for the whole service: callbacks, status, support pages and the API flow use it.

use serde::Serialize;

mod health;
mod imss;
mod widget;

/// A language of the explanations, spelled as its ISO 639-1 code (`"pt".parse()`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "lowercase")]
pub enum Lang {
    Es,
    Pt,
    #[default]
    En,
}

impl Lang {
    /// The language of a primary language subtag (`es`, `pt`, `en`, any case), if supported.
    pub fn from_primary_tag(tag: &str) -> Option<Self> {
        tag.to_ascii_lowercase().parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Text in the three languages.
struct Tr {
    es: &'static str,
    pt: &'static str,
    en: &'static str,
}

impl Tr {
    fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Es => self.es,
            Lang::Pt => self.pt,
            Lang::En => self.en,
        }
    }
}

struct Entry {
    /// Our code for this case: distinct per row, stable for clients.
    code: &'static str,
    /// Belvo's code it explains.
    belvo_code: &'static str,
    /// Belvo's exact message, where one code covers several cases (IMSS `login_error`).
    message: Option<&'static str>,
    what: Tr,
    action: Tr,
    retryable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// Belvo's code this explains, or `unknown` for the generic fallback.
    pub code: &'static str,
    /// What happened.
    pub what: &'static str,
    /// What the user can do about it.
    pub user_action: &'static str,
    /// Whether trying again later can succeed.
    pub retryable: bool,
}

const UNKNOWN: Entry = Entry {
    code: "unknown",
    belvo_code: "",
    message: None,
    what: Tr {
        es: "Ocurrió un error al conectar con la institución.",
        pt: "Ocorreu um erro ao conectar com a instituição.",
        en: "Something went wrong while connecting to the institution.",
    },
    action: Tr {
        es: "Inténtalo de nuevo; si se repite, contacta a soporte.",
        pt: "Tente novamente; se continuar, fale com o suporte.",
        en: "Try again; if it keeps happening, contact support.",
    },
    retryable: true,
};

/// Every row, most specific first: Belvo's codes, then this server's own.
fn rows() -> impl Iterator<Item = &'static Entry> {
    belvo_rows().chain(widget::LOCAL.iter())
}

fn belvo_rows() -> impl Iterator<Item = &'static Entry> {
    imss::IMSS.iter().chain(widget::WIDGET.iter())
}

/// Every code an explanation of a Belvo refusal can carry (each row's, then `unknown`), for the
/// error registry.
pub fn codes() -> impl Iterator<Item = &'static str> {
    belvo_rows().map(|e| e.code).chain([UNKNOWN.code])
}

/// Explains Belvo's `code`; unknown codes get a generic explanation (and are logged and counted
/// for the table's owners).
pub fn explain(code: &str, lang: Lang) -> Explanation {
    explain_message(code, None, lang)
}

/// Explains a link health reason's `code` (SPEC §11): its own row, or the generic fallback.
pub fn explain_health(code: &str, lang: Lang) -> Explanation {
    let entry = health::HEALTH
        .iter()
        .find(|e| e.code == code)
        .unwrap_or_else(|| {
            tracing::warn!(code, "no explanation for this health reason");
            crate::metrics::unexplained_error_code();
            &UNKNOWN
        });
    Explanation {
        code: entry.code,
        what: entry.what.get(lang),
        user_action: entry.action.get(lang),
        retryable: entry.retryable,
    }
}

/// Explains Belvo's `code` with its `message`: an exact message picks its own row (each line of
/// the IMSS table), otherwise the code's general row.
pub fn explain_message(code: &str, message: Option<&str>, lang: Lang) -> Explanation {
    let exact = message.and_then(|m| {
        rows().find(|e| e.belvo_code == code && e.message.is_some_and(|x| x == m.trim()))
    });
    let entry = exact
        .or_else(|| rows().find(|e| e.belvo_code == code && e.message.is_none()))
        .unwrap_or_else(|| {
            tracing::warn!(belvo_code = code, "no explanation for this Belvo code");
            crate::metrics::unexplained_error_code();
            &UNKNOWN
        });
    Explanation {
        code: entry.code,
        what: entry.what.get(lang),
        user_action: entry.action.get(lang),
        retryable: entry.retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_widget_code_has_its_own_explanation_in_three_languages() {
        for code in [
            "institution_down",
            "login_error",
            "too_many_sessions",
            "unexpected_error",
            "ACCESS_TOKEN_NOT_VALID",
            "institution_disabled",
        ] {
            let texts: Vec<_> = [Lang::Es, Lang::Pt, Lang::En]
                .into_iter()
                .map(|l| explain(code, l))
                .collect();
            assert!(texts.iter().all(|e| e.code == code), "{code}");
            assert_ne!(texts[0].what, texts[2].what, "{code}");
            assert_ne!(texts[1].what, texts[2].what, "{code}");
        }
    }

    #[test]
    fn every_imss_row_has_its_own_code() {
        let mut codes: Vec<&str> = imss::IMSS
            .iter()
            .map(|e| {
                let x = explain_message(e.belvo_code, e.message, Lang::Es);
                assert_eq!(x.code, e.code);
                x.code
            })
            .collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n);
        // An unknown login_error message falls back to the general login_error row.
        assert_eq!(
            explain_message("login_error", Some("algo nuevo"), Lang::En).code,
            "login_error"
        );
    }

    #[test]
    fn every_health_reason_is_explained_in_three_languages() {
        for code in [
            "invalid_credentials",
            "token_required",
            "invalid_link",
            "link_unconfirmed",
            "link_gone",
            "consent_expiring",
            "consent_expired",
            "consent_unavailable",
        ] {
            let [es, pt, en] = [Lang::Es, Lang::Pt, Lang::En].map(|l| explain_health(code, l));
            assert_eq!(en.code, code);
            assert!(es.what != en.what && pt.what != en.what, "{code}");
        }
        assert_eq!(explain_health("nope", Lang::En).code, "unknown");
    }

    #[test]
    fn unknown_codes_fall_back() {
        assert_eq!(explain("brand_new_code", Lang::En).code, "unknown");
    }

    #[test]
    fn primary_tags_name_the_three_languages() {
        assert_eq!(Lang::from_primary_tag("PT"), Some(Lang::Pt));
        assert_eq!(Lang::from_primary_tag("es"), Some(Lang::Es));
        assert_eq!(Lang::from_primary_tag("en"), Some(Lang::En));
        assert_eq!(Lang::from_primary_tag("de"), None);
    }
}
