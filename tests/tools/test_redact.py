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


def test_add_values_takes_long_strings_and_everything_under_secret_keys() -> None:
    r = Redactor()
    r.add_values(
        {
            "image": {"repository": "nginx", "tag": "1.2"},
            "auth": {"postgresPassword": "x1", "enabled": True},
            "apiKey": 42,
            "tokens": {"ttl": 7},
            "replicas": 3,
            "hosts": ["example.org", "ab"],
        }
    )
    assert "nginx" in r  # long plain string
    assert "1.2" not in r  # short plain string
    assert "x1" in r  # short, but under a secret key
    assert "ab" not in r
    assert "example.org" in r
    assert "42" in r and "7" in r  # numbers under secret keys, any length
    assert "true" not in r and "3" not in r  # booleans never, plain numbers never
    assert r.redact("tag 1.2 pw x1 host example.org") == f"tag 1.2 pw {MASK} host {MASK}"


@pytest.mark.parametrize("key", ["password", "dbPassword", "secretName", "token", "apiKey", "credentials", "basicAuth", "PASSWD"])
def test_secret_looking_keys(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["image", "replicas", "host", "enabled"])
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


def test_secrets_only_keeps_ordinary_values_readable() -> None:
    r = Redactor()
    r.add_values({"env": {"DATABASE_HOST": "database"}, "auth": {"password": "hunter22"}}, secrets_only=True)
    assert r.redact("release database: hunter22") == "release database: ***"
    everything = Redactor()
    everything.add_values({"env": {"DATABASE_HOST": "database"}})
    assert everything.redact("release database") == "release ***"
