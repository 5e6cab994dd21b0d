"""The sensitivity model: which values are secret, decided per value, not per string.

Everything that hides something (the :class:`~firestream_core.tools.redact.Redactor`,
``plan``'s value changes, ``diff``, ``drift``) asks this module. A value is
*sensitive* when it is one of:

* a resolved ``secret_values`` value (``{env}`` / ``{file}``), a ``*_env``
  password option's value, a password a chart plugin generated, a registry or
  repository password: these are registered with the run's redactor where
  they are read;
* a value in a values file marked secret (``ChartValuesGenerated(secret=True)``,
  as ``secret_values`` become);
* a Kubernetes ``Secret``'s ``data`` / ``stringData`` in any manifest
  (:func:`~firestream_core.tools.manifests.mask_object`);
* a values leaf whose **own** key says secret (:func:`is_sensitive_key`:
  ``password``, ``postgresPassword``, ``apiKey``, ``token``, ``secretKey``,
  ``privateKey``, ``credentials``, ``clientSecret``, ...), or a leaf below such
  a key (``credentials.accessKeyId``), or the ``value`` of a ``{name, value}``
  pair whose ``name`` says secret (``extraEnvVars: [{name: DB_PASSWORD,
  value: ...}]``, :func:`named_secret_paths`). A parent key such as ``auth`` makes
  nothing secret: ``auth.database`` and ``auth.existingSecret`` stay visible;
  keys that *name* an object or a file (``existingSecret``, ``secretName``,
  ``passwordFile``, ``adminPasswordKey``, ``imagePullSecrets``) are never
  secret;
* a values path matching one of the project's ``sensitive_keys`` patterns
  (dotted, ``fnmatch`` style: ``config.dsn``, ``*.connectionString``; a
  pattern without a dot matches the leaf key at any depth).

Only sensitive values are hidden, and only as text that can be recognised:
booleans, numbers and strings shorter than :data:`MIN_TEXT_LENGTH`
characters are never matched in text (:func:`text_to_hide`), and the
redactor replaces whole tokens only (never inside a longer word or a flag
name). Object names, namespaces, release names, file names and flags are
never hidden.

A secret equal to one of the project's identifiers (:func:`identifiers`: a
release name, a namespace, a chart type or reference, a repository name,
firestream's own words) is not matched as text: the name is printed
everywhere, so the secret is public in practice, and masking it would mask
the name. It stays sensitive where firestream knows it is the value
(``plan``'s ``(sensitive)``, a Secret's data, command lines, the state, the
children's environment), and :func:`name_clashes` words the warning
``validate`` and the other commands print.

Credentials written into a URL (``oci://user:pw@host/x``) are refused by the
config check (:func:`url_has_credentials`), since a URL travels on helm's
command line and in logs: they belong in ``[registries]`` / the
repository's credentials from the environment, which reach helm on stdin.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from firestream_core.secret_keys import _norm, is_name_key, is_sensitive_key, url_has_credentials

__all__ = [
    "MIN_TEXT_LENGTH",
    "OWN_NAMES",
    "SENSITIVE",
    "identifiers",
    "is_name_key",
    "is_sensitive_key",
    "is_sensitive_path",
    "leaves",
    "name_clashes",
    "named_secret_paths",
    "secret_url",
    "sensitive_leaves",
    "show_value",
    "strip_url_credentials",
    "text_to_hide",
    "url_has_credentials",
]

MIN_TEXT_LENGTH = 4
"""Shortest string matched as text: ``"on"``, ``"1"`` or ``"x"`` would mask every text."""

SENSITIVE = "(sensitive)"
"""Shown instead of a sensitive value in ``plan`` and ``diff`` (terraform's convention)."""



def _escape(key: str) -> str:
    return key.replace(".", "\\.")


def _split_path(path: str) -> list[str]:
    """``a.b\\.c[2].d`` -> ``["a", "b.c", "d"]`` (list indexes dropped: they are no key)."""
    parts = re.split(r"(?<!\\)\.", re.sub(r"\[\d+\]", "", path))
    return [p.replace("\\.", ".") for p in parts if p]


def _matches(path: str, patterns: Iterable[str]) -> bool:
    leaf = _split_path(path)[-1:] or [""]
    plain = re.sub(r"\[\d+\]", "", path)
    for pattern in patterns:
        if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(plain, pattern):
            return True
        if "." not in pattern and fnmatch.fnmatchcase(leaf[0], pattern):
            return True
    return False


def is_sensitive_path(path: str, patterns: Iterable[str] = ()) -> bool:
    """True when the value at dotted ``path`` (``auth.password``, ``a.list[0].token``) is sensitive.

    Its leaf key says secret, or a leaf ``key`` with its parent does (``tls.key``,
    ``ca.key``, ``api.key``; not ``tolerations[0].key``), or a key above it does
    and the leaf does not name or measure something (``credentials.accessKeyId`` yes,
    ``credentials.secretName``, ``credentials.user``, ``token.expirySeconds`` no),
    or the path matches one of ``patterns`` (the project's ``sensitive_keys``).
    """
    keys = _split_path(path)
    if _matches(path, patterns):
        return True
    if not keys:
        return False
    if is_sensitive_key(keys[-1]):
        return True
    if len(keys) > 1 and _norm(keys[-1]) == "key" and not is_name_key(keys[-2]) \
            and is_sensitive_key(keys[-2] + keys[-1]):
        return True  # tls.key, ca.key, api.key: the key and its parent say it together
    return not is_name_key(keys[-1]) and any(is_sensitive_key(k) for k in keys[:-1])


def leaves(values: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar of a nested values mapping as ``(dotted path, value)``.

    Paths are written as ``changed_keys`` writes them: ``a.b``, ``a.list[2]``,
    a key holding a dot as ``a\\.b``. Empty mappings and lists yield nothing.
    """
    if isinstance(values, Mapping):
        for k, v in values.items():
            name = _escape(str(k))
            yield from leaves(v, f"{prefix}.{name}" if prefix else name)
    elif isinstance(values, (list, tuple)):
        for i, v in enumerate(values):
            yield from leaves(v, f"{prefix}[{i}]")
    elif prefix:
        yield prefix, values


def named_secret_paths(values: Any, prefix: str = "") -> Iterator[str]:
    """The paths of the ``value`` of every ``{name: ..., value: ...}`` whose ``name`` says secret.

    An environment variable list (``extraEnvVars``, ``env``) names its secret in
    its ``name``, not in a key: ``[{name: DB_PASSWORD, value: ...}]`` holds a
    password at ``extraEnvVars[0].value``. Paths are written as :func:`leaves`
    writes them.
    """
    if isinstance(values, Mapping):
        name = values.get("name")
        if isinstance(name, str) and "value" in values and is_sensitive_key(name):
            at = f"{prefix}.value" if prefix else "value"
            yield from (path for path, _ in leaves(values["value"], at))
        for k, v in values.items():
            key = _escape(str(k))
            yield from named_secret_paths(v, f"{prefix}.{key}" if prefix else key)
    elif isinstance(values, (list, tuple)):
        for i, v in enumerate(values):
            yield from named_secret_paths(v, f"{prefix}[{i}]")


def secret_url(value: object) -> bool:
    """True when a values leaf is a URL carrying a password or a query credential, whatever its
    key (``databaseUrl: postgres://app:pw@db/app``, ``?access_token=...``); a user alone is no
    secret (``ssh://git@github.com/org/repo``)."""
    return url_has_credentials(value, user=False)


def sensitive_leaves(values: Any, patterns: Iterable[str] = ()) -> Iterator[tuple[str, Any]]:
    """The ``(path, value)`` leaves of ``values`` that :func:`is_sensitive_path` calls sensitive,
    the values of the ``{name, value}`` pairs whose name says secret (:func:`named_secret_paths`)
    and the URLs carrying a password (:func:`secret_url`)."""
    patterns = tuple(patterns)
    named = set(named_secret_paths(values))
    for path, value in leaves(values):
        if path in named or is_sensitive_path(path, patterns) or secret_url(value):
            yield path, value


def text_to_hide(value: object) -> str | None:
    """The text a sensitive value is recognised by, or None when it must never be matched as text.

    Booleans, numbers, None, containers and strings shorter than
    :data:`MIN_TEXT_LENGTH` give None: hiding ``true``, ``42`` or ``x``
    would cut every text that happens to hold them.
    """
    if not isinstance(value, str) or len(value) < MIN_TEXT_LENGTH:
        return None
    return value


_SHOW_LIMIT = 60


def show_value(value: Any, *, sensitive: bool) -> str:
    """How ``plan`` / ``diff`` show one value: ``(sensitive)``, ``(none)`` or the value, short."""
    if sensitive:
        return SENSITIVE
    if value is _ABSENT:
        return "(none)"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, (Mapping, list, tuple)):
        import json

        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 3] + "..."


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Any = _Absent()
"""A value missing on one side of a change."""


# -- credentials in URLs ---------------------------------------------------------------------


def strip_url_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed (for messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not (parts.username or parts.password):
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=host).geturl()


# -- value changes, as plan shows them -------------------------------------------------------


def value_changes(
    old: Any, new: Any, *, patterns: Iterable[str] = (), secret_paths: Iterable[str] = (),
    old_secret_paths: Iterable[str] = (),
) -> list[tuple[str, str, str]]:
    """``(path, old, new)`` for every leaf that differs, sorted; sensitive values as ``(sensitive)``.

    ``secret_paths`` are paths known secret whatever their key (those of a
    values file marked secret, such as ``secret_values``); ``old_secret_paths``
    are paths that were secret when ``old`` was applied (the state's record),
    hiding the old side only. A boolean is shown when only its key's words make its path
    sensitive (``sshd.passwordAuthentication: true -> false``): a switch holds no secret. A leaf missing on one side shows ``(none)``; a
    container replacing a scalar shows as JSON.
    """
    patterns = tuple(patterns)
    secret = set(secret_paths) | set(named_secret_paths(new or {}))
    was_secret = secret | set(old_secret_paths) | set(named_secret_paths(old or {}))
    a = dict(leaves(old or {}))
    b = dict(leaves(new or {}))
    out: list[tuple[str, str, str]] = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, _ABSENT), b.get(path, _ABSENT)
        if va is not _ABSENT and vb is not _ABSENT and type(va) is type(vb) and va == vb:
            continue
        declared = path in secret or _matches(path, patterns)
        by_key = is_sensitive_path(path)

        def hide(value: Any, declared: bool = declared, by_key: bool = by_key) -> bool:
            # a switch holds no secret: sshd.passwordAuthentication true -> false stays readable
            # when only its key's words make the path sensitive
            return value is not _ABSENT and (declared or (by_key and not isinstance(value, bool))
                                             or secret_url(value))

        out.append((path, show_value(va, sensitive=hide(va, declared or path in was_secret)),
                    show_value(vb, sensitive=hide(vb))))
    return out


def secret_file_paths(info: Any) -> list[str]:
    """The values paths of a ``ChartInfo``'s values files marked secret (``secret_values``)."""
    return [path for path, _ in secret_file_leaves(info)]


def secret_file_leaves(info: Any) -> list[tuple[str, Any]]:
    """``(path, value)`` of a ``ChartInfo``'s values files marked secret (``secret_values``)."""
    from firestream_core.tools.values import load_document

    out: list[tuple[str, Any]] = []
    for g in getattr(info, "yaml_files_content", ()) or ():
        if getattr(g, "secret", False):
            try:
                out += list(leaves(load_document(g.filename, g.yaml_content)))
            except ValueError:
                continue
    return out


# -- names: never masked, even when a secret equals one -----------------------------------------

OWN_NAMES = frozenset({
    "firestream", "firestream.toml", "helm", "kubectl",
    # plan actions, lifecycle stages, results and statuses the commands print
    "create", "upgrade", "recover", "reinstall", "destroy", "no-op",
    "check_prerequisites", "pre_exec", "exec", "post_exec", "validate", "on_deploy_failure",
    "failed", "skipped", "not_started", "cancelled", "deployed", "uninstalled", "pending",
    "changed", "unchanged", "in-sync", "drifted", "not-deployed", "error", "missing",
})
"""firestream's own words: command and program names, actions, stages, results and statuses."""


def identifiers(charts: Iterable[Any]) -> dict[str, str]:
    """The names text must show in clear, each with what it names (for :func:`name_clashes`).

    Each release's name and namespace, its chart type, its chart reference
    (``bitnami/postgresql``: ``bitnami``, ``postgresql``) and repository, and
    :data:`OWN_NAMES`. ``charts`` are ``HelmChart`` objects.
    """
    charts = list(charts)  # iterated twice
    out = {word: f"firestream's own word '{word}'" for word in OWN_NAMES}
    named: dict[str, str] = {}
    for chart in charts:
        info = chart.chart_info
        out[str(chart.chart_type)] = f"the chart type '{chart.chart_type}'"
        ref = str(getattr(info, "chart", "") or "")
        if ref and "://" not in ref and not ref.startswith((".", "/")):
            for part in ref.split("/"):
                out.setdefault(part, f"a chart name in '{ref}'")
        if getattr(info, "repository", None):
            out[str(info.repository)] = f"the repository name '{info.repository}'"
        named.setdefault(info.namespace_name, f"the namespace '{info.namespace_name}' (of release '{info.name}')")
    for chart in charts:  # a release name says most: it wins over the other meanings
        named[chart.chart_info.name] = f"the release name '{chart.chart_info.name}'"
    out.update(named)
    return {k: v for k, v in out.items() if k}


def name_clashes(charts: Iterable[Any], secrets: Iterable[str]) -> list[str]:
    """One warning per secret equal to one of the project's names (:func:`identifiers`).

    ``secrets`` are the registered secrets left readable
    (:meth:`~firestream_core.tools.redact.Redactor.readable_secrets`). A
    ``secret_values`` entry is named by its release and values path; any
    other (a ``*_env`` password option, a credential) is counted. The
    messages name the identifier, which is printed anyway, never another value.
    """
    readable = set(secrets)
    if not readable:  # the usual case, on every command's start: no secret equals a name
        return []
    charts = list(charts)  # iterated twice
    names = identifiers(charts)
    left = {s for s in readable if s in names}
    if not left:
        return []
    out: list[str] = []
    named: set[str] = set()
    for chart in charts:
        for path, value in secret_file_leaves(chart.chart_info):  # each secret document read once
            if not isinstance(value, str):
                continue
            named.add(value)
            if value in left:
                out.append(f"release '{chart.chart_info.name}': the secret value at '{path}' equals {names[value]} "
                           "and is not hidden: a name is printed wherever it appears; choose a value that "
                           "is not one of the project's names")
    for value in sorted(left - named):
        out.append(f"a secret (a password option or a credential) equals {names[value]} and is not hidden: "
                   "a name is printed wherever it appears")
    return out
