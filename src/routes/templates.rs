//! The route template a request's path matches, found without actix's `match_pattern` for the
//! documented API's routes. `match_pattern` walks every registered resource and runs the regex
//! of each dynamic one until one matches (about 4 % of a callback's or a status read's
//! instructions, measured under callgrind); the metrics middleware needs the template of every
//! request before it is routed. Here each API template is a list of segments compared with the
//! path's, in the order the routes are registered, so the first match is actix's. A path none
//! of them matches (pages, the console, the emulator, a malformed path) is left to actix.

use std::sync::OnceLock;

/// One segment of a template: literal text, or a `{name}` matching any non-empty segment.
#[derive(Debug)]
enum Segment {
    Literal(&'static str),
    Any,
}

struct Template {
    text: &'static str,
    segments: Vec<Segment>,
}

fn templates() -> &'static [Template] {
    static TEMPLATES: OnceLock<Vec<Template>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut templates: Vec<Template> = Vec::new();
        // The body limit plays no part in the paths.
        for route in super::api_routes(0) {
            if templates.iter().any(|t| t.text == route.path) {
                continue;
            }
            templates.push(Template {
                text: route.path,
                segments: segments(route.path),
            });
        }
        templates
    })
}

fn segments(template: &'static str) -> Vec<Segment> {
    template
        .split('/')
        .skip(1)
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Any
            } else {
                Segment::Literal(s)
            }
        })
        .collect()
}

/// The API route template `path` matches, if one does; `None` leaves it to actix (which may
/// still match it to a page or the emulator, or to nothing).
pub fn api_template(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix('/')?;
    // Escapes are left to actix, which decodes some of them before matching.
    if rest.contains('%') {
        return None;
    }
    templates().iter().find_map(|template| {
        let mut parts = rest.split('/');
        let all_match = template.segments.iter().all(|segment| match parts.next() {
            Some(part) => match segment {
                Segment::Literal(literal) => part == *literal,
                Segment::Any => !part.is_empty(),
            },
            None => false,
        });
        (all_match && parts.next().is_none()).then_some(template.text)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::dev::Service;
    use actix_web::{test, App};

    use super::api_template;

    type Routed = (String, Option<String>);

    /// Where the fast lookup finds a template, it is the one actix matches the path with, among
    /// every route the server registers (the API's first, then pages and the console).
    #[actix_web::test]
    async fn the_template_found_is_the_one_actix_matches() {
        // Each request's path, and the pattern actix matched it with.
        let seen: Arc<Mutex<Vec<Routed>>> = Arc::default();
        let record = seen.clone();
        let app = test::init_service(
            App::new()
                .wrap_fn(move |req, srv| {
                    record
                        .lock()
                        .unwrap()
                        .push((req.path().to_owned(), req.match_pattern()));
                    srv.call(req)
                })
                .configure(|cfg| super::super::configure(cfg, 1024)),
        )
        .await;
        let id = "0b7e5f0e-6a3c-4d2f-9b1e-2f1a3c4d5e6f";
        let found = [
            ("/healthz".to_owned(), "/healthz"),
            ("/v1/widget-sessions".to_owned(), "/v1/widget-sessions"),
            (
                format!("/v1/widget-sessions/{id}"),
                "/v1/widget-sessions/{session_id}",
            ),
            (
                format!("/v1/widget-sessions/{id}/events"),
                "/v1/widget-sessions/{session_id}/events",
            ),
            (
                format!("/callbacks/{id}/success"),
                "/callbacks/{session_id}/{kind}",
            ),
            (format!("/w/{id}"), "/w/{session_id}"),
            ("/webhooks/belvo".to_owned(), "/webhooks/belvo"),
            ("/v1/links/abc".to_owned(), "/v1/links/{link_id}"),
            (
                "/v1/links/abc/reconnect".to_owned(),
                "/v1/links/{link_id}/reconnect",
            ),
            (
                "/v1/links/abc/accounts".to_owned(),
                "/v1/links/{link_id}/{resource}",
            ),
            (
                "/v1/admin/deliveries/abc/replay".to_owned(),
                "/v1/admin/deliveries/{id}/replay",
            ),
        ];
        let left_to_actix = [
            format!("/v1/widget-sessions/{id}/"),
            "/v1/widget-sessions//events".to_owned(),
            format!("/callbacks/{id}/success/more"),
            "/callbacks//success".to_owned(),
            "/w/".to_owned(),
            "/v1/widget%2Dsessions/abc".to_owned(),
            "/support".to_owned(),
            "/metrics".to_owned(),
            "/".to_owned(),
            "/nothing/here".to_owned(),
            "//healthz".to_owned(),
        ];
        for (path, template) in &found {
            assert_eq!(api_template(path), Some(*template), "{path}");
        }
        for path in &left_to_actix {
            assert_eq!(api_template(path), None, "{path}");
        }
        for path in found.iter().map(|(p, _)| p).chain(&left_to_actix) {
            let _ = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), found.len() + left_to_actix.len());
        for (path, actix) in seen.iter() {
            if let Some(template) = api_template(path) {
                assert_eq!(Some(template), actix.as_deref(), "{path}");
            }
        }
    }
}
