//! Belvo's pagination (`{count, next, previous, results}`, `?page=&page_size=`), with `next` and
//! `previous` as absolute URLs built from the request's own scheme and host — what Belvo sends
//! and what its SDKs follow as they are (a relative one breaks both: Python's requests refuses
//! it, axios glues it to its base URL).

use std::ops::Range;

use actix_web::HttpRequest;
use serde::Deserialize;
use serde_json::{json, Value};

/// The page a list request asks for (Belvo's defaults: page 1, 100 items, at most 1000).
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<usize>,
    page_size: Option<usize>,
}

impl PageQuery {
    fn page(&self) -> usize {
        self.page.unwrap_or(1).max(1)
    }

    fn page_size(&self) -> usize {
        self.page_size.unwrap_or(100).clamp(1, 1000)
    }

    /// The indices of the items on this page, out of `count`.
    pub fn range(&self, count: usize) -> Range<usize> {
        let start = (self.page() - 1).saturating_mul(self.page_size());
        start.min(count)..count.min(start.saturating_add(self.page_size()))
    }

    /// Belvo's page body for `count` items, `results` being this page's.
    pub fn body(&self, req: &HttpRequest, count: usize, results: Vec<Value>) -> Value {
        let page = self.page();
        let has_next = page.saturating_mul(self.page_size()) < count;
        json!({
            "count": count,
            "next": has_next.then(|| page_url(req, page + 1)),
            "previous": (page > 1).then(|| page_url(req, page - 1)),
            "results": results,
        })
    }
}

/// This request's absolute URL with `page` set to `page` and every other parameter kept.
pub fn page_url(req: &HttpRequest, page: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if key != "page" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("page", &page.to_string());
    format!("{}?{}", absolute(req, req.path()), query.finish())
}

/// `path` on the host the request came to (scheme and host as the client used them).
pub fn absolute(req: &HttpRequest, path: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}{path}", info.scheme(), info.host())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn query(page: Option<usize>, page_size: Option<usize>) -> PageQuery {
        PageQuery { page, page_size }
    }

    #[test]
    fn next_and_previous_are_absolute_and_keep_the_filters() {
        let req = TestRequest::get()
            .uri("/emulator/api/owners/?link=abc&page=2&page_size=1")
            .insert_header(("Host", "bff.example:8080"))
            .to_http_request();
        let body = query(Some(2), Some(1)).body(&req, 3, vec![]);
        assert_eq!(
            body["next"],
            "http://bff.example:8080/emulator/api/owners/?link=abc&page_size=1&page=3"
        );
        assert_eq!(
            body["previous"],
            "http://bff.example:8080/emulator/api/owners/?link=abc&page_size=1&page=1"
        );
        let last = query(Some(3), Some(1)).body(&req, 3, vec![]);
        assert!(last["next"].is_null());
    }

    #[test]
    fn ranges_stay_inside_the_count() {
        assert_eq!(query(None, None).range(5), 0..5);
        assert_eq!(query(Some(2), Some(2)).range(5), 2..4);
        assert_eq!(query(Some(9), Some(2)).range(5), 5..5);
        assert_eq!(query(Some(usize::MAX), Some(1000)).range(5), 5..5);
        assert_eq!(query(Some(0), Some(0)).range(5), 0..1);
    }
}
