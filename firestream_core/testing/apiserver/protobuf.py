"""Decode the few Kubernetes protobuf request bodies clients send.

helm stores releases in Secrets (or ConfigMaps) through client-go typed
clients, which send ``application/vnd.kubernetes.protobuf`` bodies and do not
fall back to JSON. The envelope is ``k8s\\x00`` + a ``runtime.Unknown`` message
(1: TypeMeta{1 apiVersion, 2 kind}, 2: raw bytes of the typed object).
Decoded here: Secret, ConfigMap, Namespace, DeleteOptions (enough for helm);
responses are always JSON, which clients accept. Unknown kinds raise
:class:`ProtobufError` (answered as 415).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["MAGIC", "ProtobufError", "decode_object"]

MAGIC = b"k8s\x00"

Fields = list[tuple[int, int, Any]]  # (field number, wire type, value)


class ProtobufError(ValueError):
    """The body is not a protobuf message this emulator can decode."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


def _str(value: bytes) -> str:
    return value.decode("utf-8")


def _map(entries: list[bytes], conv: Callable[[bytes], Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for entry in entries:
        key, val = "", b""
        for number, _, value in _fields(entry):
            if number == 1:
                key = _str(value)
            elif number == 2:
                val = value
        result[key] = conv(val)
    return result


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _time(buf: bytes) -> str:
    seconds = 0
    for number, _, value in _fields(buf):
        if number == 1:
            seconds = value
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _group(buf: bytes) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for number, _, value in _fields(buf):
        grouped.setdefault(number, []).append(value)
    return grouped


def _owner_reference(buf: bytes) -> dict[str, Any]:
    f = _group(buf)
    ref: dict[str, Any] = {}
    for number, name in ((5, "apiVersion"), (1, "kind"), (3, "name"), (4, "uid")):
        if number in f:
            ref[name] = _str(f[number][-1])
    if 6 in f:
        ref["controller"] = bool(f[6][-1])
    if 7 in f:
        ref["blockOwnerDeletion"] = bool(f[7][-1])
    return ref


def _object_meta(buf: bytes) -> dict[str, Any]:
    f = _group(buf)
    meta: dict[str, Any] = {}
    for number, name in ((1, "name"), (2, "generateName"), (3, "namespace"), (5, "uid"),
                         (6, "resourceVersion")):
        if number in f and f[number][-1]:
            meta[name] = _str(f[number][-1])
    if 7 in f and f[7][-1]:
        meta["generation"] = f[7][-1]
    if 8 in f:
        meta["creationTimestamp"] = _time(f[8][-1])
    if 11 in f:
        meta["labels"] = _map(f[11], _str)
    if 12 in f:
        meta["annotations"] = _map(f[12], _str)
    if 13 in f:
        meta["ownerReferences"] = [_owner_reference(b) for b in f[13]]
    if 14 in f:
        meta["finalizers"] = [_str(b) for b in f[14]]
    return meta


def _secret(buf: bytes) -> dict[str, Any]:
    f = _group(buf)
    obj: dict[str, Any] = {"metadata": _object_meta(f[1][-1]) if 1 in f else {}}
    if 2 in f:
        obj["data"] = _map(f[2], _b64)
    if 3 in f:
        obj["type"] = _str(f[3][-1])
    if 4 in f:
        obj["stringData"] = _map(f[4], _str)
    if 5 in f:
        obj["immutable"] = bool(f[5][-1])
    return obj


def _config_map(buf: bytes) -> dict[str, Any]:
    f = _group(buf)
    obj: dict[str, Any] = {"metadata": _object_meta(f[1][-1]) if 1 in f else {}}
    if 2 in f:
        obj["data"] = _map(f[2], _str)
    if 3 in f:
        obj["binaryData"] = _map(f[3], _b64)
    if 4 in f:
        obj["immutable"] = bool(f[4][-1])
    return obj


def _namespace(buf: bytes) -> dict[str, Any]:
    f = _group(buf)
    obj: dict[str, Any] = {"metadata": _object_meta(f[1][-1]) if 1 in f else {}}
    if 2 in f:
        spec = _group(f[2][-1])
        obj["spec"] = {"finalizers": [_str(b) for b in spec.get(1, [])]}
    return obj


def _delete_options(buf: bytes) -> dict[str, Any]:
    f = _group(buf)
    obj: dict[str, Any] = {}
    if 1 in f:
        obj["gracePeriodSeconds"] = f[1][-1]
    if 3 in f:
        obj["orphanDependents"] = bool(f[3][-1])
    if 4 in f:
        obj["propagationPolicy"] = _str(f[4][-1])
    if 5 in f:
        obj["dryRun"] = [_str(b) for b in f[5]]
    return obj


_DECODERS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "Secret": _secret,
    "ConfigMap": _config_map,
    "Namespace": _namespace,
    "DeleteOptions": _delete_options,
}


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf body into the object's JSON form."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body without the k8s\\x00 prefix")
    envelope = _group(body[len(MAGIC):])
    type_meta = _group(envelope[1][-1]) if 1 in envelope else {}
    api_version = _str(type_meta[1][-1]) if 1 in type_meta else ""
    kind = _str(type_meta[2][-1]) if 2 in type_meta else ""
    raw = envelope[2][-1] if 2 in envelope else b""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ProtobufError(
            f"the emulator decodes protobuf only for {sorted(_DECODERS)}, not {kind!r};"
            " send JSON (application/json) instead"
        )
    try:
        obj = decoder(raw)
    except (IndexError, UnicodeDecodeError) as e:
        raise ProtobufError(f"malformed protobuf {kind}: {e}") from e
    return {"apiVersion": api_version or "v1", "kind": kind, **obj}
