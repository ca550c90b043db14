//! Explanations of a link's health reasons (SPEC §11): why a connected link stopped working.
//! Looked up by the reason's code only (`explain_health`), never as an API-flow refusal.

use super::{Entry, Tr};

const RECONNECT: Tr = Tr {
    es: "Vuelve a conectar tu cuenta desde la app.",
    pt: "Conecte sua conta novamente pelo app.",
    en: "Reconnect your account from the app.",
};

pub(super) const HEALTH: &[Entry] = &[
    Entry {
        code: "invalid_credentials",
        belvo_code: "invalid_credentials",
        message: None,
        what: Tr {
            es: "La institución ya no acepta los datos de acceso guardados (¿cambiaste tu contraseña?).",
            pt: "A instituição não aceita mais os dados de acesso salvos (você mudou sua senha?).",
            en: "The institution no longer accepts the saved login details (did the password change?).",
        },
        action: RECONNECT,
        retryable: false,
    },
    Entry {
        code: "token_required",
        belvo_code: "token_required",
        message: None,
        what: Tr {
            es: "La institución pide un nuevo código de seguridad (token) para seguir actualizando.",
            pt: "A instituição pede um novo código de segurança (token) para continuar atualizando.",
            en: "The institution asks for a new security code (token) to keep updating.",
        },
        action: Tr {
            es: "Vuelve a conectar tu cuenta desde la app e ingresa el código.",
            pt: "Conecte sua conta novamente pelo app e informe o código.",
            en: "Reconnect your account from the app and enter the code.",
        },
        retryable: false,
    },
    Entry {
        code: "invalid_link",
        belvo_code: "invalid_link",
        message: None,
        what: Tr {
            es: "La conexión dejó de funcionar después de varios intentos fallidos de inicio de sesión.",
            pt: "A conexão parou de funcionar após várias tentativas de login sem sucesso.",
            en: "The connection stopped working after several failed logins.",
        },
        action: RECONNECT,
        retryable: false,
    },
    Entry {
        code: "link_unconfirmed",
        belvo_code: "link_unconfirmed",
        message: None,
        what: Tr {
            es: "Belvo todavía no confirmó esta conexión.",
            pt: "A Belvo ainda não confirmou esta conexão.",
            en: "Belvo has not confirmed this connection yet.",
        },
        action: Tr {
            es: "Espera unos minutos y vuelve a consultar.",
            pt: "Aguarde alguns minutos e consulte novamente.",
            en: "Wait a few minutes and look again.",
        },
        retryable: true,
    },
    Entry {
        code: "link_gone",
        belvo_code: "link_gone",
        message: None,
        what: Tr {
            es: "Belvo ya no tiene esta conexión: fue eliminada.",
            pt: "A Belvo não tem mais esta conexão: ela foi excluída.",
            en: "Belvo no longer has this connection: it was deleted.",
        },
        action: Tr {
            es: "Conecta tu cuenta de nuevo desde la app.",
            pt: "Conecte sua conta de novo pelo app.",
            en: "Connect your account again from the app.",
        },
        retryable: false,
    },
    // Brazil open-finance consents (SPEC §12): one row per state that is not `active`.
    Entry {
        code: "consent_expiring",
        belvo_code: "consent_expiring",
        message: None,
        what: Tr {
            es: "El consentimiento para compartir los datos de esta cuenta vence pronto.",
            pt: "O consentimento para compartilhar os dados desta conta vence em breve.",
            en: "The consent to share this account's data expires soon.",
        },
        action: Tr {
            es: "Renueva el consentimiento en el portal de consentimientos antes de que venza.",
            pt: "Renove o consentimento no portal de consentimentos antes que ele vença.",
            en: "Renew the consent in the consent portal before it expires.",
        },
        retryable: false,
    },
    Entry {
        code: "consent_expired",
        belvo_code: "consent_expired",
        message: None,
        what: Tr {
            es: "El consentimiento para compartir los datos de esta cuenta venció: los datos ya no se actualizan.",
            pt: "O consentimento para compartilhar os dados desta conta venceu: os dados não são mais atualizados.",
            en: "The consent to share this account's data has expired: the data no longer updates.",
        },
        action: Tr {
            es: "Renueva el consentimiento desde la app (\"Renovar consentimiento\").",
            pt: "Renove o consentimento pelo app (\"Renovar consentimento\").",
            en: "Renew the consent from the app (\"Renew consent\").",
        },
        retryable: false,
    },
    Entry {
        code: "consent_unavailable",
        belvo_code: "consent_unavailable",
        message: None,
        what: Tr {
            es: "La institución no puede entregar por ahora algunos de los datos autorizados.",
            pt: "A instituição não consegue entregar agora alguns dos dados autorizados.",
            en: "The institution cannot deliver some of the authorised data right now.",
        },
        action: Tr {
            es: "No necesitas hacer nada por ahora; si continúa, revisa tus consentimientos en el portal.",
            pt: "Você não precisa fazer nada por enquanto; se continuar, revise seus consentimentos no portal.",
            en: "Nothing to do for now; if it lasts, review your consents in the consent portal.",
        },
        retryable: true,
    },
];
