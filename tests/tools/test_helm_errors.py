"""helm's stderr -> typed errors, and the summary shown in messages."""

from __future__ import annotations

import pytest

from firestream_core.errors import (
    ChartNotFoundError,
    ClusterUnreachableError,
    HelmCommandError,
    HelmTimeoutError,
    ImmutableFieldError,
    ReleaseLockedError,
    RenderError,
)
from firestream_core.tools.helm_errors import (
    ReleaseNotFoundError,
    classify,
    helm_error,
    immutable_refusals,
    summarize,
)
from firestream_core.tools.process import Completed

CASES = [
    ("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress", ReleaseLockedError),
    ('Error: Kubernetes cluster unreachable: Get "http://127.0.0.1:1/version": dial tcp 127.0.0.1:1: connect: connection refused', ClusterUnreachableError),
    ('Error: kubernetes cluster unreachable: Get "https://x.invalid/version": dial tcp: lookup x.invalid: no such host', ClusterUnreachableError),
    ("Error: UPGRADE FAILED: release app failed, and has been rolled back due to atomic being set: context deadline exceeded", HelmTimeoutError),
    ("Error: INSTALLATION FAILED: timed out waiting for the condition", HelmTimeoutError),
    ("Error: release: not found", ReleaseNotFoundError),
    ('Error: path "/nonexistent/chart" not found', ChartNotFoundError),
    ("Error: repo fixtures not found", ChartNotFoundError),
    ('Error: chart "tiny-app" matching 9.9.9 not found in fixtures index. (try \'helm repo update\'): no chart version found for tiny-app-9.9.9', ChartNotFoundError),
    ('Error: Get "https://127.0.0.1:1/v2/x/y/tags/list": dial tcp 127.0.0.1:1: connect: connection refused', ChartNotFoundError),
    ("Error: INSTALLATION FAILED: execution error at (broken/templates/configmap.yaml:6:12): broken: .Values.missing is required", RenderError),
    ('Error: INSTALLATION FAILED: parse error at (x/templates/a.yaml:3): function "nope" not defined', RenderError),
    ("Error: UPGRADE FAILED: YAML parse error on x/templates/a.yaml: error converting YAML to JSON: yaml: line 4: did not find expected key", RenderError),
    ("Error: something nobody expected", HelmCommandError),
]


@pytest.mark.parametrize(("stderr", "expected"), CASES)
def test_classify(stderr: str, expected: type) -> None:
    assert classify(stderr) is expected


def test_summary_drops_warnings_and_error_prefix() -> None:
    text = "WARNING: Kubernetes configuration file is group-readable.\nlevel=WARN msg=x\nError: boom\n"
    assert summarize(text) == "boom"
    assert summarize("") == "(no error output)"
    long = "\n".join(f"line {i}" for i in range(50))
    assert summarize(long, limit=5).endswith("(46 more lines)")


@pytest.mark.parametrize("month", ["01", "09", "10", "12"])
def test_summary_drops_client_go_log_lines_of_every_month(month: str) -> None:
    # helm 3.19's stderr for a failed pre-install hook Job: client-go's reflector logs its
    # cancelled watch before helm's own error; in October to December ``W0``/``I0`` missed it
    text = (
        f'E{month}07 11:48:09.588388   22196 reflector.go:205] "Failed to watch" err="context canceled"'
        ' logger="UnhandledError" reflector="k8s.io/client-go@v0.34.0/tools/cache/reflector.go:290"\n'
        f"W{month}07 11:48:09.600000   22196 warnings.go:70] spec.template: deprecated\n"
        f"I{month}07 11:48:09.600001   22196 request.go:700] Waited for 1s due to throttling\n"
        "Error: INSTALLATION FAILED: failed pre-install: 1 error occurred:\n"
        "\t* job web-migrate failed: BackoffLimitExceeded\n"
    )
    assert summarize(text) == "INSTALLATION FAILED: failed pre-install: job web-migrate failed: BackoffLimitExceeded"


def test_summary_keeps_client_go_errors_when_they_are_all_there_is() -> None:
    text = "E1207 11:48:09.588388   22196 memcache.go:265] couldn't get current server API group list\n"
    assert summarize(text) == text.strip()


