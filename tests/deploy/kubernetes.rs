//! `deploy/k8s/`: the objects parse and point at each other, probes hit real routes, ports agree,
//! pods run as non-root with limits, and the ConfigMap and Secret make a configuration that loads.

use std::collections::{BTreeMap, BTreeSet};

use belvo_bff::config::secrets::DEV_DEFAULTS;
use belvo_bff::config::BelvoEnvironment;
use yaml_rust2::Yaml;

use crate::files::{
    default_settings, k8s_files, list, load_settings, manifest, spawn_server, str_of, string_map,
};

fn pod_spec(deployment: &Yaml) -> &Yaml {
    &deployment["spec"]["template"]["spec"]
}

fn container(deployment: &Yaml) -> &Yaml {
    let containers = list(&pod_spec(deployment)["containers"], "containers");
    assert_eq!(containers.len(), 1, "one container per pod");
    &containers[0]
}

fn pod_labels(deployment: &Yaml) -> BTreeMap<String, String> {
    string_map(
        &deployment["spec"]["template"]["metadata"]["labels"],
        "template labels",
    )
}

/// The container port a probe or Service names, by number or by port name.
fn resolve_port(port: &Yaml, container: &Yaml) -> i64 {
    match port {
        Yaml::Integer(n) => *n,
        Yaml::String(name) => list(&container["ports"], "ports")
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_i64())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => panic!("not a port: {other:?}"),
    }
}

fn probes(container: &Yaml) -> Vec<(&'static str, &Yaml)> {
    ["startupProbe", "livenessProbe", "readinessProbe"]
        .into_iter()
        .filter(|name| !container[*name].is_badvalue())
        .map(|name| (name, &container[name]["httpGet"]))
        .collect()
}

fn container_port(deployment: &Yaml) -> i64 {
    let ports = list(&container(deployment)["ports"], "ports");
    assert_eq!(ports.len(), 1);
    ports[0]["containerPort"].as_i64().unwrap()
}

#[test]
fn every_manifest_parses_and_kustomize_applies_all_but_the_secret_example() {
    let files = k8s_files();
    let mut applied = BTreeSet::new();
    for (name, docs) in &files {
        assert!(!docs.is_empty(), "{name} is empty");
        for doc in docs {
            if name == "kustomization.yaml" {
                applied.extend(
                    list(&doc["resources"], "resources")
                        .iter()
                        .map(|r| str_of(r, "resource").to_owned()),
                );
                continue;
            }
            assert!(doc["apiVersion"].as_str().is_some(), "{name}: apiVersion");
            assert!(doc["kind"].as_str().is_some(), "{name}: kind");
            assert!(doc["metadata"]["name"].as_str().is_some(), "{name}: name");
        }
    }
    let expected: BTreeSet<String> = files
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| name != "kustomization.yaml" && name != "secret.example.yaml")
        .collect();
    assert_eq!(applied, expected);
    for kind in [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
        "NetworkPolicy",
    ] {
        manifest(kind);
    }
}

#[tokio::test]
async fn probe_paths_are_routes_the_server_answers_with_200() {
    let deployment = manifest("Deployment");
    let container = container(&deployment);
    let probes = probes(container);
    let path_of = |name: &str| {
        probes
            .iter()
            .find(|(probe, _)| *probe == name)
            .map(|(_, http)| str_of(&http["path"], name).to_owned())
    };
    assert_eq!(path_of("livenessProbe").as_deref(), Some("/healthz"));
    assert_eq!(path_of("readinessProbe").as_deref(), Some("/readyz"));
    let annotations = string_map(
        &deployment["spec"]["template"]["metadata"]["annotations"],
        "annotations",
    );
    let mut paths: Vec<String> = probes
        .iter()
        .map(|(name, http)| str_of(&http["path"], name).to_owned())
        .collect();
    paths.push(annotations["prometheus.io/path"].clone());

    let base = spawn_server().await;
    let client = reqwest::Client::new();
    for path in paths {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
    }
}

#[test]
fn ports_agree_with_the_server_the_image_and_each_other() {
    let deployment = manifest("Deployment");
    let container = container(&deployment);
    let port = container_port(&deployment);
    assert_eq!(port, i64::from(default_settings().server.port));

    for (name, http) in probes(container) {
        assert_eq!(resolve_port(&http["port"], container), port, "{name}");
    }
    let service = manifest("Service");
    for service_port in list(&service["spec"]["ports"], "service ports") {
        assert_eq!(resolve_port(&service_port["targetPort"], container), port);
    }
    let annotations = string_map(
        &deployment["spec"]["template"]["metadata"]["annotations"],
        "annotations",
    );
    assert_eq!(annotations["prometheus.io/port"], port.to_string());
    let policy = manifest("NetworkPolicy");
    for rule in list(&policy["spec"]["ingress"], "ingress") {
        for allowed in list(&rule["ports"], "ingress ports") {
            assert_eq!(resolve_port(&allowed["port"], container), port);
        }
    }
}

