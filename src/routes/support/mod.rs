//! The support console (SPEC §9): sign-in, search, session timelines and link pages, and the
//! conversion funnel (SPEC §14).
//! Every page takes [`crate::auth::Staff`]: a console session cookie or a staff bearer token.

mod attention;
mod funnel;
mod institutions;
mod link_page;
mod login;
mod resources;
mod rows;
mod search;
mod session_page;
mod timeline;

use actix_web::web;

use super::console;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/console.css", web::get().to(console::stylesheet))
        .route("/static/admin.js", web::get().to(console::script))
        .service(
            web::scope("/support")
                .app_data(console::form_config())
                .route("", web::get().to(search::page))
                .route("/login", web::get().to(login::form))
                .route("/login", web::post().to(login::submit))
                .route("/logout", web::post().to(login::logout))
                .route("/sessions/{id}", web::get().to(session_page::page))
                .route("/links", web::get().to(attention::page))
                .route("/institutions", web::get().to(institutions::page))
                .route("/funnel", web::get().to(funnel::page))
                .route("/links/{id}", web::get().to(link_page::page)),
        );
}
