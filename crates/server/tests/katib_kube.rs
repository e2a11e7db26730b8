//! Katib's `SetTrialStatus` against a real Kubernetes API server (etcd and kube-apiserver
//! that `./scripts/test.sh` starts with `../shared/tools/kube-control-plane`, its admin
//! kubeconfig in `FERROTUNE_TEST_KUBECONFIG`): with Katib's Trial resource installed, the
//! call appends Katib's `EarlyStopped` condition to the named Trial's status, once; a Trial
//! that is not there answers NOT_FOUND, an empty name INVALID_ARGUMENT, and a server without
//! `--kube` FAILED_PRECONDITION.

mod common;

mod kube_cluster {
    use crate::common::Server;
    use ferrotune_api::katib as pb;
    use ferrotune_api::katib::early_stopping_client::EarlyStoppingClient;
    use ferrotune_server::kube_trials::KubeAccess;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
    use serde_json::{Value, json};
    use std::time::Duration;
    use tonic::Code;

    async fn client() -> kube::Client {
        let path = std::env::var("FERROTUNE_TEST_KUBECONFIG").unwrap_or_else(|_| {
            panic!(
                "FERROTUNE_TEST_KUBECONFIG is not set: run ./scripts/test.sh, which starts a \
                 Kubernetes control plane with ../shared/tools/kube-control-plane"
            )
        });
        let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    use ferrotune_server::kube_trials::trial_resource as trials;

    /// Katib's Trial resource as far as this needs it: namespaced, with a status
    /// subresource, fields kept as they come.
    async fn install_trial_crd(client: &kube::Client) {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "trials.kubeflow.org"},
            "spec": {
                "group": "kubeflow.org",
                "scope": "Namespaced",
                "names": {"kind": "Trial", "plural": "trials", "singular": "trial", "listKind": "TrialList"},
                "versions": [{
                    "name": "v1beta1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true
                    }}
                }]
            }
        }))
        .unwrap();
        match crds.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("creating the Trial CRD: {e}"),
        }
        // Established: the API serves trials.
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &trials());
        for _ in 0..100 {
            if api.list(&Default::default()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the Trial CRD was not served within 10 s");
    }

    async fn namespace(client: &kube::Client, name: &str) {
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("creating namespace {name}: {e}"),
        }
    }

    /// A running Trial, its status written as Katib's trial controller writes it.
    async fn running_trial(api: &Api<DynamicObject>, name: &str) {
        let mut t = DynamicObject::new(name, &trials());
        t.data = json!({"spec": {"objective": {"objectiveMetricName": "loss"}}});
        api.create(&PostParams::default(), &t).await.unwrap();
        let status = json!({"status": {
            "startTime": "2026-11-24T00:00:00Z",
            "conditions": [
                {"type": "Created", "status": "True", "reason": "TrialCreated",
                 "message": "Trial is created", "lastUpdateTime": "2026-11-24T00:00:00Z",
                 "lastTransitionTime": "2026-11-24T00:00:00Z"},
                {"type": "Running", "status": "True", "reason": "TrialRunning",
                 "message": "Trial is running", "lastUpdateTime": "2026-11-24T00:00:01Z",
                 "lastTransitionTime": "2026-11-24T00:00:01Z"}
            ]
        }});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }

    fn conditions(t: &DynamicObject) -> Vec<Value> {
        t.data["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A server whose EarlyStopping service has `kube`; its address.
    async fn server(kube: Option<KubeAccess>) -> (String, Server) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::common::test_store(dir.path()).await;
        let mut config = ferrotune_server::Config::new(store, dir.path().join("runs"));
        config.kube = kube;
        let server = Server::start_with(dir, config, false, None).await;
        (format!("http://{}", server.addr), server)
    }

    fn request(name: &str) -> pb::SetTrialStatusRequest {
        pb::SetTrialStatusRequest {
            trial_name: name.into(),
        }
    }

    #[tokio::test]
    async fn set_trial_status_marks_the_katib_trial_early_stopped() {
        let client = client().await;
        install_trial_crd(&client).await;
        let ns = format!("katib-es-{}", std::process::id());
        namespace(&client, &ns).await;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &trials());
        running_trial(&api, "mnist-abc123").await;
        running_trial(&api, "mnist-def456").await;

        let access = KubeAccess::new(client.clone(), Some(ns.clone()));
        let (url, _server) = server(Some(access)).await;
        let mut es = EarlyStoppingClient::connect(url).await.unwrap();
        es.set_trial_status(request("mnist-abc123")).await.unwrap();
        let t = api.get("mnist-abc123").await.unwrap();
        let c = conditions(&t);
        assert_eq!(c.len(), 3, "{c:?}");
        let last = &c[2];
        assert_eq!(last["type"], "EarlyStopped", "{last}");
        assert_eq!(last["status"], "True");
        assert_eq!(last["reason"], "TrialEarlyStopped");
        assert!(
            last["lastTransitionTime"]
                .as_str()
                .is_some_and(|s| s.ends_with('Z'))
        );
        // The earlier conditions and the spec are kept; the other trial is untouched.
        assert_eq!(c[1]["type"], "Running");
        assert_eq!(t.data["spec"]["objective"]["objectiveMetricName"], "loss");
        assert_eq!(conditions(&api.get("mnist-def456").await.unwrap()).len(), 2);

        // Again: nothing more is appended.
        es.set_trial_status(request("mnist-abc123")).await.unwrap();
        assert_eq!(conditions(&api.get("mnist-abc123").await.unwrap()).len(), 3);

        let missing = es.set_trial_status(request("nope")).await.unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
        assert!(missing.message().contains("nope") && missing.message().contains(&ns));
        let empty = es.set_trial_status(request("")).await.unwrap_err();
        assert_eq!(empty.code(), Code::InvalidArgument, "{empty:?}");
        assert!(empty.message().contains("trial_name"), "{empty:?}");

        // A server without --kube cannot do it, and says how to allow it.
        let (url, _plain_server) = server(None).await;
        let mut plain = EarlyStoppingClient::connect(url).await.unwrap();
        let refused = plain
            .set_trial_status(request("mnist-def456"))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert!(refused.message().contains("--kube"), "{refused:?}");
        assert_eq!(conditions(&api.get("mnist-def456").await.unwrap()).len(), 2);

        let namespaces: Api<Namespace> = Api::all(client);
        let _ = namespaces.delete(&ns, &Default::default()).await;
    }
}
