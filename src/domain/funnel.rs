//! The conversion funnel (SPEC §14): what each session's steps count, and how the daily counters
//! read back as a report.
//!
//! A counter is a field `product|platform|mode|institution|step` of a day's hash, incremented
//! in the same store round trip as the event that causes it. Steps: `created` → `opened` →
//! `success` / `exit_first_screen` / `exit_institution` / `error:<code>` (an error event, or an
//! exit carrying the last error's code) → `link_verified` (Belvo's record of the link matched
//! its session) → `resources_ready` (every fetch resource of the product arrived), plus
//! `within:<seconds>` buckets of the time from opened to success. The last two are the link's,
//! once per link: the verification keeps its session's counter prefix on the link
//! ([`link_prefix`]), so a webhook, which knows only the link, counts under it too. An update
//! session repairs a link already counted: its own link steps are not counted again. The
//! institution is known from the institution step on (`-` before), and only configured names are
//! kept: the rest are `other`, so callback input cannot grow the number of counters. Error codes
//! outside the explanations table are `error:other` for the same reason.

use std::collections::{BTreeMap, HashSet};

use super::callback::CallbackEvent;
use super::explanation;
use super::session::Session;

/// How long a day's counters are kept, and the longest range a report reads.
pub const RETENTION_DAYS: i64 = 90;
/// The institution of a step before the user chose one.
pub const NO_INSTITUTION: &str = "-";
/// Any institution (or error code) not configured: counted together.
pub const OTHER: &str = "other";
/// Upper bounds (seconds) of the opened → success buckets; later successes go to `inf`.
/// Powers of two: `apply_event.lua` finds the bucket by doubling from 1 up to the last.
pub const WITHIN_BUCKETS: [u32; 13] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

const MS_PER_DAY: i64 = 24 * 3600 * 1000;

/// A UTC day, as key names carry it (`2026-11-29`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(time::Date);

impl Day {
    /// The day `ms` (unix milliseconds) falls on.
    pub fn of_millis(ms: i64) -> Self {
        let days = ms.div_euclid(MS_PER_DAY);
        Self(time::Date::from_julian_day(UNIX_EPOCH_JULIAN + days as i32).expect("in range"))
    }

    /// `YYYY-MM-DD`, or `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(raw, format).ok().map(Self)
    }

    /// When this day's counters expire: [`RETENTION_DAYS`] after it ends (unix ms).
    pub fn expire_at_millis(self) -> i64 {
        (i64::from(self.0.to_julian_day() - UNIX_EPOCH_JULIAN) + 1 + RETENTION_DAYS) * MS_PER_DAY
    }

    pub fn next(self) -> Self {
        Self(self.0.next_day().expect("in range"))
    }

    /// Days from `self` to `later` (0 for the same day; negative when `later` is earlier).
    pub fn days_until(self, later: Day) -> i64 {
        i64::from(later.0.to_julian_day() - self.0.to_julian_day())
    }

    pub fn minus_days(self, days: i64) -> Self {
        Self(self.0 - time::Duration::days(days))
    }
}

const UNIX_EPOCH_JULIAN: i32 = 2_440_588;

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = (self.0.year(), u8::from(self.0.month()), self.0.day());
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// The days a report covers, first and last included: at most [`RETENTION_DAYS`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: Day,
    pub to: Day,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error("`{0}` must be a date written YYYY-MM-DD")]
    NotADate(&'static str),
    #[error("`from` ({from}) is after `to` ({to}): give the earlier date first")]
    Reversed { from: Day, to: Day },
    #[error("the range covers {0} days; at most {RETENTION_DAYS} days are kept and shown")]
    TooLong(i64),
}

impl DayRange {
    /// The range asked for; a missing `to` is today, a missing `from` the week up to `to`.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Day) -> Result<Self, RangeError> {
        let date = |raw: Option<&str>, name| match raw.filter(|r| !r.is_empty()) {
            None => Ok(None),
            Some(raw) => Day::parse(raw).map(Some).ok_or(RangeError::NotADate(name)),
        };
        let to = date(to, "to")?.unwrap_or(today);
        let from = date(from, "from")?.unwrap_or(to.minus_days(6));
        let span = from.days_until(to);
        if span < 0 {
            return Err(RangeError::Reversed { from, to });
        }
        if span + 1 > RETENTION_DAYS {
            return Err(RangeError::TooLong(span + 1));
        }
        Ok(Self { from, to })
    }

    pub fn days(self) -> impl Iterator<Item = Day> {
        std::iter::successors(Some(self.from), move |d| (*d < self.to).then(|| d.next()))
    }
}

