"""Kubernetes Secrets a chart plugin creates for its release's credentials.

Charts such as bitnami/postgresql or grafana take their passwords from an
existing Secret (``auth.existingSecret``, ``admin.existingSecret``). A chart
plugin that must not hard-code a password calls :func:`ensure_secret` in
``pre_exec``: each key gets the value configured for it, else the value the
Secret already holds (a password is never regenerated behind a running
database's back), else a newly generated random one. The Secret is written
with ``kubectl apply --server-side`` through **stdin**, only when something
changed; every value is first registered with the run's redactor, so no
error text or log line can show it, and nothing here logs a value or puts
one on a command line.

The result (:class:`SecretOutcome`) tells which keys were generated, reused
or configured - never their values - so a plugin can record it in the
payload.

What ``ensure_secret`` will change in the Secret of an installed release is said
for the plan by :func:`plan_secret`, in ``contribute_values``: a password
configured through an environment variable is in no value helm holds, so only
reading the Secret shows that a new one will be written.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "MANAGED_BY_LABEL",
    "SecretOutcome",
    "ensure_namespace",
    "ensure_secret",
    "generate_password",
    "plan_secret",
    "read_secret",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
_ALPHABET = string.ascii_letters + string.digits


def generate_password(length: int = 32) -> str:
    """A random password of letters and digits (``secrets``; ~5.95 bits per character).

    Letters and digits only, so it survives URLs, shells and config files unquoted.

    >>> len(generate_password()), generate_password(20).isalnum()
    (32, True)
    """
    if length < 16:
        raise ValueError("a generated password must be at least 16 characters long")
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@attrs.frozen
class SecretOutcome:
    """What :func:`ensure_secret` did. Holds key names only, never values.

    :ivar name: the Secret's name.
    :ivar namespace: its namespace.
    :ivar existed: the Secret was already there.
    :ivar written: it was created or updated (False: left as it was, or dry run).
    :ivar generated: keys given a newly generated value.
    :ivar reused: keys whose value was kept from the existing Secret.
    :ivar configured: keys set from a configured value.

    >>> outcome = SecretOutcome("db-auth", "data", existed=True, written=False,
    ...                         reused=("postgres-password",), configured=())
    >>> outcome.to_payload()["reused"], outcome.written
    (['postgres-password'], False)

    What a plugin keeps of it, in ``pre_exec``::

        outcome = ensure_secret(context, name="db-auth", namespace=ns, keys={"postgres-password": None})
        payload.section("postgresql")["secret"] = outcome.to_payload()
    """

    name: str
    namespace: str
    existed: bool
    written: bool
    generated: tuple[str, ...] = ()
    reused: tuple[str, ...] = ()
    configured: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        """A JSON-friendly summary for the chart payload (no values).

        >>> SecretOutcome("db-auth", "data", existed=False, written=True, generated=("password",)).to_payload()
        {'name': 'db-auth', 'namespace': 'data', 'existed': False, 'written': True, 'generated': ['password'], 'reused': [], 'configured': []}
        """
        return {
            "name": self.name,
            "namespace": self.namespace,
            "existed": self.existed,
            "written": self.written,
            "generated": list(self.generated),
            "reused": list(self.reused),
            "configured": list(self.configured),
        }


def _redact(context: Any, value: str) -> None:
    redactor = getattr(context, "redactor", None)
    if redactor is not None and value:
        redactor.add(value)


def read_secret(
    context: Any, name: str, namespace: str, *, plain: Iterable[str] = ()
) -> dict[str, str] | None:
    """The decoded data of Secret ``name``, or None when it does not exist.

    Every value read is registered with the context's redactor, except those
    of the ``plain`` keys (not secret, such as a user name).

    Example, in ``validate``::

        data = read_secret(context, f"{chart.name}-auth", ns, plain=["username"])
        if data is None:
            return [ValidationResult.fail("auth_secret", "the auth Secret is missing")]
    """
    plain = frozenset(plain)
    obj = context.kubectl.get("secret", name, namespace=namespace)
    if obj is None:
        return None
    out: dict[str, str] = {}
    for key, encoded in (obj.get("data") or {}).items():
        try:
            value = base64.b64decode(str(encoded), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue  # not text: not a password this module manages
        if key not in plain:
            _redact(context, value)
        out[str(key)] = value
    return out


def plan_secret(
    context: Any,
    *,
    name: str,
    namespace: str,
    keys: Mapping[str, str | None],
    plain: Mapping[str, str] | None = None,
    holding: str = "",
    keeps: str = "",
) -> None:
    """Say for the plan what :func:`ensure_secret` will change in an installed release's Secret.

    Call it in ``contribute_values`` with the keys ``pre_exec`` will hand to
    :func:`ensure_secret` (None: keep the Secret's value). For a release that is
    installed, the Secret is read (its values registered with the redactor) and
    compared: a configured value it does not hold, or a Secret that is gone, makes the
    release out of date (``context.out_of_date``: the plan upgrades it, naming the keys,
    never a value) with the step ``pre_exec`` takes (``context.exec_step``). A Secret
    the plan may not read is a note (``context.note``), not a failed plan. For a create
    the Secret is read too: one an earlier install left (a destroy keeps it, for the
    volumes it also keeps) whose values differ from the configured ones is changed by
    ``pre_exec`` before helm, and the plan lists that step; a missing one is simply
    created. Nothing is read offline (``firestream validate``).

    :param holding: what the Secret holds, for the plan's words (``the database passwords``).
    :param keeps: what the step does not change, said after it (``PostgreSQL keeps the
        passwords it was initialised with until they are changed in the database too``).

    Example, in ``contribute_values``::

        plan_secret(context, name=f"{chart.name}-auth", namespace=ns,
                    keys={"password": os.environ.get(var)}, holding="the passwords",
                    keeps="the database keeps its password until it is changed there too")
    """
    from firestream_core.errors import FirestreamError, first_line

    installed = context.installed
    if context.offline:
        return
    creating = installed is None or installed.status == "uninstalled"
    wanted = {k: v for k, v in {**keys, **(plain or {})}.items() if v is not None}
    if creating and not wanted:
        return  # pre_exec keeps what a left Secret holds, or generates a new one: nothing changes
    try:
        current = read_secret(context, name, namespace, plain=list(plain or ()))
    except FirestreamError as exc:
        context.note(f"Secret '{name}' could not be read to compare it with the configured values "
                     f"({first_line(exc)})")
        return
    tail = f"; {keeps}" if keeps else ""
    if creating:
        changed = [k for k, v in wanted.items() if current is not None and current.get(k) != v]
        if changed:  # the Secret an earlier install left, changed before helm installs anew
            context.exec_step(f"set {', '.join(changed)} in Secret '{name}' (namespace '{namespace}'), left by an "
                              f"earlier install, to the configured value{tail}")
        return
    if current is None:
        context.out_of_date(f"Secret '{name}'{f' holding {holding}' if holding else ''} is missing")
        context.exec_step(f"create Secret '{name}' (namespace '{namespace}') anew"
                          f"{' with the configured values' if wanted else ''}{tail}")
        return
    changed = [k for k, v in wanted.items() if current.get(k) != v]
    if changed:
        ks = ", ".join(changed)
        context.out_of_date(f"Secret '{name}': {ks} not as configured")
        context.exec_step(f"set {ks} in Secret '{name}' (namespace '{namespace}') to the configured value{tail}")


def ensure_namespace(context: Any, namespace: str) -> None:
    """Create ``namespace`` when missing (server-side apply; no-op in dry runs).

    **Namespace first**: call it before :func:`ensure_secret` in ``pre_exec``,
    since helm's ``--create-namespace`` only runs later, in ``exec``, and a
    Secret cannot be created in a namespace that does not exist yet.

    :param context: the stage's :class:`~firestream_core.plugin.context.DeployContext`
        (its ``kubectl`` and ``dry_run``).
    :param namespace: the namespace name.
    :raises ClusterUnreachableError: the cluster could not be asked.

    The plan never runs ``pre_exec``: say in ``contribute_values``, under the same
    conditions, that it creates the namespace (``context.creates_namespace()``), so the
    plan lists it as the plugin's to create (and does not refuse a release with
    ``create_namespace = false`` whose namespace this creates).

    Example, in a plugin's ``pre_exec``::

        ns = chart.chart_info.namespace_name
        ensure_namespace(context, ns)
        ensure_secret(context, name=f"{chart.name}-auth", namespace=ns, keys={"password": None})
    """
    if context.dry_run or context.kubectl.get("namespace", namespace) is not None:
        return
    context.kubectl.apply_server_side(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    )


def ensure_secret(
    context: Any,
    *,
    name: str,
    namespace: str,
    keys: Mapping[str, str | None],
    plain: Mapping[str, str] | None = None,
    release: str | None = None,
    length: int = 32,
    labels: Mapping[str, str] | None = None,
) -> SecretOutcome:
    """Make Secret ``name`` hold a value for every key in ``keys``.

    The Secret is applied server-side on stdin (never on argv); a key keeps
    its existing value unless a configured one is given, and gets a generated
    password when it has none. Every secret value is registered with the
    run's redactor. Create the namespace first (:func:`ensure_namespace`).

    Example, in ``pre_exec``; what was done goes into the plugin's payload
    section, key names only::

        ensure_namespace(context, ns)
        outcome = ensure_secret(
            context,
            name=f"{chart.name}-auth",
            namespace=ns,
            keys={"postgres-password": None},     # keep or generate
            plain={"username": "app"},            # stored as given, not redacted
            release=chart.name,
        )
        payload.section("postgresql")["secret"] = outcome.to_payload()

    :param context: the stage's ``DeployContext`` (its ``kubectl``,
        ``redactor``, ``dry_run``).
    :param name: the Secret's name.
    :param namespace: its namespace (which must exist).
    :param keys: key -> configured value, or None to keep the existing value
        or generate one. These are secrets: registered with the redactor.
    :param plain: key -> value stored as given and *not* redacted (a user
        name: hiding "admin" would mask every "admin" in every message).
    :param release: the release the Secret belongs to (label
        ``app.kubernetes.io/instance``).
    :param length: length of generated passwords.
    :param labels: extra labels.
    :return: a :class:`SecretOutcome`: what was done (key names only).
    """
    for value in keys.values():
        if value:
            _redact(context, value)
    current = read_secret(context, name, namespace, plain=(plain or {}).keys())
    existed = current is not None
    current = current or {}
    data: dict[str, str] = dict(current)
    generated, reused, configured = [], [], []
    for key, wanted in keys.items():
        if wanted:
            data[key] = wanted
            configured.append(key)
        elif current.get(key):
            reused.append(key)
        else:
            data[key] = generate_password(length)
            _redact(context, data[key])
            generated.append(key)
    for key, value in (plain or {}).items():
        data[key] = value
    stored = [*keys, *(plain or {})]
    changed = not existed or any(current.get(k) != data[k] for k in stored)
    written = False
    if changed and not context.dry_run:
        meta_labels = {MANAGED_BY_LABEL: "firestream", **(labels or {})}
        if release:
            meta_labels.setdefault("app.kubernetes.io/instance", release)
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "labels": meta_labels},
            "data": {
                k: base64.b64encode(data[k].encode("utf-8")).decode("ascii") for k in stored
            },
        }
        context.kubectl.apply_server_side(manifest, namespace=namespace)
        written = True
    return SecretOutcome(
        name=name,
        namespace=namespace,
        existed=existed,
        written=written,
        generated=tuple(generated),
        reused=tuple(reused),
        configured=tuple(configured),
    )