def test_summary_puts_an_error_list_on_its_header_line() -> None:
    """helm 3's ``helm test`` of a failing test pod ends ``Error: 1 error occurred:`` +
    ``* pod x failed``; ``firestream test`` (and the run's summary) keep the first line: it read
    ``1 error occurred:`` and nothing else."""
    assert summarize("Error: 1 error occurred:\n\t* pod web-test failed\n\n") == "pod web-test failed"
    two = "Error: UPGRADE FAILED: 2 errors occurred:\n\t* job a failed\n\t* job b failed\n"
    assert summarize(two) == "UPGRADE FAILED: job a failed; job b failed"
    # a header with no list after it, and a list with no header, stay as they are
    assert summarize("Error: 1 error occurred:\nsomething else\n") == "1 error occurred:\nsomething else"
    assert summarize("* a bullet\n") == "* a bullet"


# client-go's lines while ``--wait`` retries its watches (the API server restarting, a load
# balancer dropping connections): they say "connection refused" whatever helm then fails with
_WATCH_RETRIES = (
    'E1207 12:00:00.000000   12345 reflector.go:158] "Unhandled Error" err="k8s.io/client-go/'
    "tools/watch/informerwatcher.go:146: Failed to watch *unstructured.Unstructured: Get "
    '\\"https://127.0.0.1:6443/apis/batch/v1/namespaces/shop/jobs?allowWatchBookmarks=true&'
    'fieldSelector=metadata.name%3Dweb-migrate&watch=true\\": dial tcp 127.0.0.1:6443: connect: '
    'connection refused" logger="UnhandledError"\n'
    "W1207 12:00:01.000000   12345 reflector.go:561] k8s.io/client-go/tools/watch/"
    "informerwatcher.go:146: failed to list *unstructured.Unstructured: Get "
    '"https://127.0.0.1:6443/apis/batch/v1/namespaces/shop/jobs?fieldSelector=metadata.name%3D'
    'web-migrate&limit=500": dial tcp 127.0.0.1:6443: connect: connection refused\n'
)


@pytest.mark.parametrize(("error", "expected"), [
    ("Error: UPGRADE FAILED: post-upgrade hooks failed: 1 error occurred:\n"
     "\t* job web-migrate failed: BackoffLimitExceeded\n", HelmCommandError),
    ("Error: UPGRADE FAILED: context deadline exceeded\n", HelmTimeoutError),
    ("Error: UPGRADE FAILED: release web failed, and has been rolled back due to atomic being set: "
     "resource Deployment/shop/web not ready. status: InProgress, message: Available: 0/1\n",
     HelmCommandError),
    ("Error: UPGRADE FAILED: execution error at (web/templates/a.yaml:6:12): image.tag is required\n",
     RenderError),
    # helm's own error says the cluster is gone: that stays unreachable
    ('Error: UPGRADE FAILED: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": '
     "dial tcp 127.0.0.1:6443: connect: connection refused\n", ClusterUnreachableError),
    ('Error: UPGRADE FAILED: Get "https://127.0.0.1:6443/api/v1/namespaces/shop/secrets": dial tcp '
     "127.0.0.1:6443: connect: connection refused\n", ClusterUnreachableError),
], ids=["hook-failed", "timeout", "rolled-back", "render", "unreachable", "refused"])
def test_client_go_watch_retries_do_not_decide_the_class(error: str, expected: type) -> None:
    """Any "connection refused" anywhere in stderr made a failed hook (or a render error) a
    ``ClusterUnreachableError``: retried as transient, with the hint to check the kubeconfig.
    Only helm's own error decides."""
    stderr = "WARNING: Kubernetes configuration file is group-readable.\n" + _WATCH_RETRIES + error
    assert classify(stderr, op="upgrade") is expected
    err = helm_error("upgrade", Completed(["helm", "upgrade"], 1, "", stderr, 30.0), stderr, release="web")
    assert type(err) is expected
    assert "connection refused" not in str(err) or "connection refused" in error
    assert ("(helm rolled the release back)" in str(err)) == ("rolled back" in error)


def test_client_go_lines_alone_still_decide_when_helm_said_nothing_else() -> None:
    assert classify(_WATCH_RETRIES) is ClusterUnreachableError
    text = "E1207 11:48:09.588388   22196 memcache.go:265] couldn't get current server API group list\n"
    assert classify(text) is ClusterUnreachableError


# What helm says when the API server refuses an immutable field: helm 3 patches (``cannot patch``),
# helm 4 applies server-side and names the namespace; the API server's own words after it.
_SELECTOR = ('Deployment.apps "edge-ingress-nginx-controller" is invalid: spec.selector: Invalid value: '
             'v1.LabelSelector{MatchLabels:map[string]string{"app.kubernetes.io/component":"controller", '
             '"app.kubernetes.io/instance":"edge", "app.kubernetes.io/name":"ingress-nginx"}, '
             "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")
