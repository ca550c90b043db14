//! The explanation language a request asks for, from actix's typed `Accept-Language`.

use actix_web::http::header::{AcceptLanguage, Header, Quality};
use actix_web::HttpRequest;

use crate::domain::explanation::Lang;

/// The supported language (es, pt, en) the caller weights highest in `Accept-Language`; among
/// equal weights the first listed wins, `q=0` means "not this one", and anything else (no
/// header, a malformed one, only unsupported languages) is English.
pub(crate) fn request_lang(req: &HttpRequest) -> Lang {
    let Ok(AcceptLanguage(mut items)) = AcceptLanguage::parse(req) else {
        return Lang::default();
    };
    // Stable: equal weights keep the order the caller listed them in.
    items.sort_by_key(|item| std::cmp::Reverse(item.quality));
    items
        .iter()
        .filter(|item| item.quality > Quality::ZERO)
        .filter_map(|item| item.item.item())
        .find_map(|tag| Lang::from_primary_tag(tag.primary_language()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn lang_of(header: &str) -> Lang {
        request_lang(
            &TestRequest::default()
                .insert_header(("Accept-Language", header))
                .to_http_request(),
        )
    }

    #[test]
    fn the_highest_weight_wins_whatever_the_order() {
        assert_eq!(lang_of("pt;q=0.1, es;q=0.9"), Lang::Es);
        assert_eq!(lang_of("en;q=0.5, pt-BR"), Lang::Pt);
    }

    #[test]
    fn equal_weights_keep_the_listed_order() {
        assert_eq!(lang_of("pt-BR,pt;q=0.9"), Lang::Pt);
        assert_eq!(lang_of("es-MX, pt"), Lang::Es);
    }

    #[test]
    fn unsupported_and_refused_languages_are_skipped() {
        assert_eq!(lang_of("fr, es-MX;q=0.8"), Lang::Es);
        assert_eq!(lang_of("es;q=0, pt;q=0.2"), Lang::Pt);
        assert_eq!(lang_of("*, pt;q=0.5"), Lang::Pt);
    }

    #[test]
    fn anything_else_is_english() {
        assert_eq!(lang_of("de"), Lang::En);
        assert_eq!(lang_of("es;q=0"), Lang::En);
        assert_eq!(
            request_lang(&TestRequest::default().to_http_request()),
            Lang::En
        );
    }
}
