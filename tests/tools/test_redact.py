"""Redactor: which values are hidden, how, and as a logging filter."""

from __future__ import annotations

import base64
import logging
import threading

import pytest

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


def test_short_strings_booleans_and_numbers_are_never_registered() -> None:
    r = Redactor(["x", "ab", "abc"])
    r.add(True)
    r.add(1234)
    r.add(3.5)
    assert len(r) == 0
    assert r.redact("x ab abc True 1234 3.5") == "x ab abc True 1234 3.5"
