//! Explanations of the MX IMSS error table (MX employment guide, "Common errors when creating a
//! link"): one row per Belvo message, so each gets its own code and advice.

use super::{Entry, Tr};

const RETRY_TOMORROW: Tr = Tr {
    es: "Vuelve a intentarlo mañana.",
    pt: "Tente novamente amanhã.",
    en: "Try again tomorrow.",
};

const VISIT_IMSS: Tr = Tr {
    es: "Acude a tu subdelegación del IMSS para corregir tus datos y vuelve a intentarlo.",
    pt: "Vá à subdelegação do IMSS para corrigir seus dados e tente novamente.",
    en: "Visit your IMSS office to correct your records, then try again.",
};

const CHECK_CURP: Tr = Tr {
    es: "Revisa tu CURP (18 caracteres, sin espacios) y vuelve a intentarlo.",
    pt: "Confira seu CURP (18 caracteres, sem espaços) e tente novamente.",
    en: "Check your CURP (18 characters, no spaces) and try again.",
};

pub(super) const IMSS: &[Entry] = &[
    Entry {
        code: "imss_nss_curp_mismatch",
        belvo_code: "invalid_credentials",
        message: Some("El NSS capturado no coincide con la CURP"),
        what: Tr {
            es: "El Número de Seguridad Social registrado no coincide con tu CURP.",
            pt: "O número de seguridade social registrado não corresponde ao seu CURP.",
            en: "The social security number on record does not match your CURP.",
        },
        action: VISIT_IMSS,
        retryable: false,
    },
    Entry {
        code: "imss_invalid_credentials",
        belvo_code: "invalid_credentials",
        message: None,
        what: Tr {
            es: "Los datos proporcionados no son válidos para el IMSS.",
            pt: "Os dados informados não são válidos para o IMSS.",
            en: "The details given are not valid for IMSS.",
        },
        action: CHECK_CURP,
        retryable: false,
    },
    Entry {
        code: "imss_nss_not_found",
        belvo_code: "login_error",
        message: Some("El NSS no fue localizado en el IMSS"),
        what: Tr {
            es: "Tu Número de Seguridad Social no aparece en el IMSS.",
            pt: "Seu número de seguridade social não consta no IMSS.",
            en: "Your social security number is not in the IMSS system.",
        },
        action: VISIT_IMSS,
        retryable: false,
    },
    Entry {
        code: "imss_curp_not_in_renapo",
        belvo_code: "login_error",
        message: Some("El CURP proporcionado no fue localizado en la entidad externa RENAPO"),
        what: Tr {
            es: "Tu CURP no aparece en RENAPO.",
            pt: "Seu CURP não consta no RENAPO.",
            en: "Your CURP was not found in RENAPO, the national population registry.",
        },
        action: CHECK_CURP,
        retryable: false,
    },
    Entry {
        code: "imss_curp_incorrect",
        belvo_code: "login_error",
        message: Some("CURP es incorrecto"),
        what: Tr {
            es: "La CURP es incorrecta (puede tener un error de escritura o formato).",
            pt: "O CURP está incorreto (pode ter um erro de digitação ou formato).",
            en: "The CURP is incorrect (a typo, missing characters or a bad format).",
        },
        action: CHECK_CURP,
        retryable: false,
    },
    Entry {
        code: "imss_curp_length",
        belvo_code: "login_error",
        message: Some("Por favor, ingresa un CURP válido. Debe contener 18 caracteres"),
        what: Tr {
            es: "La CURP no tiene 18 caracteres.",
            pt: "O CURP não tem 18 caracteres.",
            en: "The CURP does not have 18 characters.",
        },
        action: CHECK_CURP,
        retryable: false,
    },
    Entry {
        code: "imss_no_nss",
        belvo_code: "login_error",
        message: Some("La persona no cuenta con NSS"),
        what: Tr {
            es: "No tienes un Número de Seguridad Social asignado.",
            pt: "Você não tem um número de seguridade social atribuído.",
            en: "You do not have a social security number (NSS).",
        },
        action: Tr {
            es: "Tramita tu NSS en el IMSS y vuelve a intentarlo.",
            pt: "Solicite seu NSS no IMSS e tente novamente.",
            en: "Request your NSS from IMSS, then try again.",
        },
        retryable: false,
    },
    Entry {
        code: "imss_data_inconsistent",
        belvo_code: "login_error",
        message: Some("Los datos registrados en el IMSS asociados a la CURP, presentan alguna inconsistencia, por favor acude a tu Subdelegación para obtener tu Número de Seguridad Social."),
        what: Tr {
            es: "Tus datos en el IMSS tienen una inconsistencia.",
            pt: "Seus dados no IMSS têm uma inconsistência.",
            en: "Your IMSS records are inconsistent with the details given.",
        },
        action: VISIT_IMSS,
        retryable: false,
    },
    Entry {
        code: "imss_paperwork_required",
        belvo_code: "login_error",
        message: Some("Es necesario que acudas a la subdelegación más cercana a tu domicilio a presentar tu trámite"),
        what: Tr {
            es: "El IMSS necesita que presentes un trámite en persona.",
            pt: "O IMSS precisa que você apresente documentos pessoalmente.",
            en: "IMSS needs you to file paperwork in person.",
        },
        action: Tr {
            es: "Acude a la subdelegación más cercana a tu domicilio y vuelve a intentarlo después.",
            pt: "Vá à subdelegação mais próxima de sua casa e tente depois.",
            en: "Go to the IMSS office nearest your home, then try again.",
        },
        retryable: false,
    },
    Entry {
        code: "imss_email_taken",
        belvo_code: "login_error",
        message: Some("El correo ya está registrado con otro CURP"),
        what: Tr {
            es: "Tu correo ya está registrado en el IMSS con otra CURP.",
            pt: "Seu e-mail já está registrado no IMSS com outro CURP.",
            en: "Your email is already registered at IMSS with another CURP.",
        },
        action: VISIT_IMSS,
        retryable: false,
    },
    Entry {
        code: "forbidden_by_host",
        belvo_code: "forbidden_by_host",
        message: None,
        what: Tr {
            es: "Se alcanzó el límite de intentos diarios para esta CURP.",
            pt: "O limite diário de tentativas para este documento foi atingido.",
            en: "The daily limit of attempts for this ID was reached.",
        },
        action: RETRY_TOMORROW,
        retryable: true,
    },
];
