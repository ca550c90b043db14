//! Reading `deploy/`: YAML documents, the Dockerfile's stages, and the server itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use belvo_bff::config::{ConfigError, Settings};
use belvo_bff::startup::Application;
use yaml_rust2::{Yaml, YamlLoader};

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

pub fn read(relative: &str) -> String {
    let path = deploy_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file; anchors and aliases are not used in `deploy/`.
pub fn yaml(relative: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `deploy/k8s/*.yaml`, file name and documents, sorted by name.
pub fn k8s_files() -> Vec<(String, Vec<Yaml>)> {
    let mut names: Vec<String> = std::fs::read_dir(deploy_dir().join("k8s"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let docs = yaml(&format!("k8s/{name}"));
            (name, docs)
        })
        .collect()
}

/// The one Kubernetes object of `kind` in `deploy/k8s/`.
pub fn manifest(kind: &str) -> Yaml {
    let mut found: Vec<Yaml> = k8s_files()
        .into_iter()
        .flat_map(|(_, docs)| docs)
        .filter(|doc| doc["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind} in deploy/k8s");
    found.remove(0)
}

pub fn str_of<'a>(node: &'a Yaml, what: &str) -> &'a str {
    node.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {node:?}"))
}

pub fn list<'a>(node: &'a Yaml, what: &str) -> &'a [Yaml] {
    node.as_vec()
        .unwrap_or_else(|| panic!("{what} is not a list: {node:?}"))
}

/// A mapping of strings (labels, selectors, env) as a map.
pub fn string_map(node: &Yaml, what: &str) -> BTreeMap<String, String> {
    node.as_hash()
        .unwrap_or_else(|| panic!("{what} is not a mapping: {node:?}"))
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => b.to_string(),
                Yaml::Null => String::new(),
                other => panic!("{what}: unexpected value {other:?}"),
            };
            (str_of(k, what).to_owned(), value)
        })
        .collect()
}

/// The server's own defaults, as `cargo run` loads them.
pub fn default_settings() -> Settings {
    Settings::load_from(&BTreeMap::new()).expect("defaults load")
}

/// Loads the configuration the way the server does, with `env` as the environment and, when
/// given, `file` as the contents of the BFF_CONFIG file.
pub fn load_settings(
    mut env: BTreeMap<String, String>,
    file: Option<&str>,
) -> Result<Settings, ConfigError> {
    let path = std::env::temp_dir().join(format!("bff-deploy-{}.toml", uuid::Uuid::new_v4()));
    if let Some(contents) = file {
        std::fs::write(&path, contents).unwrap();
        env.insert("BFF_CONFIG".into(), path.display().to_string());
    }
    let loaded = Settings::load_from(&env);
    let _ = std::fs::remove_file(&path);
    loaded
}

/// Starts the real server (defaults, in-memory store, port 0) and returns its base URL.
pub async fn spawn_server() -> String {
    let mut settings = default_settings();
    settings.server.port = 0;
    settings.server.workers = 1;
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

/// One instruction of a Dockerfile, continuation lines joined.
#[derive(Debug)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

#[derive(Debug)]
pub struct Stage {
    /// `FROM <image> [AS <name>]`: the image and the name.
    pub image: String,
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn all(&self, keyword: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|i| i.keyword == keyword)
            .map(|i| i.args.as_str())
            .collect()
    }

    pub fn last(&self, keyword: &str) -> Option<&str> {
        self.all(keyword).pop()
    }

    /// `ENV` variables set in this stage (`KEY=VALUE` form).
    pub fn env(&self) -> BTreeMap<String, String> {
        self.all("ENV")
            .into_iter()
            .flat_map(|args| args.split_whitespace())
            .map(|pair| {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("use ENV KEY=VALUE: {pair}"));
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect()
    }
}

/// `deploy/Dockerfile`'s stages in order (instructions before the first FROM are dropped).
pub fn dockerfile() -> Vec<Stage> {
    let text = read("Dockerfile");
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in joined.iter().filter(|l| !l.is_empty()) {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let keyword = keyword.to_ascii_uppercase();
        let args = args.trim().to_owned();
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                _ => None,
            };
            stages.push(Stage {
                image: words[0].to_owned(),
                name,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(Instruction { keyword, args });
        }
    }
    stages
}