_STATEFULSET = ('StatefulSet.apps "db-postgresql" is invalid: spec: Forbidden: updates to statefulset spec for '
                "fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")


@pytest.mark.parametrize(("stderr", "expected"), [
    ('Error: UPGRADE FAILED: cannot patch "edge-ingress-nginx-controller" with kind Deployment: '
     f'{_SELECTOR} && cannot patch "db-postgresql" with kind StatefulSet: {_STATEFULSET}\n',
     ["Deployment.apps/edge-ingress-nginx-controller (namespace shop): spec.selector",
      "StatefulSet.apps/db-postgresql (namespace shop): spec"]),
    ("Error: UPGRADE FAILED: release db failed, and has been rolled back due to rollback-on-failure being set: "
     f"server-side apply failed for object data/db-postgresql apps/v1, Kind=StatefulSet: {_STATEFULSET}\n",
     ["StatefulSet.apps/db-postgresql (namespace data): spec"]),
    ('Error: UPGRADE FAILED: cannot patch "conf" with kind Secret: Secret "conf" is invalid: data: Forbidden: '
     "field is immutable when `immutable` is set\n", ["Secret/conf (namespace shop): data"]),
    ('Error: UPGRADE FAILED: cannot patch "uploads" with kind PersistentVolumeClaim: PersistentVolumeClaim '
     '"uploads" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than '
     "previous value\n",
     ["PersistentVolumeClaim/uploads (namespace shop): spec.resources.requests.storage (a decrease)"]),
    ('Error: UPGRADE FAILED: cannot patch "kps-kube-state-metrics" with kind ClusterRoleBinding: '
     'ClusterRoleBinding.rbac.authorization.k8s.io "kps-kube-state-metrics" is invalid: roleRef: Invalid value: '
     'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"view"}: cannot change roleRef\n',
     ["ClusterRoleBinding.rbac.authorization.k8s.io/kps-kube-state-metrics: roleRef"]),
], ids=["helm3-patch", "helm4-server-side", "immutable-secret", "claim-decrease", "binding-roleref"])
def test_an_immutable_field_names_the_object_the_field_and_the_way_on(stderr: str, expected: list[str]) -> None:
    err = helm_error("upgrade", Completed(["helm", "upgrade"], 1, "", stderr, 3.0), stderr,
                     release="db", namespace="shop")
    assert type(err) is ImmutableFieldError and isinstance(err, HelmCommandError)
    assert [str(c).split(" (a field other")[0] for c in immutable_refusals(stderr, "shop")] == expected
    text = str(err)
    assert "the API server refused to change immutable fields" in text
    for line in expected:
        assert line.split(" (a decrease)")[0] in text
    assert "change the values" in text
    # never the advice to delete a claim: its volume may go with it
    assert ("--cascade=orphan" in text) == ("PersistentVolumeClaim" not in expected[0])
    # the way on, not helm's wall of text: no Go dump of the selector, no label values
    assert "LabelSelector{" not in text and "ingress-nginx\"" not in text


def test_other_invalid_objects_are_not_immutable_fields() -> None:
    stderr = ('Error: UPGRADE FAILED: cannot patch "web" with kind Deployment: Deployment.apps "web" is invalid: '
              "spec.replicas: Invalid value: -1: must be greater than or equal to 0\n")
    assert classify(stderr, op="upgrade") is HelmCommandError
    assert immutable_refusals(stderr) == []


