"""tools/manifests.py ``immutable_changes``: the objects an upgrade patches whose immutable fields
change, over manifests shaped like the upstream charts' (bitnami/postgresql's primary
StatefulSet, kubernetes/ingress-nginx's controller Deployment)."""

from __future__ import annotations

import base64

import pytest

from firestream_core.tools.manifests import immutable_changes, split_manifest


def postgresql(*, size: str = "8Gi", component: str = "primary", service: str = "db-postgresql-hl",
               policy: str = "", replicas: int = 1, image: str = "17.2.0", hook: bool = False) -> str:
    """bitnami/postgresql's templates/primary/statefulset.yaml, rendered for release 'db'."""
    pm = f"\n  podManagementPolicy: {policy}" if policy else ""
    hook_ann = "\n  annotations:\n    helm.sh/hook: pre-upgrade" if hook else ""
    return f"""---
# Source: postgresql/templates/primary/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db-postgresql
  namespace: "data"{hook_ann}
  labels:
    app.kubernetes.io/instance: db
    app.kubernetes.io/name: postgresql
    app.kubernetes.io/component: primary
spec:
  replicas: {replicas}
  serviceName: {service}{pm}
  updateStrategy:
    rollingUpdate: {{}}
    type: RollingUpdate
  selector:
    matchLabels:
      app.kubernetes.io/instance: db
      app.kubernetes.io/name: postgresql
      app.kubernetes.io/component: {component}
  template:
    metadata:
      name: db-postgresql
      labels:
        app.kubernetes.io/instance: db
        app.kubernetes.io/name: postgresql
        app.kubernetes.io/component: {component}
    spec:
      containers:
        - name: postgresql
          image: docker.io/bitnami/postgresql:{image}
  volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
      spec:
        accessModes:
          - "ReadWriteOnce"
        resources:
          requests:
            storage: "{size}"
"""


def ingress_nginx(selector: str) -> str:
    """kubernetes/ingress-nginx's controller-deployment.yaml, rendered for release 'edge'."""
    return f"""---
# Source: ingress-nginx/templates/controller-deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app.kubernetes.io/name: ingress-nginx
    app.kubernetes.io/instance: edge
    app.kubernetes.io/component: controller
  name: edge-ingress-nginx-controller
  namespace: ingress
spec:
  selector:
    matchLabels:
{selector}
  replicas: 1
  revisionHistoryLimit: 10
  minReadySeconds: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ingress-nginx
        app.kubernetes.io/instance: edge
        app.kubernetes.io/component: controller
    spec:
      containers:
        - name: controller
          image: registry.k8s.io/ingress-nginx/controller:v1.11.2
"""


NEW_LABELS = """      app.kubernetes.io/name: ingress-nginx
      app.kubernetes.io/instance: edge
      app.kubernetes.io/component: controller"""
OLD_LABELS = """      app: nginx-ingress
      release: edge
      component: controller"""


def changes(old: str, new: str, namespace: str = "data") -> list[str]:
    return [str(c) for c in immutable_changes(split_manifest(old), split_manifest(new), namespace)]


def test_a_postgresql_major_names_its_selector_and_claim_templates() -> None:
    # the classic major break: a new component label and a bigger volume, and a new headless service
    found = changes(postgresql(), postgresql(size="10Gi", component="primary-v2", service="db-hl"))
    assert found == [
        "StatefulSet.apps/db-postgresql (namespace data): spec.serviceName",
        "StatefulSet.apps/db-postgresql (namespace data): spec.selector",
        "StatefulSet.apps/db-postgresql (namespace data): spec.volumeClaimTemplates (claim template 'data')",
    ]


def test_a_statefulset_upgrade_that_changes_only_mutable_fields_is_not_flagged() -> None:
    # replicas, the pod template (image, labels kept) and the update strategy may change
    assert changes(postgresql(), postgresql(replicas=3, image="17.3.0")) == []
    # the same size written another way is the same quantity
    assert changes(postgresql(size="8Gi"), postgresql(size="8192Mi")) == []


