"""tools/manifests.py: rendered manifests split into objects, each with helm's ``# Source:``."""

from __future__ import annotations

from firestream_core.tools.manifests import split_manifest

# What helm template prints for an upstream CRD file that starts with a comment and its own
# "---" (kube-prometheus-stack's charts/crds/crds/*.yaml do), then a file with two documents.
RENDERED = """---
# Source: kps/charts/crds/crds/crd-alertmanagerconfigs.yaml
# https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.63.0/example/...
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: alertmanagerconfigs.monitoring.coreos.com
spec:
  versions:
    - schema:
        openAPIV3Schema:
          properties:
            matchType:
              enum:
                - "!="
                - =
                - =~
---
# Source: kps/templates/services.yaml
apiVersion: v1
kind: Service
metadata:
  name: a
  namespace: kube-system
---
apiVersion: v1
kind: Service
metadata:
  name: b
"""


def test_a_files_source_holds_for_every_document_after_it_until_the_next_source() -> None:
    objs = split_manifest(RENDERED)
    assert [(o.obj["kind"], o.obj["metadata"]["name"], o.source) for o in objs] == [
        ("CustomResourceDefinition", "alertmanagerconfigs.monitoring.coreos.com",
         "kps/charts/crds/crds/crd-alertmanagerconfigs.yaml"),
        ("Service", "a", "kps/templates/services.yaml"),
        ("Service", "b", "kps/templates/services.yaml"),
    ]
    assert [o.from_crds_folder for o in objs] == [True, False, False]
    enum = objs[0].obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["matchType"]["enum"]
    assert enum == ["!=", "=", "=~"]  # YAML 1.2: a bare '=' is a string


# -- mask_manifest: what ``firestream template`` prints --------------------------------------

from firestream_core.tools.manifests import mask_manifest  # noqa: E402
from firestream_core.tools.redact import Redactor  # noqa: E402

CONFIGMAP = """# Source: app/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app   # helm's own comment stays
  namespace: other
data:
  greeting:   "hello,   world"
  dsn: postgres://app:{pw}@db:5432/app
"""


def _secret(pw: str, b64: str) -> str:
    return f"""# Source: app/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: app-auth
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
type: Opaque
data:
  token: {b64}
stringData:
  password: "{pw}"
"""


def test_template_output_hides_secret_data_and_every_place_a_secret_value_shows() -> None:
    import base64

    pw, token = "s3cr3t-Pa55word", "tok-8d2f1c0a"
    b64 = base64.b64encode(token.encode()).decode()
    text = "---\n" + _secret(pw, b64) + "---\n" + CONFIGMAP.format(pw=pw) + "---\n" \
        + f"# Source: app/templates/job.yaml\nkind: Pod\nmetadata:\n  name: p\nspec:\n  args: [--token={token}]\n"
    out = mask_manifest(text)
    assert pw not in out and token not in out and b64 not in out
    assert "  password: <hidden>\n" in out and "  token: <hidden>\n" in out  # the keys stay readable
    assert "dsn: postgres://app:***@db:5432/app" in out  # a Secret's value elsewhere is masked
    assert "--token=***" in out
    assert "helm.sh/hook: pre-install,pre-upgrade" in out and "name: app-auth" in out
    # a document without a Secret is helm's text byte for byte: spacing, quoting, comments
    assert 'greeting:   "hello,   world"' in out and "# helm's own comment stays" in out
    assert out.count("# Source: ") == 3 and out.startswith("---\n# Source: app/templates/secret.yaml\n")


def test_template_output_masks_what_the_redactor_knows_and_leaves_the_redactor_as_it_was() -> None:
    red = Redactor(["from-values-9f3e"])
    text = CONFIGMAP.format(pw="from-values-9f3e") + "---\n" + _secret("only-in-secret-77", "")
    out = mask_manifest(text, red)
    assert "from-values-9f3e" not in out and "only-in-secret-77" not in out
    assert "only-in-secret-77" not in red  # a copy learned the Secret's value
    assert "from-values-9f3e" in red


def test_template_output_masks_secrets_inside_a_list_document_and_keeps_text_that_does_not_parse() -> None:
    listed = ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n"
              "    name: a\n  stringData:\n    key: listed-secret-42\n")
    broken = "kind: ConfigMap\nmetadata: {name: [unclosed\n"
    out = mask_manifest("---\n" + listed + "---\n" + broken)
    assert "listed-secret-42" not in out and "key: <hidden>" in out
    assert out.endswith("---\n" + broken)  # kept as written (helm would not have rendered it)


def test_template_output_of_a_manifest_without_secrets_is_unchanged() -> None:
    text = "\n---\n" + CONFIGMAP.format(pw="plain") + "---\n# Source: app/templates/empty.yaml\n"
    assert mask_manifest(text) == text
