//! A bare actix-web 4 server (same crate versions and allocator as the BFF, counted) whose
//! `GET /v1/widget-sessions/{id}?wait=N` just sleeps N seconds and answers a small JSON: the
//! floor of what a waiting long-poll costs in actix itself. `PORT` (8080); `FIT_HEADERS=1` moves
//! each request's headers to a map of their own size first, as the BFF does for a long-poll.
#[path = "probe/mod.rs"]
mod probe;

use actix_web::dev::Service;
use actix_web::http::header::HeaderMap;
use actix_web::{web, App, HttpResponse, HttpServer};

#[global_allocator]
static ALLOCATOR: probe::Counting<mimalloc::MiMalloc> = probe::Counting(mimalloc::MiMalloc);

#[derive(serde::Deserialize)]
struct Q {
    wait: Option<u64>,
}

async fn show(path: web::Path<String>, q: web::Query<Q>) -> HttpResponse {
    tokio::time::sleep(std::time::Duration::from_secs(q.wait.unwrap_or(0))).await;
    HttpResponse::Ok()
        .json(serde_json::json!({"session_id": path.into_inner(), "status": "pending"}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    probe::report();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let fit = std::env::var("FIT_HEADERS").is_ok_and(|v| v == "1");
    HttpServer::new(move || {
        App::new()
            .wrap_fn(move |mut req, srv| {
                if fit {
                    let headers = req.headers_mut();
                    let mut fitted = HeaderMap::with_capacity(headers.len_keys());
                    for (name, value) in std::mem::take(headers) {
                        fitted.append(name, value);
                    }
                    *headers = fitted;
                }
                srv.call(req)
            })
            .route("/v1/widget-sessions/{id}", web::get().to(show))
            .route("/healthz", web::get().to(HttpResponse::Ok))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