# -- a rendering that fails because of the chart or its values (plan refuses it) -------------------
# helm 3.19 and 4.3's own words, as they printed them for small charts against the emulator
# (`helm upgrade --install --dry-run=server`; `install --replace` adds INSTALLATION FAILED)
CHART_FAULTS = [
    ("Error: execution error at (required-app/templates/secret.yaml:7:15): A valid .Values.auth.password entry is "
     "required!", "execution error at (required-app/templates/secret.yaml:7:15): A valid .Values.auth.password "
     "entry is required!"),
    ("Error: INSTALLATION FAILED: execution error at (fail-app/templates/cm.yaml:2:4): controller.kind must be one "
     "of Deployment, DaemonSet or Both", "execution error at (fail-app/templates/cm.yaml:2:4): controller.kind must "
     "be one of Deployment, DaemonSet or Both"),
    ("Error: values don't meet the specifications of the schema(s) in the following chart(s):\nschema-app:\n"
     "- at '/mode': value must be one of 'a', 'b'\n- at '/password': '***' does not match pattern '^[a-z]+$'\n\n",
     "values don't meet the specifications of the schema(s): schema-app: at '/mode': value must be one of 'a', "
     "'b'; at '/password': '***' does not match pattern '^[a-z]+$'"),
    ("Error: YAML parse error on yaml-app/templates/cm.yaml: error converting YAML to JSON: yaml: line 7: mapping "
     "values are not allowed in this context", "YAML parse error on yaml-app/templates/cm.yaml: error converting "
     "YAML to JSON: yaml: line 7: mapping values are not allowed in this context"),
    ('Error: parse error at (parse-app/templates/cm.yaml:4): unexpected "}" in operand',
     'parse error at (parse-app/templates/cm.yaml:4): unexpected "}" in operand'),
    ('Error: template: exec-app/templates/cm.yaml:6:15: executing "exec-app/templates/cm.yaml" at '
     "<.Values.missing.deep>: nil pointer evaluating interface {}.deep",
     'template: exec-app/templates/cm.yaml:6:15: executing "exec-app/templates/cm.yaml" at <.Values.missing.deep>: '
     "nil pointer evaluating interface {}.deep"),
    # helm 4 words a template that does not execute over three lines, without "template:"
    ('Error: exec-app/templates/cm.yaml:6:15\n  executing "exec-app/templates/cm.yaml" at <.Values.missing.deep>:\n'
     "    nil pointer evaluating interface {}.deep\n",
     'exec-app/templates/cm.yaml:6:15 executing "exec-app/templates/cm.yaml" at <.Values.missing.deep>: '
     "nil pointer evaluating interface {}.deep"),
    ("Error: An error occurred while checking for chart dependencies. You may need to run `helm dependency build` "
     "to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: common",
     "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to "
     "fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: common"),
    # a fail's own words are the chart's, even when they sound like a cluster's
    ("Error: execution error at (vault/templates/_helpers.tpl:3:8): install into namespace default is forbidden",
     "execution error at (vault/templates/_helpers.tpl:3:8): install into namespace default is forbidden"),
]

NOT_THE_CHARTS = [
    'Error: Kubernetes cluster unreachable: Get "http://127.0.0.1:1/version": dial tcp 127.0.0.1:1: connect: '
    "connection refused",
    'Error: kubernetes cluster unreachable: Get "http://127.0.0.1:1/version": dial tcp 127.0.0.1:1: connect: '
    "connection refused",
    # a lookup the API server did not answer
    'Error: template: l/templates/cm.yaml:1:10: executing "l/templates/cm.yaml" at <lookup "v1" "Secret" '
    '.Release.Namespace "x">: error calling lookup: secrets "x" is forbidden: User "ci" cannot get resource',
    # an object another release (or nobody) owns
    'Error: Unable to continue with install: ConfigMap "taken" in namespace "default" exists and cannot be imported '
    "into the current release: invalid ownership metadata",
    'Error: unable to build kubernetes objects from release manifest: resource mapping not found for name: "g" '
    'namespace: "" from "": no matches for kind "Gadget" in version "example.com/v1"',
    "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
    "Error: INSTALLATION FAILED: context deadline exceeded",
    'Error: chart requires kubeVersion: >=1.35.0-0 which is incompatible with Kubernetes v1.34.5',
    "Error: something nobody has seen before",
]


@pytest.mark.parametrize(("stderr", "reason"), CHART_FAULTS)
def test_a_rendering_the_chart_or_its_values_made_fail_gives_helms_reason_on_one_line(stderr, reason):
    from firestream_core.tools.helm_errors import chart_render_failure

    assert chart_render_failure(stderr) == reason


@pytest.mark.parametrize("stderr", NOT_THE_CHARTS)
def test_a_failure_that_may_be_the_clusters_is_not_the_charts(stderr):
    from firestream_core.tools.helm_errors import chart_render_failure

    assert chart_render_failure(stderr) is None


def test_klog_lines_before_helms_error_do_not_hide_it():
    from firestream_core.tools.helm_errors import chart_render_failure

    stderr = ("W1207 12:00:01.000000   12345 reflector.go:561] failed to list: connection refused\n"
              "Error: INSTALLATION FAILED: execution error at (a/templates/x.yaml:1:4): set image.tag\n")
    assert chart_render_failure(stderr) == "execution error at (a/templates/x.yaml:1:4): set image.tag"
