//! `deploy/compose.yaml`: the server on the image's port, on a Redis that keeps an append-only
//! file, with an environment the server loads.

use std::collections::BTreeMap;

use belvo_bff::config::secrets::DEV_DEFAULTS;
use yaml_rust2::Yaml;

use crate::files::{deploy_dir, dockerfile, list, load_settings, str_of, string_map, yaml};

fn compose() -> Yaml {
    let mut docs = yaml("compose.yaml");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// `${VAR:-default}` → default and `${VAR}` → empty, as compose does with VAR unset.
fn unset_substitution(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${") + start;
        let inner = &rest[start + 2..end];
        if let Some((_, default)) = inner.split_once(":-") {
            out.push_str(default);
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn words(command: &Yaml) -> Vec<String> {
    match command {
        Yaml::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Yaml::Array(items) => items
            .iter()
            .map(|w| str_of(w, "command").to_owned())
            .collect(),
        other => panic!("command: {other:?}"),
    }
}

#[test]
fn redis_keeps_an_append_only_file_synced_every_second() {
    let compose = compose();
    let redis = &compose["services"]["redis"];
    let command = words(&redis["command"]);
    let option = |name: &str| {
        command
            .iter()
            .position(|w| w == name)
            .and_then(|i| command.get(i + 1))
            .map(String::as_str)
    };
    assert_eq!(option("--appendonly"), Some("yes"), "{command:?}");
    assert_eq!(option("--appendfsync"), Some("everysec"), "{command:?}");
    let volumes = list(&redis["volumes"], "redis volumes");
    assert!(volumes
        .iter()
        .any(|v| str_of(v, "volume").ends_with(":/data")));
}

#[test]
fn the_server_publishes_the_images_port_and_waits_for_redis() {
    let compose = compose();
    let bff = &compose["services"]["bff"];
    let ports: Vec<&str> = list(&bff["ports"], "ports")
        .iter()
        .map(|p| str_of(p, "port"))
        .collect();
    let expose = dockerfile()
        .pop()
        .unwrap()
        .last("EXPOSE")
        .unwrap()
        .to_owned();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].rsplit(':').next(), Some(expose.as_str()));
    assert_eq!(
        bff["depends_on"]["redis"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert!(!compose["services"]["redis"]["healthcheck"].is_badvalue());

    let build = &bff["build"];
    let context = deploy_dir().join(str_of(&build["context"], "build.context"));
    assert!(context
        .join(str_of(&build["dockerfile"], "build.dockerfile"))
        .is_file());
}

#[test]
fn the_server_runs_as_non_root_on_a_read_only_root() {
    let compose = compose();
    let bff = &compose["services"]["bff"];
    let user = str_of(&bff["user"], "user");
    let uid: u32 = user.split(':').next().unwrap().parse().unwrap();
    assert_ne!(uid, 0);
    assert_eq!(bff["read_only"].as_bool(), Some(true));
}

#[test]
fn its_environment_loads_on_redis_and_passes_every_secret_through() {
    let compose = compose();
    let bff = &compose["services"]["bff"];
    let declared = string_map(&bff["environment"], "environment");
    for (var, _) in DEV_DEFAULTS {
        assert!(declared.contains_key(*var), "{var} is passed through");
    }
    let mut env: BTreeMap<String, String> = dockerfile().pop().unwrap().env();
    env.extend(
        declared
            .iter()
            .map(|(k, v)| (k.clone(), unset_substitution(v))),
    );

    let settings = load_settings(env, None).expect("the compose environment loads");

    let redis = url::Url::parse(&settings.store.redis_url).unwrap();
    assert_eq!(redis.host_str(), Some("redis"), "the redis service");
    assert_eq!(settings.server.host, "0.0.0.0");
    let published = list(&bff["ports"], "ports")[0].as_str().unwrap();
    assert!(published.ends_with(&format!(":{}", settings.server.port)));
}

#[test]
fn substitution_takes_defaults_for_unset_variables() {
    assert_eq!(unset_substitution("${A:-embedded}"), "embedded");
    assert_eq!(unset_substitution("${A:-}"), "");
    assert_eq!(unset_substitution("x${A}y${B:-z}"), "xyz");
}