/// The institutions counted by name: every configured product's (the rest are [`OTHER`]).
#[derive(Debug, Clone, Default)]
pub struct KnownInstitutions(HashSet<String>);

impl KnownInstitutions {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self(names.into_iter().map(str::to_owned).collect())
    }

    /// `name` when configured, otherwise [`OTHER`].
    pub fn counted(&self, name: &str) -> String {
        if self.0.contains(name) {
            name.to_owned()
        } else {
            OTHER.to_owned()
        }
    }
}

/// What a terminal event counts when it ends its session: its step and its institution. The
/// store counts it only on the first terminal effect (never for a replay), under the session's
/// product, platform and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalStep {
    pub step: String,
    pub institution: String,
}

impl TerminalStep {
    /// The step `event` counts if it ends its session; `None` for a warning.
    pub fn of(event: &CallbackEvent, known: &KnownInstitutions) -> Option<Self> {
        let institution = |name: Option<&str>| match name {
            Some(name) if !name.is_empty() => known.counted(name),
            _ => NO_INSTITUTION.to_owned(),
        };
        let (step, institution) = match event {
            CallbackEvent::Success { institution: i, .. } => {
                ("success".to_owned(), institution(Some(i.as_str())))
            }
            // The widget's errors end in an exit carrying the last error's code.
            CallbackEvent::Exit {
                last_encountered_error_code: Some(code),
                meta_data_institution_name,
                ..
            } => (
                error_step(code.as_str()),
                institution(meta_data_institution_name.as_ref().map(|n| n.as_str())),
            ),
            // An exit naming an institution left after choosing it, whatever its step says.
            CallbackEvent::Exit {
                meta_data_institution_name: Some(name),
                ..
            } if !name.as_str().is_empty() => (
                "exit_institution".to_owned(),
                institution(Some(name.as_str())),
            ),
            CallbackEvent::Exit { .. } => ("exit_first_screen".to_owned(), institution(None)),
            CallbackEvent::Error { error, .. } => (error_step(error.as_str()), institution(None)),
            CallbackEvent::Warning { .. } => return None,
        };
        Some(Self { step, institution })
    }

    /// A success refused by the store (another user's link, another link than the repaired
    /// one): counted as the error it became.
    pub fn refused(&self, code: &str) -> Self {
        Self {
            step: error_step(code),
            institution: self.institution.clone(),
        }
    }
}

/// `error:<code>` for a code the explanations table knows, `error:other` otherwise.
pub fn error_step(code: &str) -> String {
    if explanation::is_known(code) {
        format!("error:{code}")
    } else {
        format!("error:{OTHER}")
    }
}

/// The step of a session's link when Belvo's record confirms it (once per link).
pub const LINK_VERIFIED: &str = "link_verified";
/// The step of a session's link when every fetch resource of its product is ready (once per link).
pub const RESOURCES_READY: &str = "resources_ready";

/// The counter prefix `product|platform|mode|institution|` the steps of `session`'s link count
/// under ([`LINK_VERIFIED`], [`RESOURCES_READY`]): the link's store scripts add the step. The
/// institution is the session's, counted as its success was.
pub fn link_prefix(session: &Session, known: &KnownInstitutions) -> String {
    let institution = match session.institution.as_deref() {
        Some(name) if !name.is_empty() => known.counted(name),
        _ => NO_INSTITUTION.to_owned(),
    };
    let r = &session.record;
    field(
        r.product.as_str(),
        r.platform.as_str(),
        r.mode.as_str(),
        &institution,
        "",
    )
}

/// A counter's field name.
pub fn field(product: &str, platform: &str, mode: &str, institution: &str, step: &str) -> String {
    format!("{product}|{platform}|{mode}|{institution}|{step}")
}

/// The `within:` step of a success `elapsed_ms` after the first opening (as the script finds it).
pub fn within_step(elapsed_ms: i64) -> String {
    let seconds = elapsed_ms as f64 / 1000.0;
    match WITHIN_BUCKETS.iter().find(|le| f64::from(**le) >= seconds) {
        Some(le) => format!("within:{le}"),
        None => "within:inf".to_owned(),
    }
}

/// The Prometheus label of a step: a closed set (`error:<code>` is `error`), `None` for buckets.
pub fn metric_step(step: &str) -> Option<&'static str> {
    Some(match step {
        "created" => "created",
        "opened" => "opened",
        "success" => "success",
        "exit_first_screen" => "exit_first_screen",
        "exit_institution" => "exit_institution",
        LINK_VERIFIED => LINK_VERIFIED,
        RESOURCES_READY => RESOURCES_READY,
        s if s.starts_with("error:") => "error",
        _ => return None,
    })
}

