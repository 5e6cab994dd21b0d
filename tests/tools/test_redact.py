"""Redactor: which values are hidden, how, and as a logging filter."""

from __future__ import annotations

import base64
import logging
import math
import random
import re
import threading

import pytest

from firestream_core.tools import redact
from firestream_core.tools.redact import MASK, Redactor, looks_secret


def test_add_hides_every_occurrence() -> None:
    r = Redactor()
    r.add("hunter22")
    assert r.redact("pw=hunter22, again hunter22.") == f"pw={MASK}, again {MASK}."


def test_longest_secret_is_replaced_first() -> None:
    r = Redactor(["abcd", "abcdefgh"])
    assert r.redact("x abcdefgh y") == f"x {MASK} y"


def test_base64_and_json_escaped_forms_are_hidden() -> None:
    r = Redactor()
    r.add('pa"ss')
    encoded = base64.b64encode(b'pa"ss').decode()
    text = f'data: {encoded} json: "pa\\"ss"'
    out = r.redact(text)
    assert encoded not in out
    assert 'pa\\"ss' not in out


def test_percent_encoded_and_yaml_single_quoted_forms_are_hidden() -> None:
    """A password in a connection string is percent-encoded; PyYAML (diff, drift) writes a
    string holding ``'`` single-quoted with it doubled. Neither was matched."""
    r = Redactor()
    r.add("p@ss:w/rd 'x' é")
    text = ("url: postgres://app:p%40ss%3Aw%2Frd%20%27x%27%20%C3%A9@db:5432/app\n"
            "quoted: 'p@ss:w/rd ''x'' é'\n")
    out = r.redact(text)
    assert out == f"url: postgres://app:{MASK}@db:5432/app\nquoted: '{MASK}'\n"
    plain = Redactor(["plain-secret_1.2~"])  # nothing to encode: no extra form registered
    assert len(plain) == 2  # the value and its base64


def test_add_values_takes_only_sensitive_leaves() -> None:
    r = Redactor()
    r.add_values(
        {
            "image": {"repository": "nginx", "tag": "1.2"},
            "auth": {"postgresPassword": "pg-pass-1", "database": "shop", "existingSecret": "cache-redis",
                     "enabled": True},
            "apiKey": 42,
            "credentials": {"accessKeyId": "AKIA-1234", "secretName": "creds-secret"},
            "replicas": 3,
            "hosts": ["example.org", "ab"],
        }
    )
    assert "pg-pass-1" in r and "AKIA-1234" in r
    for visible in ("nginx", "1.2", "shop", "cache-redis", "example.org", "creds-secret", "42", "3", "true"):
        assert visible not in r, visible
    assert r.redact("db shop, Secret 'cache-redis', pw pg-pass-1") == f"db shop, Secret 'cache-redis', pw {MASK}"


def test_add_values_with_sensitive_keys_patterns() -> None:
    r = Redactor()
    r.add_values({"config": {"dsn": "pg://u:p@db/x", "level": "info"}, "x": {"hook": "https://hooks/abc"}},
                 patterns=("config.dsn", "hook"))
    assert "pg://u:p@db/x" in r and "https://hooks/abc" in r and "info" not in r


@pytest.mark.parametrize("key", ["password", "dbPassword", "postgresPassword", "token", "apiKey", "secretKey",
                                 "privateKey", "credentials", "clientSecret", "PASSWD", "DB_PASSWORD"])
def test_secret_looking_keys(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["image", "replicas", "host", "enabled", "auth", "database", "existingSecret",
                                 "secretName", "passwordFile", "adminPasswordKey", "imagePullSecrets"])
def test_ordinary_keys(key: str) -> None:
    assert not looks_secret(key)


def test_regex_metacharacters_are_literal() -> None:
    r = Redactor(["a.b*c"])
    assert r.redact("aXbbc a.b*c") == f"aXbbc {MASK}"


