//! Dependencies point down: every file under `src/` may import (`crate::<module>`) only modules
//! of its own layer or of a layer below it. The layers, bottom first, are the table below (and
//! the README's "Layout" section); a module missing from the table fails too, so a new module
//! has to be placed before it is used.

use std::fs;
use std::path::{Path, PathBuf};

/// Bottom first. A module may import its own layer and every layer above it in this list.
const LAYERS: &[(&str, &[&str])] = &[
    // Leaves: import nothing from the crate.
    ("leaves", &["metrics", "client_addr", "shutdown", "pages"]),
    ("domain", &["domain", "password"]),
    ("config", &["config"]),
    ("adapters", &["store", "belvo"]),
    ("errors", &["error_code", "error"]),
    ("edges", &["telemetry", "jwt", "emulator"]),
    (
        "services",
        &[
            "products",
            "branding",
            "sessions",
            "links",
            "notify",
            "institutions",
        ],
    ),
    // Background work that runs the services (the link checks and unfinished verifications).
    ("workers", &["scheduler"]),
    ("state", &["state"]),
    ("extractors", &["auth"]),
    ("routes", &["routes"]),
    ("startup", &["startup", "cli"]),
];

/// The binary and the module list: they sit above everything.
const TOP: &[&str] = &["main", "lib"];

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&module))
        .map(|(rank, (name, _))| (rank, *name))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/x.rs` and `src/x/**` are `x`.
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap();
    let first = first.as_os_str().to_str().unwrap();
    first.trim_end_matches(".rs").to_owned()
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Every top-level module named through `crate::`, with its line: `crate::a::b`, and each
/// member of a `crate::{a, b::{c, d}}` group. Comment lines are skipped.
fn imports(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let code: String = source
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    for (at, _) in code.match_indices("crate::") {
        // `belvo_crate::` or `my_crate::` are not this crate.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        push_member(&group[start..i], at, &line_of, &mut found);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        push_member(&group[start..i], at, &line_of, &mut found);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident_at(rest);
            if !name.is_empty() {
                found.push((line_of(at), name.to_owned()));
            }
        }
    }
    found
}

fn push_member(
    member: &str,
    at: usize,
    line_of: &impl Fn(usize) -> usize,
    found: &mut Vec<(usize, String)>,
) {
    let name = ident_at(member.trim_start());
    if !name.is_empty() && name != "self" {
        found.push((line_of(at), name.to_owned()));
    }
}

/// Each import that climbs, as `file:line: module (layer) imports module (layer)`.
fn climbing_imports(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let module = module_of(relative);
        if TOP.contains(&module.as_str()) {
            continue;
        }
        let Some((rank, layer)) = layer_of(&module) else {
            problems.push(format!(
                "src/{}: module `{module}` is in no layer of tests/layers.rs",
                relative.display()
            ));
            continue;
        };
        let source = fs::read_to_string(&file).unwrap();
        for (line, imported) in imports(&source) {
            match layer_of(&imported) {
                None => problems.push(format!(
                    "src/{}:{line}: imports `crate::{imported}`, which is in no layer",
                    relative.display()
                )),
                Some((to, to_layer)) if to > rank => problems.push(format!(
                    "src/{}:{line}: `{module}` ({layer}) imports `crate::{imported}` \
                     ({to_layer}), a layer above it",
                    relative.display()
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = climbing_imports(&src);
    assert!(
        problems.is_empty(),
        "imports that climb the layers (see the README's Layout):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_plain_paths_and_groups() {
    let source = "use crate::domain::ids::SessionId;\n\
                  // crate::routes in a comment does not count\n\
                  use crate::{\n    config::Settings,\n    store::{DynStore, Keys},\n    self,\n};\n\
                  fn f() { crate::metrics::handle(); let _ = belvo_crate::x; }\n";
    let names: Vec<String> = imports(source).into_iter().map(|(_, m)| m).collect();
    assert_eq!(names, ["domain", "config", "store", "metrics"]);
}

#[test]
fn every_module_of_the_crate_has_a_layer() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line.trim().strip_prefix("pub mod ") {
            let name = name.trim_end_matches(';');
            assert!(
                layer_of(name).is_some(),
                "`{name}` is in no layer of tests/layers.rs"
            );
        }
    }
}
