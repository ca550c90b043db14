//! Every Lua script the Redis store runs, one file each beside this module, all loaded here and
//! only here. Each file opens with the same header: what it does, then `KEYS[n]`, `ARGV[n]` one
//! per line, then `Reply:`. A script's keys share one hash tag, so it runs in one cluster slot.
//!
//! `bench/floor` and `bench/peer-node` run `apply_event.lua` and `record_webhook.lua` from this
//! folder too (scripts/bench.sh).

use std::sync::LazyLock;

use redis::Script;

/// The prelude of the scripts that write outbound events (`outbox_add`, `link_event`).
const OUTBOX_PRELUDE: &str = include_str!("outbox_add.lua");

/// The prelude of the scripts that claim a link, change its health or record its verdict
/// (`claim_link`, `apply_health`, `set_verdict`), after the outbox's, which they call.
const LINK_PRELUDE: &str = concat!(
    include_str!("outbox_add.lua"),
    include_str!("link_steps.lua")
);

macro_rules! scripts {
    ($($(#[$doc:meta])* $name:ident = $($prelude:ident +)? $file:literal;)+) => {
        $(
            $(#[$doc])*
            pub(in crate::store) static $name: LazyLock<Script> =
                LazyLock::new(|| Script::new(&[$($prelude,)? include_str!($file)].concat()));
        )+

        /// Each script's file name and source, for the tests below.
        #[cfg(test)]
        const FILES: &[(&str, &str)] = &[
            $(($file, include_str!($file)),)+
            ("record_webhook.lua", RECORD_WEBHOOK),
        ];
    };
}

/// `record_webhook.lua`, whose per-process values come before it (see [`record_webhook`]).
const RECORD_WEBHOOK: &str = include_str!("record_webhook.lua");

/// A Belvo webhook on its link (SPEC §6): `record_webhook.lua` after the outbox prelude, with the
/// values that never change in a process written in front of it instead of sent with each call
/// (`CHANNEL`, `TTL`, `MAX_EVENTS`, `MAX_IDS`, `SLACK`): each argument costs Redis more than
/// the script's work with it (issue 19). Made once per store.
pub(in crate::store) fn record_webhook(channel: &str, ttl_ms: u64) -> Script {
    use crate::domain::session::MAX_EVENTS;
    use crate::domain::webhook::{MAX_WEBHOOK_IDS, WEBHOOK_IDS_SLACK};
    let constants = format!(
        "local CHANNEL, TTL, MAX_EVENTS, MAX_IDS, SLACK = {}, '{ttl_ms}', {MAX_EVENTS}, \
         {MAX_WEBHOOK_IDS}, {WEBHOOK_IDS_SLACK}\n",
        lua_string(channel)
    );
    // The prelude inside a function: its five functions are made only when a webhook may make
    // the link's resources ready (rarely), not at every call.
    Script::new(
        &[
            constants.as_str(),
            "local function resources_ready(...)\n",
            OUTBOX_PRELUDE,
            "return resources_ready(...)\nend\n",
            RECORD_WEBHOOK,
        ]
        .concat(),
    )
}

/// `text` as a Lua string literal: every byte but letters, digits and a few safe marks written as
/// a decimal escape, so no configured name can end the literal.
fn lua_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b":-_.{}/|@".contains(&byte) {
            literal.push(char::from(byte));
        } else {
            literal.push_str(&format!("\\{byte:03}"));
        }
    }
    literal.push('"');
    literal
}

scripts! {
    /// A widget callback event on a session (SPEC §5).
    APPLY_EVENT = "apply_event.lua";
    /// A callback event the process saw recorded before: `apply_event.lua`'s replay alone.
    REPLAY_EVENT = "replay_event.lua";
    /// A new callback event on a session the process saw finished: its timeline entry alone.
    LATE_EVENT = "late_event.lua";
    /// The second step of a success on a Redis Cluster: the link's claim.
    CLAIM_SESSION_LINK = "claim_session_link.lua";
    /// `/w/{id}`: an opening of the session's widget, counted, and what the redirect needs.
    OPEN_WIDGET = "open_widget.lua";
    /// A renewed widget token, kept on its session.
    STORE_TOKEN = "store_token.lua";
    /// A link's verification against Belvo.
    SET_LINK_VERIFIED = LINK_PRELUDE + "set_link_verified.lua";
    /// A link Belvo confirmed, claimed for its owner.
    CLAIM_LINK = LINK_PRELUDE + "claim_link.lua";
    /// What a link's verification found at Belvo: claim, health, schedule and verdict at once.
    RECORD_VERIFICATION = LINK_PRELUDE + "record_verification.lua";
    /// A link deleted by its owner.
    DELETE_LINK = OUTBOX_PRELUDE + "delete_link.lua";
    /// One fact applied to a link's health (SPEC §11).
    APPLY_HEALTH = LINK_PRELUDE + "apply_health.lua";
    /// A session still pending at its deadline, expired with its event (SPEC §13).
    EXPIRE_SESSION = OUTBOX_PRELUDE + "expire_session.lua";
    /// The due entries of the link check schedule, claimed.
    CLAIM_DUE = "claim_due.lua";
    /// A status-page report kept for an institution (SPEC §14).
    REPORT_STATUS = "report_status.lua";
    /// One attempt in a rate-limit window.
    COUNT_ATTEMPT = "count_attempt.lua";
    /// One attempt in each of two windows at once (a user's Belvo token requests).
    COUNT_ATTEMPTS = "count_attempts.lua";
    /// One member among the distinct ones of a window (IDs a user tried).
    COUNT_DISTINCT = "count_distinct.lua";
    /// One counted attempt taken back, the window kept.
    RELEASE_ATTEMPT = "release_attempt.lua";
    /// A dead outbound delivery put back for its endpoint (an admin's replay).
    REPLAY_DEAD = OUTBOX_PRELUDE + "replay_dead.lua";
    /// A branding version, saved if it follows the current one.
    SAVE_BRANDING = "save_branding.lua";
}

#[cfg(test)]
mod tests {
    use super::{lua_string, FILES};

    /// Any configured text reads back as itself from the literal written in front of a script.
    #[test]
    fn lua_string_literals_escape_every_other_byte() {
        assert_eq!(lua_string("bff:session-events"), "\"bff:session-events\"");
        assert_eq!(
            lua_string("a\"b\\c\n'é"),
            "\"a\\034b\\092c\\010\\039\\195\\169\""
        );
    }

    /// The header every script opens with: comment lines only, naming its keys, its arguments
    /// (one per line, in order) and its reply.
    #[test]
    fn every_script_opens_with_the_common_header() {
        for (file, source) in FILES {
            let header: Vec<&str> = source
                .lines()
                .take_while(|line| line.starts_with("--"))
                .collect();
            let numbered = |what: &str| {
                header
                    .iter()
                    .filter_map(|line| line.strip_prefix(&format!("-- {what}[")))
                    .map(|rest| rest.split(']').next().unwrap().parse::<usize>().unwrap())
                    .collect::<Vec<_>>()
            };
            let in_order = |n: &[usize]| n.iter().enumerate().all(|(i, &k)| k == i + 1);
            assert!(header.len() > 2, "{file}: no header");
            assert!(
                !header[0].trim_start_matches('-').trim().is_empty(),
                "{file}: says what it does first"
            );
            let keys = numbered("KEYS");
            assert!(
                !keys.is_empty() && in_order(&keys),
                "{file}: KEYS[1..] one per line: {keys:?}"
            );
            assert!(
                in_order(&numbered("ARGV")),
                "{file}: ARGV[1..] one per line, in order"
            );
            assert!(
                header.iter().any(|line| line.starts_with("-- Reply: ")),
                "{file}: says what it replies"
            );
        }
    }

    /// Every `.lua` file in this folder is one of the scripts above, and no Lua lives or is
    /// loaded anywhere else in `src/`.
    #[test]
    fn all_lua_is_here_and_loaded_here() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let here = src.join("store/lua");
        let mut files = vec![src.clone()];
        let mut loaded_here: Vec<String> = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if path.extension().is_some_and(|e| e == "lua") {
                assert_eq!(
                    path.parent(),
                    Some(here.as_path()),
                    "{path:?} is not in {here:?}"
                );
                loaded_here.push(path.file_name().unwrap().to_string_lossy().into_owned());
            } else if path.extension().is_some_and(|e| e == "rs") && path != here.join("mod.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains("Script::new("),
                    "{path:?} makes a script of its own"
                );
            }
        }
        loaded_here.sort();
        let mut loaded: Vec<String> = FILES.iter().map(|(file, _)| file.to_string()).collect();
        loaded.push("outbox_add.lua".to_owned());
        loaded.push("link_steps.lua".to_owned());
        loaded.sort();
        assert_eq!(loaded_here, loaded);
    }
}
