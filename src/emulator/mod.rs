//! The Belvo emulator: Belvo's API as the guides describe it, offline. Mounted at `/emulator`
//! in embedded mode, or served alone by `belvo-bff emulator`.
//!
//! Today it answers `POST /api/token/` and lets tools read back what it received
//! (`GET /_emulator/tokens/{jti}`); the widget, links, data and webhooks grow here.

mod token;

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web;
use secrecy::SecretString;

use crate::belvo::types::TokenRequest;

/// Everything the emulator remembers, in memory.
pub struct Emulator {
    secret_id: SecretString,
    secret_password: SecretString,
    /// Signs access and refresh tokens (HS512, as Belvo's).
    signing_key: Vec<u8>,
    /// Token requests received, by the access token's `jti` (password removed).
    tokens: Mutex<HashMap<String, TokenRequest>>,
}

impl Emulator {
    pub fn new(secret_id: SecretString, secret_password: SecretString) -> Self {
        use rand::RngCore;
        let mut signing_key = vec![0u8; 64];
        rand::thread_rng().fill_bytes(&mut signing_key);
        Self {
            secret_id,
            secret_password,
            signing_key,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, TokenRequest>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Registers the emulator's routes on `cfg` (under whatever scope the caller chose).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/token/", web::post().to(token::create))
        .route("/_emulator/tokens/{jti}", web::get().to(token::show));
}

/// `belvo-bff emulator --port N`: the emulator alone, at the root path.
pub async fn serve_standalone(settings: &crate::config::Settings, port: u16) -> anyhow::Result<()> {
    let emulator = web::Data::new(Emulator::new(
        settings.secrets.belvo_secret_id.clone(),
        settings.secrets.belvo_secret_password.clone(),
    ));
    let host = settings.server.host.clone();
    tracing::info!(%host, port, "belvo emulator listening");
    eprintln!("Belvo emulator on http://{host}:{port} (POST /api/token/)");
    actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(tracing_actix_web::TracingLogger::default())
            .app_data(emulator.clone())
            .configure(configure)
    })
    .bind((host.as_str(), port))?
    .run()
    .await?;
    Ok(())
}