#[test]
fn every_object_selects_the_deployments_pods() {
    let deployment = manifest("Deployment");
    let labels = pod_labels(&deployment);
    let selects_pods = |selector: &Yaml, what: &str| {
        let selector = string_map(selector, what);
        assert!(!selector.is_empty(), "{what} selects nothing");
        for (key, value) in &selector {
            assert_eq!(labels.get(key), Some(value), "{what}: {key}");
        }
    };
    selects_pods(
        &deployment["spec"]["selector"]["matchLabels"],
        "Deployment selector",
    );
    selects_pods(&manifest("Service")["spec"]["selector"], "Service");
    selects_pods(
        &manifest("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        "PodDisruptionBudget",
    );
    selects_pods(
        &manifest("NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
        "NetworkPolicy",
    );

    let hpa = manifest("HorizontalPodAutoscaler");
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"].as_str(), Some("Deployment"));
    assert_eq!(target["name"], deployment["metadata"]["name"]);
    let min = hpa["spec"]["minReplicas"].as_i64().unwrap();
    assert!(min >= 2, "one replica cannot survive a drain");
    assert!(hpa["spec"]["maxReplicas"].as_i64().unwrap() > min);
    let pdb = manifest("PodDisruptionBudget");
    let drains_progress = match (
        pdb["spec"]["maxUnavailable"].as_i64(),
        pdb["spec"]["minAvailable"].as_i64(),
    ) {
        (Some(max_unavailable), _) => max_unavailable >= 1,
        (None, Some(min_available)) => min_available < min,
        _ => false,
    };
    assert!(
        drains_progress,
        "the PodDisruptionBudget must let drains progress"
    );
}

#[test]
fn pods_run_as_non_root_on_a_read_only_root_with_limits() {
    let deployment = manifest("Deployment");
    let pod = &pod_spec(&deployment)["securityContext"];
    assert_eq!(pod["runAsNonRoot"].as_bool(), Some(true));
    assert!(pod["runAsUser"].as_i64().unwrap() > 0);
    let container = container(&deployment);
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    let dropped = list(&security["capabilities"]["drop"], "capabilities.drop");
    assert!(dropped.iter().any(|c| c.as_str() == Some("ALL")));
    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                !container["resources"][bound][resource].is_badvalue(),
                "resources.{bound}.{resource}"
            );
        }
    }
}

#[test]
fn the_secret_example_holds_exactly_the_secrets_the_server_reads() {
    let secret = manifest("Secret");
    let keys: BTreeSet<String> = string_map(&secret["stringData"], "stringData")
        .into_keys()
        .collect();
    let read: BTreeSet<String> = DEV_DEFAULTS.iter().map(|(v, _)| v.to_string()).collect();
    assert_eq!(keys, read);

    let deployment = manifest("Deployment");
    let from = list(&container(&deployment)["envFrom"], "envFrom");
    assert!(from
        .iter()
        .any(|source| source["secretRef"]["name"] == secret["metadata"]["name"]));
}

#[test]
fn the_config_map_secret_and_env_load_as_a_production_configuration() {
    let deployment = manifest("Deployment");
    let container = container(&deployment);
    let mut env: BTreeMap<String, String> = list(&container["env"], "env")
        .iter()
        .map(|var| {
            let name = str_of(&var["name"], "env name").to_owned();
            (name, str_of(&var["value"], "env value").to_owned())
        })
        .collect();

    // BFF_CONFIG names a key of the mounted ConfigMap.
    let config_map = manifest("ConfigMap");
    let volume = list(&pod_spec(&deployment)["volumes"], "volumes")
        .iter()
        .find(|v| v["configMap"]["name"] == config_map["metadata"]["name"])
        .expect("the ConfigMap is mounted");
    let mount = list(&container["volumeMounts"], "volumeMounts")
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("its volume is mounted");
    let config_path = env.remove("BFF_CONFIG").expect("BFF_CONFIG is set");
    let key = config_path
        .strip_prefix(&format!("{}/", str_of(&mount["mountPath"], "mountPath")))
        .expect("BFF_CONFIG is in the ConfigMap's mount");
    let toml = str_of(&config_map["data"][key], "ConfigMap data");

    let secret = string_map(&manifest("Secret")["stringData"], "stringData");
    env.extend(secret);
    let settings = load_settings(env, Some(toml)).expect("the deployed configuration loads");

    assert_eq!(settings.server.host, "0.0.0.0");
    assert_eq!(i64::from(settings.server.port), container_port(&deployment));
    assert_ne!(settings.belvo.environment, BelvoEnvironment::Embedded);
    assert!(settings.secrets.defaulted.is_empty());
    assert!(!settings.store.redis_url.is_empty(), "replicas share Redis");
    // SIGTERM: readiness 503 for shutdown_delay while still serving, then a drain of up to
    // shutdown_timeout; Kubernetes must not kill the pod before both are over.
    let grace = pod_spec(&deployment)["terminationGracePeriodSeconds"]
        .as_i64()
        .unwrap();
    let shutdown = settings.server.shutdown_delay + settings.server.shutdown_timeout;
    assert!(
        u64::try_from(grace).unwrap() > shutdown.as_secs(),
        "terminationGracePeriodSeconds {grace} <= shutdown {shutdown:?}"
    );
}

#[test]
fn the_network_policy_lets_the_pods_reach_dns_redis_and_belvo() {
    let policy = manifest("NetworkPolicy");
    let types: Vec<&str> = list(&policy["spec"]["policyTypes"], "policyTypes")
        .iter()
        .map(|t| str_of(t, "policyType"))
        .collect();
    assert_eq!(types, ["Ingress", "Egress"]);
    let egress_ports: BTreeSet<i64> = list(&policy["spec"]["egress"], "egress")
        .iter()
        .flat_map(|rule| list(&rule["ports"], "egress ports"))
        .filter_map(|port| port["port"].as_i64())
        .collect();
    for needed in [53, 6379, 443] {
        assert!(egress_ports.contains(&needed), "egress to port {needed}");
    }
    // Every file is one object except the kustomization: keep `kubectl apply -f` simple.
    for (name, docs) in k8s_files() {
        assert_eq!(docs.len(), 1, "{name}");
    }
}