def test_pod_management_policy_is_compared_with_the_api_servers_default() -> None:
    assert changes(postgresql(), postgresql(policy="OrderedReady")) == []
    assert changes(postgresql(), postgresql(policy="Parallel")) == [
        "StatefulSet.apps/db-postgresql (namespace data): spec.podManagementPolicy"]


def test_an_ingress_nginx_selector_change_is_named_and_label_order_is_not() -> None:
    old, new = ingress_nginx(OLD_LABELS), ingress_nginx(NEW_LABELS)
    assert changes(old, new, "ingress") == [
        "Deployment.apps/edge-ingress-nginx-controller (namespace ingress): spec.selector"]
    reordered = ingress_nginx("\n".join(reversed(NEW_LABELS.splitlines())))
    assert changes(new, reordered, "ingress") == []


def test_objects_that_move_namespace_or_kind_and_hooks_are_not_patches() -> None:
    moved = postgresql(component="x").replace('namespace: "data"', 'namespace: "other"')
    assert changes(postgresql(), moved) == []
    as_deployment = postgresql(component="x").replace("kind: StatefulSet", "kind: Deployment")
    assert changes(postgresql(), as_deployment) == []
    # a hook is created and deleted by helm, never patched
    assert changes(postgresql(hook=True), postgresql(component="x", hook=True)) == []


def job(template_image: str, *, hook: str = "", selector: str = "") -> str:
    ann = f"\n  annotations:\n    helm.sh/hook: {hook}" if hook else ""
    sel = f"\n  selector:\n    matchLabels:\n      job: {selector}" if selector else ""
    return f"""apiVersion: batch/v1
kind: Job
metadata:
  name: migrate{ann}
spec:{sel}
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: {template_image}
"""


def test_a_jobs_template_and_selector_but_not_a_hook_job() -> None:
    assert changes(job("app:1"), job("app:2")) == ["Job.batch/migrate (namespace data): spec.template"]
    assert changes(job("app:1", hook="pre-upgrade"), job("app:2", hook="pre-upgrade")) == []
    assert changes(job("app:1", selector="a"), job("app:1", selector="b")) == [
        "Job.batch/migrate (namespace data): spec.selector"]
    # a selector one side leaves to the API server is not compared
    assert changes(job("app:1"), job("app:1", selector="b")) == []


def service(cluster_ip: str, ips: str = "") -> str:
    line = f"\n  clusterIP: {cluster_ip}" if cluster_ip else ""
    line += f"\n  clusterIPs: [{ips}]" if ips else ""
    return f"apiVersion: v1\nkind: Service\nmetadata:\n  name: db-hl\nspec:{line}\n  ports:\n    - port: 5432\n"


def test_a_services_cluster_ip_only_when_both_set_it() -> None:
    assert changes(service("None"), service("10.0.0.5")) == ["Service/db-hl (namespace data): spec.clusterIP"]
    assert changes(service(""), service("10.0.0.5")) == []
    assert changes(service("None"), service("None")) == []
    assert changes(service("", "10.0.0.5"), service("", "10.0.0.6")) == [
        "Service/db-hl (namespace data): spec.clusterIPs"]


def binding(role: str) -> str:
    """kube-state-metrics' templates/clusterrolebinding.yaml (kube-prometheus-stack's subchart):
    roleRef.name is rbac.useExistingRole when set, else the chart's own ClusterRole."""
    return ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n"
            "  name: kps-kube-state-metrics\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
            f"  kind: ClusterRole\n  name: {role}\nsubjects:\n- kind: ServiceAccount\n"
            "  name: kps-kube-state-metrics\n  namespace: monitoring\n")


def ingress_class(controller: str, default: bool = False) -> str:
    """ingress-nginx's templates/controller-ingressclass.yaml."""
    ann = '\n  annotations:\n    ingressclass.kubernetes.io/is-default-class: "true"' if default else ""
    return (f"apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: nginx{ann}\n"
            f"spec:\n  controller: {controller}\n")


