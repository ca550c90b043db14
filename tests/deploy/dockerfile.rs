//! `deploy/Dockerfile`: a builder stage, then the binary alone, non-root, on the server's port.

use crate::files::{default_settings, dockerfile, load_settings, read};

#[test]
fn the_image_is_built_in_one_stage_and_runs_the_binary_alone_in_another() {
    let stages = dockerfile();
    assert!(stages.len() >= 2, "a builder stage and a runtime stage");
    let builder = &stages[0];
    let runtime = stages.last().unwrap();
    assert!(builder.image.starts_with("rust:"), "{}", builder.image);
    assert!(
        !runtime.image.starts_with("rust:"),
        "the runtime image carries no toolchain"
    );
    let builder_name = builder.name.as_deref().expect("the builder stage is named");
    let copies = runtime.all("COPY");
    assert_eq!(copies.len(), 1, "only the binary: {copies:?}");
    assert!(copies[0].starts_with(&format!("--from={builder_name} ")));
    assert!(copies[0].contains("belvo-bff"));
    let entrypoint = runtime.last("ENTRYPOINT").expect("an ENTRYPOINT");
    assert!(entrypoint.contains("belvo-bff"), "{entrypoint}");
    let build = builder.all("RUN").join(" ");
    assert!(build.contains("cargo build --release --locked"), "{build}");
}

#[test]
fn the_image_runs_as_a_non_root_user_by_number() {
    let stages = dockerfile();
    let user = stages.last().unwrap().last("USER").expect("a USER");
    let uid = user.split(':').next().unwrap();
    // A number, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    let uid: u32 = uid
        .parse()
        .unwrap_or_else(|_| panic!("numeric USER: {user}"));
    assert_ne!(uid, 0);
}

#[test]
fn the_image_listens_on_every_interface_on_the_servers_port() {
    let runtime = dockerfile().pop().unwrap();
    let expose: Vec<u16> = runtime
        .all("EXPOSE")
        .iter()
        .flat_map(|args| args.split_whitespace())
        .map(|port| port.trim_end_matches("/tcp").parse().unwrap())
        .collect();
    let default_port = default_settings().server.port;
    assert_eq!(default_port, 8080);
    assert_eq!(expose, vec![default_port]);

    let settings = load_settings(runtime.env(), None).expect("the image's ENV loads");
    assert_eq!(settings.server.host, "0.0.0.0");
    assert_eq!(settings.server.port, default_port);
}

#[test]
fn the_healthcheck_runs_the_binarys_own_check_without_a_shell() {
    let runtime = dockerfile().pop().unwrap();
    let check = runtime.last("HEALTHCHECK").expect("a HEALTHCHECK");
    // Exec form: distroless has no shell to run the shell form with.
    let command = check
        .split_once("CMD ")
        .map(|(_, command)| command.trim())
        .unwrap_or_else(|| panic!("HEALTHCHECK ... CMD [...]: {check}"));
    let argv: Vec<String> = serde_json::from_str(command)
        .unwrap_or_else(|e| panic!("exec form (a JSON array) expected: {command}: {e}"));
    let copied = runtime.all("COPY")[0]
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    assert_eq!(argv, [copied, "healthcheck".to_owned()], "{check}");
}

#[test]
fn the_build_context_keeps_everything_compiled_into_the_binary() {
    let ignored: Vec<String> = read("Dockerfile.dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_matches('/').to_owned())
        .collect();
    // askama reads templates/, include_str! reads static/, config/ and src/ at build time.
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "templates",
        "static",
        "config",
    ] {
        assert!(
            !ignored
                .iter()
                .any(|pattern| pattern == needed || pattern == "*"),
            "{needed} is needed to build"
        );
    }
    assert!(ignored.iter().any(|p| p == "target"), "target/ stays out");
}
