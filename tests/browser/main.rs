//! Browser tests: the real server, headless Chromium (Debian's) driven through chromedriver,
//! both started by `scripts/test.sh` (CHROMEDRIVER_URL). Screenshots land in
//! `target/screenshots/`.

#[path = "../api/helpers.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
mod helpers;

#[path = "../api/console_helpers.rs"]
#[allow(dead_code)]
mod console_helpers;

mod consent;
mod console;
mod demo;
mod driver;
mod funnel;
mod widget;