def test_a_bindings_role_ref_and_an_ingress_class_controller() -> None:
    assert changes(binding("kps-kube-state-metrics"), binding("view")) == [
        "ClusterRoleBinding.rbac.authorization.k8s.io/kps-kube-state-metrics: roleRef"]
    assert changes(binding("view"), binding("view")) == []
    role = binding("kps-kube-state-metrics").replace("ClusterRoleBinding", "RoleBinding")
    assert changes(role, role.replace("kind: ClusterRole\n", "kind: Role\n")) == [
        "RoleBinding.rbac.authorization.k8s.io/kps-kube-state-metrics (namespace data): roleRef"]
    assert changes(ingress_class("k8s.io/ingress-nginx"), ingress_class("k8s.io/ingress-nginx-internal")) == [
        "IngressClass.networking.k8s.io/nginx: spec.controller"]
    # what may change does not count: the default-class annotation
    assert changes(ingress_class("k8s.io/ingress-nginx"), ingress_class("k8s.io/ingress-nginx", True)) == []


def claim(size: str, modes: str = "ReadWriteOnce", storage_class: str = "") -> str:
    sc = f"\n  storageClassName: {storage_class}" if storage_class else ""
    return (f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: uploads\nspec:{sc}\n"
            f"  accessModes: [{modes}]\n  resources:\n    requests:\n      storage: {size}\n")


def test_a_claim_may_grow_but_not_shrink_or_change_anything_else() -> None:
    assert changes(claim("1Gi"), claim("2Gi")) == []
    assert changes(claim("2Gi"), claim("1Gi")) == [
        "PersistentVolumeClaim/uploads (namespace data): spec.resources.requests.storage (a decrease)"]
    assert changes(claim("1Gi"), claim("1Gi", modes="ReadWriteMany")) == [
        "PersistentVolumeClaim/uploads (namespace data): spec.accessModes"]
    # a storage class only the new side names is left to the server (it may be the default)
    assert changes(claim("1Gi"), claim("1Gi", storage_class="fast")) == []
    assert changes(claim("1Gi", storage_class="slow"), claim("1Gi", storage_class="fast")) == [
        "PersistentVolumeClaim/uploads (namespace data): spec.storageClassName"]


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_an_immutable_configmap_or_secret_whose_data_changes_never_shows_a_value(kind: str) -> None:
    def obj(value: str, immutable: bool = True) -> str:
        data = base64.b64encode(value.encode()).decode() if kind == "Secret" else value
        mark = "\nimmutable: true" if immutable else ""
        return f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: conf{mark}\ndata:\n  password: {data}\n"

    found = immutable_changes(split_manifest(obj("hunter2-old")), split_manifest(obj("hunter2-new")), "data")
    assert [(c.key.kind, c.field, c.detail) for c in found] == [(kind, "data", "keys password")]
    assert "hunter2" not in repr(found) and "hunter2" not in str([c.to_dict() for c in found])
    assert changes(obj("same"), obj("same")) == []
    assert changes(obj("a", immutable=False), obj("b", immutable=False)) == []
    assert [c.field for c in immutable_changes(split_manifest(obj("a")), split_manifest(obj("a", False)))] == [
        "immutable"]


def test_the_way_on_is_an_orphaning_delete_of_the_object() -> None:
    found = immutable_changes(split_manifest(postgresql()), split_manifest(postgresql(component="x")), "data")
    assert found[0].orphan_command == "kubectl delete statefulset.apps db-postgresql -n data --cascade=orphan"
    assert found[0].to_dict() == {"kind": "StatefulSet", "group": "apps", "namespace": "data",
                                  "name": "db-postgresql", "field": "spec.selector", "detail": None,
                                  "delete_command": found[0].orphan_command}


def test_a_claim_is_never_offered_for_deletion() -> None:
    from firestream_core.tools.manifests import immutable_way_on

    found = immutable_changes(split_manifest(claim("2Gi")), split_manifest(claim("1Gi")), "data") + \
        immutable_changes(split_manifest(postgresql()), split_manifest(postgresql(component="x")), "data")
    text = immutable_way_on(found)
    assert "kubectl delete statefulset.apps db-postgresql -n data --cascade=orphan" in text
    assert "persistentvolumeclaim" not in text and "its volume may go with it" in text
