//! `GET /w/{session_id}`: the session's `widget_url` (SPEC §11). A browser URL like the callback
//! URLs: it needs no app token, the random session id is the capability. Sends the browser to
//! Belvo's widget with a usable token, or shows a page in the session's language.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::explanation::Lang;
use crate::domain::ids::SessionId;
use crate::domain::session::Status;
use crate::error::ErrorCode;
use crate::pages::html;
use crate::sessions::widget::WidgetRefusal;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "widget_refused.html")]
struct RefusedPage<'a> {
    lang: &'static str,
    badge: &'a str,
    title: &'a str,
    message: &'a str,
    retry: Option<String>,
    retry_label: &'a str,
    close_hint: &'a str,
    code: &'a str,
}

/// Opens the session's widget: `302` to Belvo's hosted widget with a token that has more than
/// a minute left (renewed here when needed), or a page saying why not.
#[utoipa::path(
    get,
    path = "/w/{session_id}",
    operation_id = "open_widget",
    tag = "widget sessions",
    params(("session_id" = String, Path, format = Uuid)),
    responses(
        (status = 302, description = "To Belvo's widget with a usable access token; the opening is counted (`opened_at`, `opens`)"),
        (status = 404, description = "Unknown session (page)", content_type = "text/html"),
        (status = 410, description = "`session_finished`, `session_expired`, or `consent_details_required` for a Brazil open-finance session whose first token expired (page in the session's language)", content_type = "text/html"),
        (status = 429, description = "`too_many_requests`: the user's Belvo token budget is spent (page offering to try again)", content_type = "text/html"),
        (status = 502, description = "Belvo refused or could not be reached while renewing the token; the session stays pending (page offering to try again)", content_type = "text/html"),
        (status = 503, description = "Storage briefly unavailable (page offering to try again)", content_type = "text/html"),
        (status = 504, description = "Belvo did not answer in time (page offering to try again)", content_type = "text/html"),
    )
)]
pub async fn widget(
    state: web::Data<AppState>,
    path: Result<web::Path<SessionId>, actix_web::Error>,
    req: HttpRequest,
) -> HttpResponse {
    let refusal = match path {
        Ok(id) => match state.sessions.open_widget(&id).await {
            Ok(location) => {
                return HttpResponse::Found()
                    .insert_header((header::LOCATION, location))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .insert_header((header::REFERRER_POLICY, "no-referrer"))
                    .finish()
            }
            Err(refusal) => refusal,
        },
        Err(_) => WidgetRefusal::Unknown,
    };
    let path = req.path();
    refused(&refusal, path, super::lang::request_lang(&req))
}

/// The page for a refusal; `unknown_lang` is the request's, for a session that does not exist.
fn refused(refusal: &WidgetRefusal, path: &str, unknown_lang: Lang) -> HttpResponse {
    let (status, code, lang, badge, texts) = match refusal {
        WidgetRefusal::Unknown => (
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            unknown_lang,
            "failed",
            &UNKNOWN,
        ),
        WidgetRefusal::Closed {
            status: Status::Expired | Status::Pending,
            lang,
        } => (
            StatusCode::GONE,
            ErrorCode::SessionExpired,
            *lang,
            "expired",
            &EXPIRED,
        ),
        WidgetRefusal::Closed { status, lang } => (
            StatusCode::GONE,
            ErrorCode::SessionFinished,
            *lang,
            status.as_str(),
            &FINISHED,
        ),
        WidgetRefusal::ConsentDetailsRequired { lang } => (
            StatusCode::GONE,
            ErrorCode::ConsentDetailsRequired,
            *lang,
            "expired",
            &CONSENT,
        ),
        WidgetRefusal::Failed { error, lang } => {
            tracing::warn!(code = %error.code, error = %error.message, "widget not opened");
            (error.status(), error.code, *lang, "failed", &FAILED)
        }
    };
    let t = |text: &Texts| -> &'static str {
        match lang {
            Lang::Es => text.es,
            Lang::Pt => text.pt,
            Lang::En => text.en,
        }
    };
    let retry = matches!(refusal, WidgetRefusal::Failed { .. }).then(|| path.to_owned());
    let mut response = html(
        status,
        &RefusedPage {
            lang: lang.as_str(),
            badge,
            title: t(&texts.0),
            message: t(&texts.1),
            retry,
            retry_label: t(&RETRY),
            close_hint: t(&CLOSE),
            code: code.as_str(),
        },
    );
    response.extensions_mut().insert(code);
    response
}

struct Texts {
    es: &'static str,
    pt: &'static str,
    en: &'static str,
}

const UNKNOWN: (Texts, Texts) = (
    Texts {
        es: "No encontramos esta conexión",
        pt: "Não encontramos esta conexão",
        en: "We could not find this connection",
    },
    Texts {
        es: "El enlace no es válido. Vuelve a la app y empieza de nuevo.",
        pt: "O link não é válido. Volte ao app e comece de novo.",
        en: "The link is not valid. Go back to the app and start again.",
    },
);

const EXPIRED: (Texts, Texts) = (
    Texts {
        es: "Esta conexión expiró",
        pt: "Esta conexão expirou",
        en: "This connection has expired",
    },
    Texts {
        es: "Pasó demasiado tiempo. Vuelve a la app y empieza de nuevo.",
        pt: "Passou tempo demais. Volte ao app e comece de novo.",
        en: "Too much time has passed. Go back to the app and start again.",
    },
);

const FINISHED: (Texts, Texts) = (
    Texts {
        es: "Esta conexión ya terminó",
        pt: "Esta conexão já terminou",
        en: "This connection has already finished",
    },
    Texts {
        es: "Vuelve a la app para ver el resultado.",
        pt: "Volte ao app para ver o resultado.",
        en: "Go back to the app to see how it went.",
    },
);

const CONSENT: (Texts, Texts) = (
    Texts {
        es: "Este enlace ya no es válido",
        pt: "Este link não é mais válido",
        en: "This link is no longer valid",
    },
    Texts {
        es: "Por tu seguridad, vuelve a la app y empieza de nuevo para dar tu consentimiento.",
        pt: "Para sua segurança, volte ao app e comece de novo para dar seu consentimento.",
        en: "For your security, go back to the app and start again to give your consent.",
    },
);

const FAILED: (Texts, Texts) = (
    Texts {
        es: "No pudimos abrir la conexión",
        pt: "Não conseguimos abrir a conexão",
        en: "We could not open the connection",
    },
    Texts {
        es: "Inténtalo de nuevo en un momento.",
        pt: "Tente novamente em instantes.",
        en: "Please try again in a moment.",
    },
);

const RETRY: Texts = Texts {
    es: "Intentar de nuevo",
    pt: "Tentar novamente",
    en: "Try again",
};

const CLOSE: Texts = Texts {
    es: "Puedes cerrar esta página y volver a la app.",
    pt: "Você pode fechar esta página e voltar ao app.",
    en: "You can close this page and return to the app.",
};
