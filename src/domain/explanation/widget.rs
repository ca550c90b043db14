//! Explanations of the hosted widget's codes.

use super::{Entry, Tr};

/// Widget exit codes, the error event and the warning (OFDA guide §3).
pub(super) const WIDGET: &[Entry] = &[
    Entry {
        code: "institution_down",
        belvo_code: "institution_down",
        message: None,
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
        belvo_code: "login_error",
        message: None,
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
        belvo_code: "too_many_sessions",
        message: None,
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
        belvo_code: "unexpected_error",
        message: None,
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
        belvo_code: "ACCESS_TOKEN_NOT_VALID",
        message: None,
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
        belvo_code: "institution_disabled",
        message: None,
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

/// This server's own codes on a session's `last_error` (never Belvo's, never an HTTP answer).
pub(super) const LOCAL: &[Entry] = &[
    // A success naming another user's link: the session failed instead.
    Entry {
        code: "link_owned_elsewhere",
        belvo_code: "link_owned_elsewhere",
        message: None,
        what: Tr {
            es: "La conexión que informó el widget pertenece a otra persona.",
            pt: "A conexão informada pelo widget pertence a outra pessoa.",
            en: "The connection the widget reported belongs to someone else.",
        },
        action: Tr {
            es: "Vuelve a conectar tu cuenta desde la app.",
            pt: "Conecte sua conta novamente pelo app.",
            en: "Connect your own account again from the app.",
        },
        retryable: true,
    },
    // An update-mode (reconnect) success naming another link than the one being repaired.
    Entry {
        code: "link_mismatch",
        belvo_code: "link_mismatch",
        message: None,
        what: Tr {
            es: "Se conectó una cuenta distinta de la que había que actualizar.",
            pt: "Foi conectada uma conta diferente da que precisava ser atualizada.",
            en: "A different account was connected than the one to update.",
        },
        action: Tr {
            es: "Vuelve a intentarlo desde la app con la misma cuenta.",
            pt: "Tente novamente pelo app com a mesma conta.",
            en: "Try again from the app with the same account.",
        },
        retryable: true,
    },
];
