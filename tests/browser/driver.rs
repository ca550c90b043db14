//! A headless Chromium session for one test.

use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub struct Browser {
    pub client: Client,
    profile: std::path::PathBuf,
}

impl Browser {
    pub async fn start() -> Self {
        let url = std::env::var("CHROMEDRIVER_URL").expect(
            "CHROMEDRIVER_URL is not set: run scripts/test.sh, which starts chromedriver for the browser tests",
        );
        let profile =
            std::env::temp_dir().join(format!("bff-chromium-{}", uuid::Uuid::new_v4().simple()));
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--window-size=420,900".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": chromium_binary(), "args": args}),
        );
        // Two TLS backends are linked in; chromedriver is plain HTTP, but rustls wants one chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::rustls()
            .expect("rustls client")
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("chromedriver answers");
        Self { client, profile }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// The element's text; when the page is replaced between finding and reading (a form
    /// posted, a redirect followed), it is found again on the new page.
    pub async fn text(&self, css: &str) -> String {
        let mut tries = 0;
        loop {
            match self.wait_for(css).await.text().await {
                Ok(text) => return text,
                Err(e) if tries < 5 && e.to_string().contains("stale") => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("reading {css}: {e}"),
            }
        }
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// The last segment of the current URL's path: the id of the page shown (`/demo/links/{id}`).
    pub async fn current_id(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        url.path_segments()
            .and_then(|mut segments| segments.next_back())
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a PNG of the page under `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn chromium_binary() -> String {
    std::env::var("CHROMIUM_BINARY").unwrap_or_else(|_| "/usr/bin/chromium".into())
}