def test_copy_is_independent() -> None:
    base = Redactor(["first1"])
    child = base.copy()
    child.add("second2")
    assert child.redact("first1 second2") == f"{MASK} {MASK}"
    assert base.redact("first1 second2") == f"{MASK} second2"


def test_as_logging_filter_redacts_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    r = Redactor(["topsecret"])
    logger = logging.getLogger("test.redact.filter")
    caplog.handler.addFilter(r)
    try:
        with caplog.at_level(logging.INFO, logger="test.redact.filter"):
            logger.info("value %s here", "topsecret")
            try:
                raise RuntimeError("boom topsecret")
            except RuntimeError:
                logger.exception("failed")
    finally:
        caplog.handler.removeFilter(r)
    assert "topsecret" not in caplog.text
    assert caplog.text.count(MASK) >= 2
    assert "boom" in caplog.text


def test_thread_safe_add_and_redact() -> None:
    r = Redactor()
    errors: list[BaseException] = []

    def adder(n: int) -> None:
        try:
            for i in range(100):
                r.add(f"secret-{n}-{i:04d}")
                r.redact(f"secret-{n}-{i:04d}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=adder, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert r.redact("secret-3-0099") == MASK


def test_ordinary_values_stay_readable() -> None:
    r = Redactor()
    r.add_values({"env": {"DATABASE_HOST": "database"}, "auth": {"password": "hunter22"}})
    assert r.redact("release database: hunter22") == "release database: ***"


def test_whole_tokens_only() -> None:
    r = Redactor(["exec", "kube", "firestream"])
    text = "not executable --kube-context ctx, firestream.toml"
    assert r.redact(text) == "not executable --kube-context ctx, ***.toml"
    assert r.redact("exec") == MASK and r.redact("(kube)") == f"({MASK})"


def test_short_strings_booleans_and_numbers_are_never_masked() -> None:
    r = Redactor(["x", "ab", "abc"])
    r.add(True)
    r.add(1234)
    r.add(3.5)
    assert r.redact("x ab abc True 1234 3.5") == "x ab abc True 1234 3.5"
    # a short string is still a registered secret (a child's environment never gets it)
    assert "abc" in r and "x" in r
    assert True not in r and 1234 not in r and len(r) == 3


# -- one regex over the secrets' prefix tree, in levels --------------------------------------------

_ALPHABET = "ab-_ .:/\\*+?()[]{}|^$\n\té🙂"
"""Word and non-word characters, regex metacharacters and non-ASCII: where the tree can go wrong."""


def _reference(secrets: set[str], text: str) -> str:
    """The definition: one flat alternation of every secret, longest first, whole tokens only."""
    return re.sub(redact._alternation(secrets), MASK, text) if secrets else text


def _random_text(rnd: random.Random, secrets: list[str]) -> str:
    parts = []
    for _ in range(rnd.randint(0, 8)):
        r = rnd.random()
        if r < 0.5 and secrets:
            parts.append(rnd.choice(secrets))  # whole
        elif r < 0.7 and secrets:
            parts.append(rnd.choice(secrets)[: rnd.randint(0, 6)])  # a prefix: a branch left part-way
        else:
            parts.append("".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 4))))
    return "".join(parts)


def test_the_prefix_tree_pattern_matches_as_the_flat_alternation() -> None:
    rnd = random.Random(7)
    checked = 0
    for _ in range(1500):
        secrets = {"".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(1, 7))) for _ in range(rnd.randint(1, 8))}
        tree = re.compile(redact._tree_pattern(secrets))
        for _ in range(8):
            text = _random_text(rnd, sorted(secrets))
            assert tree.sub(MASK, text) == _reference(secrets, text), (secrets, text)
            checked += text != _reference(secrets, text)
    assert checked > 1000  # most texts did contain something to hide


