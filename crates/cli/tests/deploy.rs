//! The Kubernetes manifests in deploy/: each folder renders with `kubectl kustomize`, no
//! object lands in the `default` namespace, and the Ray head admits its three ports only
//! from its own namespace and the ferrotune server.

use std::collections::BTreeSet;
use std::path::Path;

fn render(folder: &str) -> Vec<serde_json::Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(folder);
    let out = std::process::Command::new("kubectl")
        .args(["kustomize", dir.to_str().unwrap()])
        .output()
        .expect("kubectl is needed to render deploy/ (kubectl kustomize)");
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/{folder}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn kinds(objs: &[serde_json::Value]) -> BTreeSet<String> {
    objs.iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Every namespaced object names a namespace, and never `default`.
fn no_default_namespace(folder: &str, objs: &[serde_json::Value]) {
    for o in objs {
        if o["kind"] == "Namespace" {
            assert_ne!(o["metadata"]["name"], "default");
            continue;
        }
        let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
        assert!(!ns.is_empty() && ns != "default", "deploy/{folder}: {o}");
    }
}

#[test]
fn the_server_renders_in_its_own_namespace_with_tokens() {
    let objs = render("server");
    no_default_namespace("server", &objs);
    assert_eq!(
        kinds(&objs),
        ["Deployment", "Namespace", "Service", "ServiceAccount"]
            .map(String::from)
            .into()
    );
    let d = objs.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let args: Vec<&str> = d["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // Listening beyond loopback is only allowed with tokens.
    assert!(args.contains(&"--listen=0.0.0.0:7700"), "{args:?}");
    assert!(args.iter().any(|a| a.starts_with("--tokens=")), "{args:?}");
    assert!(!args.contains(&"--insecure"), "{args:?}");
}

#[test]
fn the_ray_head_admits_its_ports_only_from_its_namespace_and_the_server() {
    let objs = render("ray");
    no_default_namespace("ray", &objs);
    assert_eq!(
        kinds(&objs),
        ["AuthorizationPolicy", "NetworkPolicy", "RayCluster"]
            .map(String::from)
            .into()
    );
    let ns = objs[0]["metadata"]["namespace"]
        .as_str()
        .unwrap()
        .to_string();
    let want: BTreeSet<u64> = [6379, 8265, 10001].into();

    let np = objs.iter().find(|o| o["kind"] == "NetworkPolicy").unwrap();
    assert_eq!(np["spec"]["policyTypes"], serde_json::json!(["Ingress"]));
    let ingress = np["spec"]["ingress"].as_array().unwrap();
    for rule in ingress {
        let ports: BTreeSet<u64> = rule["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_u64().unwrap())
            .collect();
        assert_eq!(ports, want, "{rule}");
        for from in rule["from"].as_array().unwrap() {
            // The own namespace (a bare podSelector), or the server's pods in its namespace.
            match from.get("namespaceSelector") {
                None => assert!(from.get("podSelector").is_some(), "{from}"),
                Some(sel) => {
                    assert_eq!(
                        sel["matchLabels"]["kubernetes.io/metadata.name"],
                        "ferrotune-system"
                    );
                    assert_eq!(
                        from["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
                        "ferrotune-server"
                    );
                }
            }
        }
    }

    let ap = objs
        .iter()
        .find(|o| o["kind"] == "AuthorizationPolicy")
        .unwrap();
    assert_eq!(ap["spec"]["action"], "ALLOW");
    for rule in ap["spec"]["rules"].as_array().unwrap() {
        let ports: BTreeSet<u64> = rule["to"][0]["operation"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ports, want);
        for from in rule["from"].as_array().unwrap() {
            let s = &from["source"];
            let ok = s["namespaces"] == serde_json::json!([ns])
                || s["principals"]
                    == serde_json::json!(["cluster.local/ns/ferrotune-system/sa/ferrotune-server"]);
            assert!(ok, "{from}");
        }
    }

    let rc = objs.iter().find(|o| o["kind"] == "RayCluster").unwrap();
    let head_ports: BTreeSet<u64> = rc["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
        [0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_u64().unwrap())
        .collect();
    assert_eq!(head_ports, want);
}

#[test]
fn the_server_on_ray_points_at_that_cluster() {
    let objs = render("server-ray");
    no_default_namespace("server-ray", &objs);
    let ray_ns = render("ray")[0]["metadata"]["namespace"]
        .as_str()
        .unwrap()
        .to_string();
    let d = objs.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let args = d["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--runner=ray"), "{args}");
    assert!(
        args.contains(&format!(
            "--ray-address=http://ferrotune-ray-head-svc.{ray_ns}.svc.cluster.local:8265"
        )),
        "{args}"
    );
    // Drivers on the Ray head and trials reach the server at its Service, not at the
    // address the pod listens on.
    let service = objs.iter().find(|o| o["kind"] == "Service").unwrap();
    let server = format!(
        "--advertise={}.{}.svc.cluster.local:{}",
        service["metadata"]["name"].as_str().unwrap(),
        service["metadata"]["namespace"].as_str().unwrap(),
        service["spec"]["ports"][0]["port"]
    );
    assert!(args.contains(&server), "{args} lacks {server}");
}
