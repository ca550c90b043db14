//! What a Belvo error code means for a person, in Spanish, Portuguese and English (SPEC §7).
//! One table for the whole service: callbacks, status, support pages and the API flow use it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    Es,
    Pt,
    #[default]
    En,
}

impl Lang {
    /// Picks the first supported language of an `Accept-Language` header (weights ignored:
    /// apps send their UI language first).
    pub fn from_accept_language(header: Option<&str>) -> Self {
        header
            .into_iter()
            .flat_map(|h| h.split(','))
            .map(|part| {
                part.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .find_map(|tag| match tag.split('-').next() {
                Some("es") => Some(Self::Es),
                Some("pt") => Some(Self::Pt),
                Some("en") => Some(Self::En),
                _ => None,
            })
            .unwrap_or_default()
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
    code: &'static str,
    what: Tr,
    action: Tr,
    retryable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

const TABLE: &[Entry] = &[
    Entry {
        code: "institution_down",
        what: Tr {
            es: "La institución no está disponible en este momento.",
            pt: "A instituição está fora do ar no momento.",
            en: "The institution is down right now.",
        },
        action: Tr {
            es: "Inténtalo de nuevo más tarde.",
            pt: "Tente novamente mais tarde.",
            en: "Try again later.",
        },
        retryable: true,
    },
    Entry {
        code: "login_error",
        what: Tr {
            es: "No se pudo iniciar sesión en la institución con esos datos.",
            pt: "Não foi possível entrar na instituição com esses dados.",
            en: "Logging in to the institution failed with the details given.",
        },
        action: Tr {
            es: "Revisa tus datos de acceso; si tu cuenta está bloqueada, contacta a la institución.",
            pt: "Confira seus dados de acesso; se a conta estiver bloqueada, fale com a instituição.",
            en: "Check your login details; if your account is locked, contact the institution.",
        },
        retryable: true,
    },
    Entry {
        code: "too_many_sessions",
        what: Tr {
            es: "Ya hay una sesión abierta en la institución con estas credenciales.",
            pt: "Já existe uma sessão aberta na instituição com essas credenciais.",
            en: "A session is already open with the institution for these credentials.",
        },
        action: Tr {
            es: "Cierra la otra sesión o espera unos minutos y vuelve a intentarlo.",
            pt: "Feche a outra sessão ou aguarde alguns minutos e tente de novo.",
            en: "Close the other session or wait a few minutes, then try again.",
        },
        retryable: true,
    },
    Entry {
        code: "unexpected_error",
        what: Tr {
            es: "Belvo no pudo procesar la solicitud por un problema interno o de la institución.",
            pt: "A Belvo não conseguiu processar a solicitação por um problema interno ou da instituição.",
            en: "Belvo could not process the request because of an internal or institution problem.",
        },
        action: Tr {
            es: "Inténtalo de nuevo más tarde.",
            pt: "Tente novamente mais tarde.",
            en: "Try again later.",
        },
        retryable: true,
    },
    Entry {
        code: "ACCESS_TOKEN_NOT_VALID",
        what: Tr {
            es: "La sesión del widget expiró o no es válida.",
            pt: "A sessão do widget expirou ou não é válida.",
            en: "The widget session expired or is not valid.",
        },
        action: Tr {
            es: "Vuelve a abrir la conexión desde la app.",
            pt: "Abra a conexão novamente pelo app.",
            en: "Start the connection again from the app.",
        },
        retryable: true,
    },
    Entry {
        code: "institution_disabled",
        what: Tr {
            es: "La institución no está disponible temporalmente.",
            pt: "A instituição está temporariamente indisponível.",
            en: "The institution is temporarily unavailable.",
        },
        action: Tr {
            es: "Elige otra institución o inténtalo más tarde.",
            pt: "Escolha outra instituição ou tente mais tarde.",
            en: "Pick another institution or try again later.",
        },
        retryable: true,
    },
];

const UNKNOWN: Entry = Entry {
    code: "unknown",
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

/// Explains `code`; unknown codes get a generic explanation (and are logged for the table's owners).
pub fn explain(code: &str, lang: Lang) -> Explanation {
    let entry = TABLE.iter().find(|e| e.code == code).unwrap_or_else(|| {
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
    fn unknown_codes_fall_back() {
        assert_eq!(explain("brand_new_code", Lang::En).code, "unknown");
    }

    #[test]
    fn accept_language_picks_the_first_supported() {
        assert_eq!(Lang::from_accept_language(Some("pt-BR,pt;q=0.9")), Lang::Pt);
        assert_eq!(
            Lang::from_accept_language(Some("fr, es-MX;q=0.8")),
            Lang::Es
        );
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }
}