def test_levels_added_between_redactions_hide_as_one_pattern_would() -> None:
    rnd = random.Random(11)
    for _ in range(150):
        r, known = Redactor(), set()
        copies: list[tuple[Redactor, set[str]]] = []
        for _ in range(rnd.randint(1, 12)):
            op = rnd.random()
            if op < 0.5:
                secret = "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(4, 8)))
                r.add(secret)
                known = set(r._secrets)
            elif op < 0.6:
                copies.append((r.copy(), set(known)))
            text = _random_text(rnd, sorted(known))
            assert r.redact(text) == _reference(known, text), (known, text)
        for c, at_copy in copies:  # a copy hides what it was given, nothing added later
            text = _random_text(rnd, sorted(known))
            assert c.redact(text) == _reference(at_copy, text)


def _count_compiled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = redact._compile

    def counting(secrets):  # type: ignore[no-untyped-def]
        secrets = list(secrets)
        sizes.append(len(secrets))
        return real(secrets)

    monkeypatch.setattr(redact, "_compile", counting)
    return sizes


def test_a_secret_added_between_redactions_is_compiled_log_n_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """A release adding its own Secret's values, then logging: n additions compile
    O(n log n) secrets in all, not O(n^2) (one whole pattern rebuilt per addition)."""
    sizes = _count_compiled(monkeypatch)
    r = Redactor()
    n = 1000
    for i in range(n):
        r.add(f"generated-password-{i:04d}")  # three forms: plain, base64 and none JSON-escaped
        assert r.redact(f"release r{i}: password generated-password-{i:04d}") == f"release r{i}: password {MASK}"
    forms = len(r)
    assert forms == 2 * n
    assert sum(sizes) <= forms * (math.log2(forms) + 2)
    assert len(r._levels) <= math.log2(forms) + 1
    assert r.redact("generated-password-0000 generated-password-0999") == f"{MASK} {MASK}"


def test_a_copy_adding_nothing_new_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Redactor([f"secret-value-{i}" for i in range(50)])
    assert r.redact("secret-value-7") == MASK
    sizes = _count_compiled(monkeypatch)
    c = r.copy()
    c.add("secret-value-7")
    assert c.redact("x secret-value-49 y") == f"x {MASK} y"
    assert sizes == []
    c.add("one-more-secret")
    assert c.redact("one-more-secret secret-value-1") == f"{MASK} {MASK}"
    assert sizes == [2]  # the new value and its base64 form only
    assert r.redact("one-more-secret") == "one-more-secret"  # the original is left alone


def test_secrets_each_a_prefix_of_the_next_are_hidden_by_the_flat_alternation() -> None:
    """A tree nesting deeper than the regex parser recurses falls back to the alternation."""
    chain = ["x" * i for i in range(4, 700)]
    with pytest.raises(RecursionError):
        re.compile(redact._tree_pattern(chain))
    r = Redactor(chain)
    assert r.redact("a " + "x" * 650 + " b xxx " + "x" * 800) == f"a {MASK} b xxx " + "x" * 800


def test_a_secret_equal_to_a_name_is_never_masked_but_stays_registered() -> None:
    """Names stay readable: a secret equal to one is not replaced in text (added before or after)."""
    red = Redactor(["payments", "Real-Secret-77"])
    assert red.redact("helm upgrade billing --namespace payments") == "helm upgrade billing --namespace ***"
    red.keep_readable(["payments", "billing"])
    red.add("billing")
    text = "helm upgrade billing --namespace payments --set x=Real-Secret-77"
    assert red.redact(text) == "helm upgrade billing --namespace payments --set x=***"
    # still a secret: the children's environment filter asks `in`
    assert "payments" in red and "billing" in red
    assert red.readable_secrets() == {"payments", "billing"}
    # copies and updates keep the names readable
    copy = red.copy()
    copy.add("Other-Secret-88")
    assert copy.redact("payments Other-Secret-88 billing") == "payments *** billing"
    other = Redactor(["payments"])
    other.update(red)
    assert other.redact("payments billing Real-Secret-77") == "payments billing ***"
    # only names: a secret merely holding one as a token is hidden whole
    red.add("payments-key-1")
    assert red.redact("payments-key-1 payments") == "*** payments"
