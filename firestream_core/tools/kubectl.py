"""``Kubectl``: the kubectl calls validation and chart plugins need.

Like :mod:`~firestream_core.tools.helm`, every call is an argument list through
the one :class:`~firestream_core.tools.process.Runner` (:func:`~firestream_core.tools.process.run_tool`);
manifests go on stdin (``-f -``), never on argv; failures are typed
(:func:`~firestream_core.tools.helm_errors.kubectl_error`) and their stderr redacted.
``get`` answers None for an object (or a kind) that does not exist, so a
validation can ask "is it there?" without catching anything.
``get_labelled`` is ``get`` by one label's value, shared by the calls made
at the same time (:mod:`~firestream_core.tools.coalesce`): releases validating
together read their pods with one ``kubectl get -l 'label in (a,b,c)'``.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from firestream_core.errors import HelmError
from firestream_core.tools import kube_yaml
from firestream_core.tools.coalesce import Coalescer
from firestream_core.tools.helm_args import seconds
from firestream_core.tools.helm_errors import (
    KUBECTL_TIMED_OUT,
    UNREACHABLE,
    kubectl_error,
    kubectl_said,
)
from firestream_core.tools.kubetool import KubeTool
from firestream_core.tools.process import Completed, ProgramNotFoundError, Runner
from firestream_core.tools.redact import Redactor
from firestream_core.tools.release_log import release_logger

__all__ = ["ENV_KUBECTL_BINARY", "LABELLED_BATCH", "Kubectl", "NamespaceLookup"]

log = release_logger("firestream.kubectl")  # during a lifecycle its lines name the release

ENV_KUBECTL_BINARY = "FIRESTREAM_KUBECTL_BINARY"
"""Environment variable naming the kubectl binary (default: ``kubectl`` on PATH)."""

LABELLED_BATCH = 50
"""Most label values one shared ``get_labelled`` call asks for (the selector stays short)."""

# a label value (at most 63 characters); only such a value can stand in a selector's set
_LABEL_VALUE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")

# what a failed call's stderr says: patterns compiled on first use (re caches them), only a
# failure reads them (as tools/helm_errors.py's)
_NOT_FOUND = r"(?i)\(NotFound\)|not found|the server doesn't have a resource type|no matches for kind"
_NO_MATCH = r"(?i)no matching resources found"
_ALREADY_EXISTS = r"(?i)\(AlreadyExists\)|already exists"
_CONFLICT = r"(?i)\(Conflict\)|the object has been modified"
_FORBIDDEN = r"(?i)\(Forbidden\)|is forbidden|cannot list resource|cannot get resource"
# one line of a refused or missing namespace: Error from server (Forbidden): namespaces "data" is forbidden: ...
_NAMESPACE_LINE = r'(?i)^Error from server \((Forbidden|NotFound)\): namespaces? "([^"]+)"'


class NamespaceLookup:
    """Which namespaces exist, as :meth:`Kubectl.namespaces_exist` learned it.

    :ivar exists: name -> True (exists), False (does not), None (could not be learned).
    :ivar problem: why some could not be learned (kubectl's own words, redacted), or None.
    :ivar calls: the kubectl calls it took (0, 1 or 2).

    >>> lookup = NamespaceLookup({"data": False, "web": None}, "forbidden", 2)
    >>> lookup.missing, lookup.unknown
    (('data',), ('web',))
    """

    __slots__ = ("calls", "exists", "problem")

    def __init__(self, exists: Mapping[str, bool | None], problem: str | None = None, calls: int = 0) -> None:
        self.exists: dict[str, bool | None] = dict(exists)
        self.problem = problem
        self.calls = calls

    @property
    def missing(self) -> tuple[str, ...]:
        """The namespaces known not to exist."""
        return tuple(n for n, e in self.exists.items() if e is False)

    @property
    def unknown(self) -> tuple[str, ...]:
        """The namespaces whose existence could not be learned."""
        return tuple(n for n, e in self.exists.items() if e is None)

    def __repr__(self) -> str:
        return f"NamespaceLookup({self.exists!r}, problem={self.problem!r}, calls={self.calls})"


class Kubectl(KubeTool):
    """Runs kubectl for firestream.

    :param runner: the process runner (shared with ``Helm`` so Ctrl-C stops both).
    :param binary: default ``$FIRESTREAM_KUBECTL_BINARY``, else ``kubectl`` on PATH.
    :param kubeconfig: passed as ``--kubeconfig``.
    :param kube_context: passed as ``--context``.
    :param env: variables added to kubectl's environment.
    :param redactor: hides values in errors and in the logs ``logs`` returns.
    """

    program = "kubectl"
    binary_env = ENV_KUBECTL_BINARY
    context_flag = "--context"

    def __init__(
        self,
        runner: Runner | None = None,
        binary: str | os.PathLike[str] | None = None,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        kube_context: str | None = None,
        env: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        super().__init__(runner, binary, kube_context=kube_context, env=env, redactor=redactor)
        self.kubeconfig: str | None = os.fspath(kubeconfig) if kubeconfig is not None else None
        # get_labelled's calls made at the same time share one kubectl call (tools/coalesce.py)
        self._labelled: Coalescer[tuple[str, str, str], str, tuple[dict[str, Any] | None, str | None]] = (
            Coalescer(self._labelled_batch, limit=LABELLED_BATCH)
        )

    def __repr__(self) -> str:
        return f"Kubectl(binary={self.binary!r}, kubeconfig={self.kubeconfig!r})"

    # -- running ------------------------------------------------------------------
    def _run(
        self,
        op: str,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        label: str | None = None,
        redactor: Redactor | None = None,
    ) -> Completed:
        return self._call(args, what=f"kubectl {op}", stdin=stdin, timeout=timeout, label=label)

    def _failure(self, op: str, result: Completed, *, redactor: Redactor | None = None) -> HelmError:
        return kubectl_error(op, result, self._redacted_stderr(result, redactor))

    @staticmethod
    def _scope(namespace: str | None, all_namespaces: bool = False) -> list[str]:
        if all_namespaces:
            return ["--all-namespaces"]
        return ["--namespace", namespace] if namespace else []

    # -- reading -----------------------------------------------------------------------
    def get(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        all_namespaces: bool = False,
    ) -> dict[str, Any] | None:
        """The object (or, without ``name``, the list) as JSON; None when it does not exist.

        A kind the server does not know (a CRD not installed) also gives None.
        """
        args = ["get", kind, *([name] if name else []), "--output", "json"]
        args += self._scope(namespace, all_namespaces)
        if selector:
            args += ["--selector", selector]
        result = self._run("get", args)
        if not result.ok:
            said = kubectl_said(result.stderr)
            if not result.timed_out and re.search(_NOT_FOUND, said) and not re.search(UNREACHABLE, said):
                return None
            raise self._failure("get", result)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def namespaces_exist(self, names: Sequence[str]) -> NamespaceLookup:
        """Which of ``names`` exist, with as few calls as the user's rights allow; never raises
        for a refusal or a failure (what cannot be learned is None, and ``problem`` says why).

        First ONE ``kubectl get namespaces --output json`` (every namespace; ``list`` on
        namespaces). A user refused that (RBAC: only some namespaces) gets ONE ``kubectl get
        namespace A B ... --ignore-not-found --output json`` (``get`` per name, which a
        ClusterRole may grant by ``resourceNames``): what it prints exists, a name it says
        nothing of does not (``--ignore-not-found``), a name it is refused stays unknown.
        Any other failure (a timeout, an unreachable cluster, no kubectl installed: a plan
        needs only helm) leaves every name unknown: the plan says so rather than fail or guess.
        """
        wanted = list(dict.fromkeys(n for n in names if n))
        if not wanted:
            return NamespaceLookup({}, None, 0)
        try:
            return self._namespaces_exist(wanted)
        except ProgramNotFoundError as exc:
            return NamespaceLookup(dict.fromkeys(wanted), f"kubectl cannot be run: {exc}", 1)

    def _namespaces_exist(self, wanted: list[str]) -> NamespaceLookup:
        result = self._run("get", ["get", "namespaces", "--output", "json"])
        if result.ok:
            found = _item_names(result.stdout)
            if found is not None:
                return NamespaceLookup({n: n in found for n in wanted}, None, 1)
            return NamespaceLookup(dict.fromkeys(wanted), "kubectl get namespaces: unreadable answer", 1)
        said = kubectl_said(self._redacted_stderr(result))
        if result.timed_out or re.search(UNREACHABLE, said) or not re.search(_FORBIDDEN, said):
            return NamespaceLookup(dict.fromkeys(wanted), f"kubectl get namespaces: {_first_line(said)}", 1)
        # refused the list: ask for the names themselves, in one call
        result = self._run("get", ["get", "namespace", *wanted, "--ignore-not-found", "--output", "json"])
        found = _item_names(result.stdout) or set()
        if result.ok:
            return NamespaceLookup({n: n in found for n in wanted}, None, 2)
        said2 = kubectl_said(self._redacted_stderr(result))
        refused: set[str] = set()
        other = False
        for line in said2.splitlines():
            m = re.match(_NAMESPACE_LINE, line.strip())
            if m and m.group(1).lower() == "forbidden":
                refused.add(m.group(2))
            elif m is None and line.strip():
                other = True  # something else went wrong: only what was printed is known
        exists: dict[str, bool | None] = {}
        for n in wanted:
            exists[n] = True if n in found else (None if other or n in refused else False)
        problem = None if all(v is not None for v in exists.values()) else \
            f"kubectl get namespace: {_first_line(said2)}"
        return NamespaceLookup(exists, problem, 2)

    def get_labelled(self, kind: str, label: str, value: str, *, namespace: str) -> dict[str, Any] | None:
        """``get(kind, namespace=namespace, selector=f"{label}={value}")``, shared with the same
        reads of other values made at the same time (releases validating in parallel).

        A call that finds no other running for the same ``kind``, ``label`` and
        ``namespace`` is made at once, alone, exactly as ``get`` makes it. Calls
        made while one runs wait for it to end, then ONE ``kubectl get KIND
        --selector 'LABEL in (v1,v2,...)'`` (at most :data:`LABELLED_BATCH`
        values; the command line names every value it serves) answers them
        all: each gets the List of the objects carrying its own value, None
        when kubectl answered None (a kind the server does not know), or the
        error the call raised. A value that cannot stand in a selector's set
        is asked alone. Calls of another ``Kubectl`` (another cluster,
        context, binary or environment) never share one.
        """
        if not _LABEL_VALUE.fullmatch(value):
            return self.get(kind, namespace=namespace, selector=f"{label}={value}")
        data, selector = self._labelled.get((kind, namespace, label), value)
        if selector is not None:  # each release served says which call answered it
            log.debug("%s=%s read by one shared call: kubectl get %s --namespace %s --selector %s",
                      label, value, kind, namespace, selector)
        return data

    def _labelled_batch(
        self, key: tuple[str, str, str], values: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any] | None, str | None]]:
        """``get_labelled``'s one call for ``values``: ``label=value`` for one (``get``'s own
        call), ``label in (...)`` for several, its List split by the label's value."""
        kind, namespace, label = key
        if len(values) == 1:
            return {values[0]: (self.get(kind, namespace=namespace, selector=f"{label}={values[0]}"), None)}
        selector = f"{label} in ({','.join(values)})"
        data = self.get(kind, namespace=namespace, selector=selector)
        items = data.get("items") if isinstance(data, Mapping) else None
        if data is None or not isinstance(items, list):  # nothing to split: each gets the answer as it is
            return {v: (copy.deepcopy(data), selector) for v in values}
        mine: dict[str, list[dict[str, Any]]] = {v: [] for v in values}
        for item in items:
            meta = item.get("metadata") if isinstance(item, Mapping) else None
            labels = meta.get("labels") if isinstance(meta, Mapping) else None
            own = labels.get(label) if isinstance(labels, Mapping) else None
            if isinstance(own, str) and own in mine:
                mine[own].append(item)
        head = {k: v for k, v in data.items() if k != "items"}
        return {v: ({**copy.deepcopy(head), "items": mine[v]}, selector) for v in values}

    def get_manifest_objects(
        self, manifest: str | Sequence[Mapping[str, Any]], *, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """The live objects a rendered manifest names: ``kubectl get -f - -o json``, the objects on stdin.

        :param manifest: YAML text (read by :mod:`~firestream_core.tools.kube_yaml`) or objects.
        :param namespace: where objects without a ``metadata.namespace`` live. An object
            that names another namespace (kube-prometheus-stack's Services in
            ``kube-system``) is fetched in its own: one call per namespace.

        Objects that do not exist, and objects of kinds the server does not
        serve (a CRD removed), are left out of the list, not errors; any other
        failure to read raises.
        """
        if isinstance(manifest, str):
            objects: list[Mapping[str, Any]] = [
                o for o in kube_yaml.load_all(manifest or "") if isinstance(o, Mapping)
            ]
        else:
            objects = list(manifest)
        red = self.redactor.copy()
        groups: dict[str | None, list[Mapping[str, Any]]] = {}
        for obj in objects:
            if obj.get("kind") == "Secret":
                for key in ("data", "stringData"):
                    if isinstance(obj.get(key), Mapping):
                        red.add_values({"secret": list(obj[key].values())})
            own = str((obj.get("metadata") or {}).get("namespace") or "")
            groups.setdefault(own or namespace, []).append(obj)
        out: list[dict[str, Any]] = []
        for where, group in groups.items():
            out += self._get_objects(group, where, red)
        return out

    def _get_objects(
        self, objects: Sequence[Mapping[str, Any]], namespace: str | None, red: Redactor
    ) -> list[dict[str, Any]]:
        text = "\n---\n".join(json.dumps(dict(o)) for o in objects) + "\n"
        args = ["get", "--filename", "-", "--output", "json", "--ignore-not-found", *self._scope(namespace)]
        result = self._run("get", args, stdin=text.encode("utf-8"))
        said = kubectl_said(result.stderr) if not result.ok else ""
        if not result.ok and (
            result.timed_out or re.search(UNREACHABLE, said)
            or not re.search(r"resource mapping not found|no matches for kind|NotFound", said)
        ):
            raise self._failure("get", result, redactor=red)
        data = json.loads(result.stdout) if result.stdout.strip() else {}
        if data.get("kind", "").endswith("List"):
            return [i for i in data.get("items") or [] if isinstance(i, dict)]
        return [data] if data.get("kind") else []

    def wait(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str,
        condition: str = "condition=Ready",
        selector: str | None = None,
        timeout: str | int = "60s",
    ) -> bool:
        """``kubectl wait --for=<condition>``; False when it timed out or nothing matched."""
        target = f"{kind}/{name}" if name else kind
        args = ["wait", target, f"--for={condition}", "--namespace", namespace]
        args.append(f"--timeout={seconds(timeout)}s")
        if selector:
            args += ["--selector", selector]
        elif not name:
            args.append("--all")
        result = self._run("wait", args, timeout=seconds(timeout) + 60)
        if result.ok:
            return True
        said = kubectl_said(result.stderr)
        if re.search(KUBECTL_TIMED_OUT, said) or re.search(_NO_MATCH, said) or (
            re.search(_NOT_FOUND, said) and not re.search(UNREACHABLE, said)
        ):
            return False
        raise self._failure("wait", result)

    def logs(self, pod: str, namespace: str, *, tail: int = 50, container: str | None = None) -> str:
        """The last ``tail`` log lines of a pod, redacted ("" when the pod has none or is gone)."""
        args = ["logs", pod, "--namespace", namespace, f"--tail={int(tail)}"]
        if container:
            args += ["--container", container]
        result = self._run("logs", args)
        if not result.ok:
            said = kubectl_said(result.stderr)
            if re.search(_NOT_FOUND, said) and not re.search(UNREACHABLE, said):
                return ""
            raise self._failure("logs", result)
        return self.redactor.redact(result.stdout)

    def events(self, namespace: str, *, involved_object: str | None = None) -> list[dict[str, Any]]:
        """The namespace's events (only those about ``involved_object`` when given), oldest first.

        Each event's ``message`` is redacted.
        """
        args = ["get", "events", "--namespace", namespace, "--output", "json"]
        if involved_object:
            args += ["--field-selector", f"involvedObject.name={involved_object}"]
        result = self._run("events", args)
        if not result.ok:
            raise self._failure("get events", result)
        items = (json.loads(result.stdout) if result.stdout.strip() else {}).get("items") or []
        for item in items:
            if isinstance(item.get("message"), str):
                item["message"] = self.redactor.redact(item["message"])

        def when(e: Mapping[str, Any]) -> str:
            return str(e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or "")

        return sorted(items, key=when)

    # -- changing ----------------------------------------------------------------------
    def apply_server_side(
        self,
        manifests: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        namespace: str | None = None,
        field_manager: str = "firestream",
        force_conflicts: bool = True,
    ) -> list[str]:
        """``kubectl apply --server-side -f -``: the manifests go on stdin.

        :param manifests: YAML text (read by :mod:`~firestream_core.tools.kube_yaml`), one
            object, or a list of objects; kubectl receives them as JSON documents.
        :return: the applied objects as ``kind/name``.
        """
        if isinstance(manifests, str):
            objects = [d for d in kube_yaml.load_all(manifests) if isinstance(d, Mapping)]
        else:
            objects = [manifests] if isinstance(manifests, Mapping) else list(manifests)
        # JSON documents, read by kube_yaml's YAML 1.2 rules: every string stays quoted, so
        # kubectl's YAML 1.1 reader cannot turn an enum item "y" or "on" into a boolean
        text = "\n---\n".join(json.dumps(dict(o)) for o in objects) + "\n"
        red = self.redactor.copy()
        for obj in objects:
            for key in ("data", "stringData"):
                if obj.get("kind") == "Secret" and isinstance(obj.get(key), Mapping):
                    red.add_values({"secret": list(obj[key].values())})
        args = ["apply", "--server-side", "--filename", "-", f"--field-manager={field_manager}"]
        if force_conflicts:
            args.append("--force-conflicts")
        args += self._scope(namespace)
        args += ["--output", "name"]
        result = self._run("apply", args, stdin=text.encode("utf-8"))
        if not result.ok:
            raise self._failure("apply", result, redactor=red)
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def delete(
        self,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        ignore_not_found: bool = True,
        wait: bool = True,
        timeout: str | int = "120s",
    ) -> bool:
        """``kubectl delete``; True when something was deleted."""
        args = ["delete", kind, name, *self._scope(namespace), f"--wait={'true' if wait else 'false'}"]
        if ignore_not_found:
            args.append("--ignore-not-found")
        args.append(f"--timeout={seconds(timeout)}s")
        result = self._run("delete", args, timeout=seconds(timeout) + 60)
        if not result.ok:
            raise self._failure("delete", result)
        return bool(result.stdout.strip())

    # -- optimistic concurrency (the state backend's Secret and Lease) -------------------
    def create(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None:
        """``kubectl create -f -`` (an HTTP POST), the object on stdin.

        :return: the created object, or None when an object of that name
            already exists (409 AlreadyExists): of two creators, exactly one wins.
        """
        result, red = self._send("create", manifest, timeout)
        if result.ok:
            return json.loads(result.stdout)
        said = kubectl_said(result.stderr)
        if re.search(_ALREADY_EXISTS, said) and not re.search(UNREACHABLE, said):
            return None
        raise self._failure("create", result, redactor=red)

    def replace(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None:
        """``kubectl replace -f -`` (an HTTP PUT), the object on stdin.

        With ``metadata.resourceVersion`` set, the API server replaces the
        object only while it is still at that version.

        :return: the new object, or None when it changed since that version
            was read (409 Conflict) or no longer exists.
        """
        result, red = self._send("replace", manifest, timeout)
        if result.ok:
            return json.loads(result.stdout)
        stderr = kubectl_said(result.stderr)
        if not result.timed_out and not re.search(UNREACHABLE, stderr) and (
            re.search(_CONFLICT, stderr) or re.search(_NOT_FOUND, stderr)
        ):
            return None
        raise self._failure("replace", result, redactor=red)

    def _send(self, op: str, manifest: Mapping[str, Any], timeout: float | None) -> tuple[Completed, Redactor]:
        red = self.redactor.copy()
        for key in ("data", "stringData"):
            if manifest.get("kind") == "Secret" and isinstance(manifest.get(key), Mapping):
                red.add_values({"secret": list(manifest[key].values())})
        args = [op, "--filename", "-", "--output", "json"]
        result = self._run(op, args, stdin=json.dumps(dict(manifest)).encode("utf-8"), timeout=timeout)
        return result, red

    def run(self, argv: Sequence[str], *, label: str | None = None, timeout: float | None = None) -> Completed:
        """Run a chart's command whose program is ``kubectl`` (e.g. a ``pre_upgrade_commands`` entry).

        ``argv[0]`` (``kubectl``) is replaced by this instance's binary and
        its kubeconfig / context flags are added. Raises on failure.
        """
        args = list(argv)
        if not args or os.path.basename(args[0]) != "kubectl":
            raise ValueError("Kubectl.run runs kubectl commands only; use Runner.run_program for others")
        result = self._run(" ".join(args[1:2]) or "command", args[1:], label=label, timeout=timeout)
        if not result.ok:
            raise self._failure(" ".join(args[1:3]), result)
        return result


def _item_names(text: str) -> set[str] | None:
    """The names of the objects kubectl printed (a List, or one object); None when unreadable."""
    if not text.strip():
        return set()
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, Mapping):
        return None
    items = data.get("items") if str(data.get("kind", "")).endswith("List") else [data]
    if not isinstance(items, list):
        return None
    out = set()
    for item in items:
        meta = item.get("metadata") if isinstance(item, Mapping) else None
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if isinstance(name, str):
            out.add(name)
    return out


def _first_line(text: str) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "failed")
    return line if len(line) <= 200 else line[:197] + "..."