/// One counter read back: its field's parts and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter<'a> {
    pub product: &'a str,
    pub platform: &'a str,
    pub mode: &'a str,
    pub institution: &'a str,
    pub step: &'a str,
}

impl<'a> Counter<'a> {
    pub fn parse(field: &'a str) -> Option<Self> {
        let mut parts = field.splitn(5, '|');
        Some(Self {
            product: parts.next()?,
            platform: parts.next()?,
            mode: parts.next()?,
            institution: parts.next()?,
            step: parts.next()?,
        })
    }
}

/// Which counters a report adds up (`None`: all).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub product: Option<String>,
    pub platform: Option<String>,
    pub mode: Option<String>,
}

impl Filter {
    fn admits(&self, c: &Counter) -> bool {
        let fits = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        fits(&self.product, c.product)
            && fits(&self.platform, c.platform)
            && fits(&self.mode, c.mode)
    }
}

/// The funnel's main steps, in order, with their labels.
pub const MAIN_STEPS: [(&str, &str); 5] = [
    ("created", "Session created"),
    ("opened", "Widget opened"),
    ("success", "Connected"),
    (LINK_VERIFIED, "Link verified"),
    (RESOURCES_READY, "Every resource ready"),
];

/// The funnel over a range, filtered: what `/support/funnel` shows and downloads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Each main step and its count, in funnel order.
    pub steps: Vec<(&'static str, &'static str, u64)>,
    /// Where users left: `exit_first_screen`, `exit_institution` and `error:<code>`, most first.
    pub leaves: Vec<(String, u64)>,
    /// Per institution: successes and leaves after choosing it, most attempts first.
    pub institutions: Vec<(String, u64, u64)>,
    /// Time from opened to success: the bucket bounds holding the median and the 90th percentile
    /// (`None` without successes timed).
    pub p50_seconds: Option<u32>,
    pub p90_seconds: Option<u32>,
    /// Successes timed (every bucket); a quantile past the last bucket is `u32::MAX`.
    pub timed: u64,
}

