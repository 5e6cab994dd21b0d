"""Which values keys hold a secret, and which URLs carry a credential: the rules by name alone.

The base of the sensitivity model (:mod:`firestream_core.tools.sensitivity`, docs/secrets.md),
kept in the base layer so that the model (:mod:`firestream_core.model`: a chart's ``repr``,
``ChartInfo.check``) applies the same rule as the plan, the redactor and the config checks.
Nothing here reads a value.

>>> is_sensitive_key("postgresPassword"), is_sensitive_key("existingSecret"), is_name_key("secretName")
(True, False, True)
>>> url_has_credentials("https://charts.example.com/?private_token=x"), url_has_credentials("oci://host/x")
(True, False)
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

__all__ = ["is_name_key", "is_sensitive_key", "url_has_credentials"]

_SECRET_WORDS = (
    "password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey",
    "accesskey", "credential", "clientsecret", "secretkey", "pwd", "cakey", "tlskey", "sslkey",
    "clientkey", "serverkey", "signingkey", "encryptionkey", "masterkey",
    "bindpw",  # an LDAP bind password: bitnami's ldap.bindpw
    # common charts' secrets named by what they are for: bitnami/rabbitmq's auth.erlangCookie,
    # bitnami/mongodb's auth.replicaSetKey, airflow's fernetKey, harbor's core.xsrfKey,
    # a web app's sessionKey / hmacKey / jwtKey, vault's unsealKey
    "erlangcookie", "replicasetkey", "fernetkey", "xsrfkey", "csrfkey", "sessionkey", "hmackey",
    "jwtkey", "unsealkey",
    # the credentials of common charts' vendors: datadog.appKey, newrelic's licenseKey,
    # Azure's storageAccountKey / GCP's serviceAccountKey, a VPN's sharedKey / authKey;
    # bitnami/external-dns's DNS providers: ovh.consumerKey / ovh.applicationKey
    "appkey", "licensekey", "accountkey", "sharedkey", "authkey", "consumerkey", "applicationkey",
)
"""A key holding one of these (case, ``_`` and ``-`` ignored) holds a secret...

``accountkey``, ``consumerkey``, ``applicationkey``: the DNS providers' credentials
bitnami/external-dns writes into its Secret (``google.serviceAccountKey``, a service
account's JSON key with its private key; ``ovh.consumerKey`` / ``ovh.applicationKey``;
``azure.storageAccountKey`` alike), whose names hold none of the other words."""

_NAME_SUFFIXES = (
    "name", "names", "ref", "refs", "keyref", "selector", "file", "files", "path", "dir",
    "env", "envvar", "enabled", "length", "policy", "passwordkey", "tokenkey", "userkey",
    "usernamekey", "keys", "pullsecrets", "type", "mode", "create", "generate", "annotations",
    "labels", "ttl", "expiry", "expiration", "rotation", "provider", "mount", "mountpath",
    "volume", "template", "format", "url", "endpoint", "header", "username", "usernames",
    # a measure of a secret, not the secret: passwordRetries, passwordMaxAge, tokenExpirySeconds
    "retries", "attempts", "maxage", "minage", "seconds", "minutes", "hours", "days", "timeout",
    "interval", "lifetime", "duration", "rounds", "iterations", "history",
)
"""...unless it names something instead (``secretName``, ``passwordFile``, ``adminPasswordKey``),
or measures it (``passwordRetries``, ``tokenExpirySeconds``: a count or a time)."""

_NAME_KEYS = ("user",)
"""A user's name (``credentials.user``, as ``auth.username``): no secret."""

_NAME_PREFIXES = ("existing", "use", "create", "generate", "enable", "auto")
"""``existingSecret``, ``useSecret``, ``createSecret``: a name or a switch, not a secret; the
prefix is a word of its own (:func:`_has_name_prefix`): ``userPassword`` is a password."""

_NAMED_SECRETS = tuple(f"{w}secret" for w in (
    "tls", "ssl", "ca", "cert", "certs", "certificate", "certificates", "tlscert", "tlscerts",
    "serviceaccount", "scripts", "config", "configuration", "envfrom", "credentials"))
"""A Secret named by what it holds: a certificate (bitnami's ``tls.certificatesSecret``,
``tlsSecret``, ``caSecret``), a service account's key (bitnami/external-dns's
``google.serviceAccountSecret``), scripts (bitnami's ``primary.initdb.scriptsSecret``), a
configuration (kube-prometheus-stack's ``alertmanagerSpec.configSecret``), environment
variables (grafana's ``envFromSecret``), credentials (``credentialsSecret``). A value under a
``...Secret`` of other words stays hidden: ``jwtSecret``, ``cookieSecret``, ``clientSecret``
are secrets."""


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _has_name_prefix(key: str) -> bool:
    """True when ``key`` starts with a word of :data:`_NAME_PREFIXES` (``usePassword``,
    ``USE_PASSWORD``, ``existing-secret``), not with a longer word (``userPassword``,
    ``USER_PASSWORD``, ``generatedToken``): the next letter starts another word."""
    bare = key.lstrip("_-")
    for prefix in _NAME_PREFIXES:
        if bare[:len(prefix)].lower() != prefix:
            continue
        rest = bare[len(prefix):]
        if not rest or rest[0] in "_-" or (rest[0].isupper() and not bare[:len(prefix)].isupper()):
            return True
    return False


_KEY_SECRETS = tuple(w for w in _SECRET_WORDS if w.endswith("key") and w != "secretkey")
"""Secret words naming a key: their plural (``apiKeys``) is a map of keys, not the names of a
Secret's keys (``secretKeys.adminPasswordKey``, bitnami's spelling)."""


def is_name_key(key: object) -> bool:
    """True when a key names an object, a file or a switch (``existingSecret``, ``secretName``)."""
    if not isinstance(key, str):
        return False
    k = _norm(key)
    if k.endswith("keys") and k[:-1].endswith(_KEY_SECRETS):
        return _has_name_prefix(key)  # apiKeys, accessKeys: the keys themselves
    return (_has_name_prefix(key) or k.endswith(_NAME_SUFFIXES) or k in _NAMED_SECRETS or k in _NAME_KEYS
            or "existingsecret" in k)  # datadog's apiKeyExistingSecret, tokenExistingSecret


def is_sensitive_key(key: object) -> bool:
    """True when a values key's own name says it holds a secret (``password``, ``apiKey``)."""
    if not isinstance(key, str) or is_name_key(key):
        return False
    k = _norm(key)
    return any(word in k for word in _SECRET_WORDS)



# -- credentials in URLs ---------------------------------------------------------------------


_QUERY_SIGNATURES = ("sig", "signature", "xamzsignature", "xgoogsignature", "xamzsecuritytoken")
"""Query parameters that sign a URL (an Azure SAS ``sig``, S3's and GCS's presigned signatures)."""


def url_has_credentials(url: object, *, user: bool = True) -> bool:
    """True when ``url`` carries a user or password (``oci://user:pw@host/x``, ``https://tok@host``)
    or a credential in its query (``?private_token=...``, ``?access_token=...``, a SAS ``sig=``).

    ``user=False``: a user without a password does not count (``ssh://git@github.com/x``, a
    values leaf): only a password or a query credential does.
    """
    if not isinstance(url, str) or "://" not in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.password or (user and parts.username):
        return True
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if is_sensitive_key(name) or _norm(name) in _QUERY_SIGNATURES:
            return True
    return False