impl Report {
    /// Adds up `counters` (field → count, every day and shard summed) that `filter` admits.
    pub fn build<'a>(counters: impl IntoIterator<Item = (&'a str, u64)>, filter: &Filter) -> Self {
        let mut steps: BTreeMap<&str, u64> = BTreeMap::new();
        let mut leaves: BTreeMap<String, u64> = BTreeMap::new();
        let mut institutions: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut buckets: BTreeMap<u32, u64> = BTreeMap::new();
        let mut late = 0;
        for (field, count) in counters {
            let Some(c) = Counter::parse(field).filter(|c| filter.admits(c)) else {
                continue;
            };
            if let Some(le) = c.step.strip_prefix("within:") {
                match le.parse::<u32>() {
                    Ok(le) => *buckets.entry(le).or_default() += count,
                    Err(_) => late += count,
                }
                continue;
            }
            if let Some((step, _)) = MAIN_STEPS.iter().find(|(s, _)| *s == c.step) {
                *steps.entry(step).or_default() += count;
            } else if c.step.starts_with("exit_") || c.step.starts_with("error:") {
                *leaves.entry(c.step.to_owned()).or_default() += count;
            }
            if c.institution != NO_INSTITUTION {
                let entry = institutions.entry(c.institution.to_owned()).or_default();
                match c.step {
                    "success" => entry.0 += count,
                    "exit_institution" => entry.1 += count,
                    s if s.starts_with("error:") => entry.1 += count,
                    _ => {}
                }
            }
        }
        let timed = buckets.values().sum::<u64>() + late;
        let quantile = |q: f64| -> Option<u32> {
            if timed == 0 {
                return None;
            }
            let rank = (q * timed as f64).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (le, n) in &buckets {
                seen += n;
                if seen >= rank {
                    return Some(*le);
                }
            }
            Some(u32::MAX)
        };
        let mut leaves: Vec<_> = leaves.into_iter().collect();
        leaves.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut institutions: Vec<_> = institutions
            .into_iter()
            .map(|(name, (won, lost))| (name, won, lost))
            .filter(|(_, won, lost)| won + lost > 0)
            .collect();
        institutions.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then_with(|| a.0.cmp(&b.0)));
        Self {
            steps: MAIN_STEPS
                .iter()
                .map(|(step, label)| (*step, *label, steps.get(step).copied().unwrap_or(0)))
                .collect(),
            leaves,
            institutions,
            p50_seconds: quantile(0.5),
            p90_seconds: quantile(0.9),
            timed,
        }
    }

    /// The count of a main step.
    pub fn count(&self, step: &str) -> u64 {
        self.steps
            .iter()
            .find(|(s, _, _)| *s == step)
            .map_or(0, |(_, _, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(raw: &str) -> Day {
        Day::parse(raw).unwrap()
    }

    #[test]
    fn days_read_and_print_as_key_names_carry_them() {
        let d = Day::of_millis(1_764_374_400_000 + 5);
        assert_eq!(d.to_string(), "2025-11-29");
        assert_eq!(d.next().to_string(), "2025-11-30");
        assert_eq!(day("2025-11-29"), d);
        assert_eq!(
            d.expire_at_millis(),
            1_764_374_400_000 + (1 + RETENTION_DAYS) * MS_PER_DAY
        );
        assert!(Day::parse("2025-13-01").is_none());
    }

    #[test]
    fn a_range_is_at_most_ninety_days_and_never_reversed() {
        let today = day("2026-11-29");
        let week = DayRange::parse(None, None, today).unwrap();
        assert_eq!(week.days().count(), 7);
        assert_eq!(week.from.to_string(), "2026-11-23");
        let ninety = DayRange::parse(Some("2026-09-01"), Some("2026-11-29"), today).unwrap();
        assert_eq!(ninety.days().count(), 90);
        assert_eq!(
            DayRange::parse(Some("2026-08-31"), Some("2026-11-29"), today),
            Err(RangeError::TooLong(91))
        );
        assert!(matches!(
            DayRange::parse(Some("2026-11-29"), Some("2026-11-28"), today),
            Err(RangeError::Reversed { .. })
        ));
        assert_eq!(
            DayRange::parse(Some("29/11/2026"), None, today),
            Err(RangeError::NotADate("from"))
        );
    }

    #[test]
    fn successes_fall_in_doubling_buckets() {
        assert_eq!(within_step(0), "within:1");
        assert_eq!(within_step(1_000), "within:1");
        assert_eq!(within_step(1_001), "within:2");
        assert_eq!(within_step(40_000), "within:64");
        assert_eq!(within_step(5_000_000), "within:inf");
    }

    #[test]
    fn unknown_codes_and_metric_labels_are_closed_sets() {
        assert_eq!(error_step("login_error"), "error:login_error");
        assert_eq!(error_step("made_up_by_a_caller"), "error:other");
        assert_eq!(metric_step("error:login_error"), Some("error"));
        assert_eq!(metric_step("within:8"), None);
        assert_eq!(metric_step(LINK_VERIFIED), Some("link_verified"));
        assert_eq!(metric_step(RESOURCES_READY), Some("resources_ready"));
        let known = KnownInstitutions::new(["imss"]);
        assert_eq!(known.counted("imss"), "imss");
        assert_eq!(known.counted("x_bank"), OTHER);
    }

    #[test]
    fn a_report_adds_up_steps_leaves_and_times() {
        let counters = [
            ("p|ios|connect|-|created", 10),
            ("p|android|connect|-|created", 5),
            ("p|ios|connect|-|opened", 8),
            ("p|ios|connect|imss|success", 4),
            ("p|ios|connect|imss|link_verified", 3),
            ("p|ios|connect|imss|resources_ready", 2),
            ("p|ios|connect|imss|within:8", 3),
            ("p|ios|connect|imss|within:64", 1),
            ("p|ios|connect|-|exit_first_screen", 2),
            ("p|ios|connect|imss|exit_institution", 1),
            ("p|ios|connect|-|error:login_error", 1),
            ("q|ios|connect|-|created", 100),
        ];
        let filter = Filter {
            product: Some("p".into()),
            platform: Some("ios".into()),
            mode: None,
        };
        let report = Report::build(counters, &filter);
        assert_eq!(report.count("created"), 10);
        assert_eq!(report.count("opened"), 8);
        assert_eq!(report.count("success"), 4);
        assert_eq!(report.count("link_verified"), 3);
        assert_eq!(report.count("resources_ready"), 2);
        let order: Vec<&str> = report.steps.iter().map(|(step, _, _)| *step).collect();
        assert_eq!(
            order,
            [
                "created",
                "opened",
                "success",
                "link_verified",
                "resources_ready"
            ]
        );
        assert_eq!(report.leaves[0], ("exit_first_screen".to_owned(), 2));
        assert_eq!(report.leaves.len(), 3);
        assert_eq!(report.institutions, vec![("imss".to_owned(), 4, 1)]);
        assert_eq!(report.p50_seconds, Some(8));
        assert_eq!(report.p90_seconds, Some(64));
    }
}
