"""The QR envelope: a compact, QR-friendly container around certfree's JWS parts.

QR text = ``"CF1:"`` + base45(CBOR array). base45 keeps the QR in alphanumeric mode.

* credential / view:  ``[1, kid8, claims, sig]``
* presentation:       ``[2, kid8, claims, sig, proof_iat, proof_nonce, proof_sig]``

Kinds 1 and 2 rebuild headers naming ``"alg": "EdDSA"``; kinds 3 and 4 are the same two
shapes whose headers (the issuer's, and in a presentation the holder proof's too) name
RFC 9864's ``"Ed25519"``. One algorithm name per envelope: a wallet signs its proof with
the name its view's issuer used (:func:`jws_algorithm`).

Proof parts: ``proof_iat`` (Unix seconds) and ``proof_nonce`` (raw bytes); the proof's
header and payload are rebuilt from them and the view (see :func:`proof_claims`).

``kid8`` is the first 8 bytes of the issuer key's RFC 7638 thumbprint; ``claims`` is the
signed JSON payload with known claim names replaced by small integers (see ``_CODEBOOK``),
``cnf`` reduced to the raw 32-byte holder key, ``jti`` to its raw bytes, the issuer,
licence type and scenario names to small integers, full dates to RFC 8943 day counts, and a
status claim of the Token Status List draft's shape whose list URI starts with a known
prefix to ``[idx, prefix code, raw list id]`` (see :func:`_short_status`). Signatures
are raw 64-byte Ed25519 signatures. Nothing here is trusted: the verifier rebuilds the
exact JWS strings (header from a fixed template, payload by :func:`keys.jose.canonical_json`)
and verifies them normally, so any change to the envelope breaks a signature.

Every input size is capped before it is parsed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import base45
import cbor2

from .jose import (
    ALGORITHM,
    ALGORITHM_RFC9864,
    TYP_PROOF,
    b64url_bytes,
    b64url_decode,
    b64url_encode,
    canonical_json,
    is_allowed_algorithm,
    protected_header,
    split_compact,
)

PREFIX = "CF1:"
KIND_CREDENTIAL = 1
KIND_PRESENTATION = 2
KIND_CREDENTIAL_ED25519 = 3
KIND_PRESENTATION_ED25519 = 4
# kind -> (carries a holder proof, the "alg" its rebuilt headers name); one byte of CBOR each
_KINDS = {
    KIND_CREDENTIAL: (False, ALGORITHM),
    KIND_PRESENTATION: (True, ALGORITHM),
    KIND_CREDENTIAL_ED25519: (False, ALGORITHM_RFC9864),
    KIND_PRESENTATION_ED25519: (True, ALGORITHM_RFC9864),
}
_KIND_OF = {shape: kind for kind, shape in _KINDS.items()}
MAX_TEXT = 4296  # the most a QR code can hold in alphanumeric mode (version 40-L)
MAX_DEPTH = 6
_MAX_INT = 2**53 - 1

# The codebook, in one file shared with the phone's encoder (wallet/web/src/envelope.js).
# Append only: a code, once given, never changes.
_CODES = json.loads(Path(__file__).with_name("envelope_codes.json").read_text("utf-8"))
# Claim names written as small integers.
_NAMES: tuple[str, ...] = tuple(_CODES["names"])
_CODEBOOK = {name: i for i, name in enumerate(_NAMES, start=1)}
_CNF = _CODEBOOK["cnf"]

# String values of these claims written as small integers.
_VALUE_CLAIMS = frozenset({"iss", "vct", "scn"})
_VALUES: tuple[str, ...] = tuple(_CODES["values"])
_VALUE_CODES = {value: i for i, value in enumerate(_VALUES, start=1)}

# Status list URIs "<start><base64url list id>.jws" whose start is in this book travel as
# the start's number and the list id's raw bytes. Each start ends in "/", so a URI has at
# most one way to be written short.
_STATUS_URIS: tuple[str, ...] = tuple(_CODES["status_uris"])
_STATUS_URI_CODES = {start: i for i, start in enumerate(_STATUS_URIS, start=1)}
_LIST_SUFFIX = ".jws"

# Full dates ("1990-03-07") travel as RFC 8943 tag 100: days since 1970-01-01.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_EPOCH = dt.date(1970, 1, 1)


class EnvelopeError(ValueError):
    """The QR text is not a well-formed certfree envelope. ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Proof(NamedTuple):
    """The holder proof's parts as carried in the envelope."""

    iat: int
    nonce: bytes
    signature: bytes

    def payload(self, view_jws: str | bytes) -> bytes:
        """The proof's signed payload for ``view_jws`` (the compact view JWS, as text or
        ASCII bytes): byte for byte ``canonical_json(proof_claims(...))`` — the keys are
        in sorted order, iat is a plain int (checked in decode) and both strings are
        base64url, which JSON never escapes. tests/test_fast_paths.py holds the two equal."""
        view = view_jws.encode("ascii") if isinstance(view_jws, str) else view_jws
        return b'{"iat":%d,"nonce":"%s","vh":"%s"}' % (
            self.iat,
            b64url_bytes(self.nonce),
            b64url_bytes(hashlib.sha256(view).digest()),
        )


class Envelope(NamedTuple):
    """A decoded envelope (a named tuple: the verifier builds one per scan)."""

    kind: int
    kid_prefix: bytes
    payload: bytes  # the exact signed JSON payload bytes, rebuilt
    claims: dict[str, Any]
    signature: bytes
    proof: Proof | None
    holder_key: bytes | None  # the raw 32-byte key of cnf, as carried; None if cnf is absent
    alg: str = ALGORITHM  # the "alg" of the rebuilt headers (the envelope's kind says which)


def view_hash(view_jws: str) -> str:
    return b64url_encode(hashlib.sha256(view_jws.encode("ascii")).digest())


def proof_claims(view_jws: str, iat: int, nonce: bytes) -> dict[str, Any]:
    """The holder proof's payload: the view's hash, the time, and a nonce."""
    return {"iat": iat, "nonce": b64url_encode(nonce), "vh": view_hash(view_jws)}


# ---- encoding (wallet and issuer side) -------------------------------------------------


def jws_algorithm(jws: str) -> str:
    """The ``alg`` a certfree JWS's header names ("EdDSA" or "Ed25519"), unverified: what a
    wallet's holder proof over that view must name too. Raises :class:`EnvelopeError`."""
    try:
        alg = json.loads(split_compact(jws)[0]).get("alg")
    except (ValueError, TypeError, AttributeError) as exc:
        raise EnvelopeError(f"not a certfree JWS ({type(exc).__name__})") from None
    if not is_allowed_algorithm(alg):
        raise EnvelopeError("header does not match the template")
    return str(alg)


def encode_credential(jws: str) -> str:
    """QR text for a credential or a view on its own (no holder proof)."""
    kid, claims, sig, alg = _pack_jws(jws)
    return _to_text([_KIND_OF[False, alg], kid, claims, sig])


def encode_presentation(view_jws: str, proof_jws: str) -> str:
    """QR text for a presentation: a view plus the holder's proof over it (whose header
    names the view's algorithm)."""
    kid, claims, sig, alg = _pack_jws(view_jws)
    try:
        header, payload, proof_sig = split_compact(proof_jws)
        proof = json.loads(payload)
        nonce = b64url_decode(proof["nonce"])
        rebuilt = canonical_json(proof_claims(view_jws, proof["iat"], nonce))
    except (ValueError, TypeError, KeyError) as exc:
        raise EnvelopeError(f"not a certfree holder proof ({type(exc).__name__})") from None
    if header != protected_header(None, TYP_PROOF, alg):
        raise EnvelopeError("proof header does not match the template")
    if rebuilt != payload:
        raise EnvelopeError("proof payload cannot be rebuilt")
    return _to_text([_KIND_OF[True, alg], kid, claims, sig, proof["iat"], nonce, proof_sig])


def _pack_jws(jws: str) -> tuple[bytes, Any, bytes, str]:
    try:
        header_bytes, payload, sig = split_compact(jws)
        header = json.loads(header_bytes)
        kid = header.get("kid") if isinstance(header, dict) else None
        alg = header.get("alg") if isinstance(header, dict) else None
        if (not isinstance(kid, str) or not isinstance(alg, str) or not is_allowed_algorithm(alg)
                or header_bytes != protected_header(kid, header.get("typ", ""), alg)):
            raise EnvelopeError("header does not match the template")
        claims = json.loads(payload)
        if not isinstance(claims, dict):
            raise EnvelopeError("payload is not a JSON object")
        packed = _compact(claims)
        if canonical_json(_expand(cbor2.loads(cbor2.dumps(packed)))) != payload:
            raise EnvelopeError("payload is not in canonical form; it cannot be rebuilt exactly")
        return b64url_decode(kid)[:8], packed, sig, alg
    except EnvelopeError:
        raise
    except (ValueError, TypeError) as exc:  # not a compact JWS, not JSON, not certfree's claims
        raise EnvelopeError(f"not a certfree JWS ({type(exc).__name__})") from None


def _to_text(items: list[Any]) -> str:
    return PREFIX + base45.b45encode(cbor2.dumps(items)).decode("ascii")


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {_CODEBOOK.get(k, k): _compact_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return value
        return cbor2.CBORTag(100, (day - _EPOCH).days)
    return value


def _short_status(value: Any) -> list[Any] | None:
    """``[idx, start code, raw list id]`` for ``{"status_list": {"idx": idx, "uri":
    start + base64url(raw list id) + ".jws"}}`` with ``start`` in the book, a raw list id of
    1 to 32 bytes and 0 <= idx < 2**53; None for any other value (it keeps its JSON shape)."""
    if not isinstance(value, dict) or set(value) != {"status_list"}:
        return None
    inner = value["status_list"]
    if not isinstance(inner, dict) or set(inner) != {"idx", "uri"}:
        return None
    idx, uri = inner["idx"], inner["uri"]
    if not _is_int(idx) or not isinstance(uri, str) or not uri.endswith(_LIST_SUFFIX):
        return None
    start, _, name = uri[: -len(_LIST_SUFFIX)].rpartition("/")
    code = _STATUS_URI_CODES.get(start + "/")
    if code is None:
        return None
    try:
        raw = b64url_decode(name)
    except ValueError:
        return None
    return [idx, code, raw] if 1 <= len(raw) <= 32 else None


def _expand_status(value: list[Any]) -> dict[str, Any]:
    """The status claim written short by :func:`_short_status`, rebuilt."""
    if len(value) != 3:
        raise EnvelopeError("bad status entry")
    idx, code, raw = value
    if not _is_int(idx) or type(code) is not int or not 1 <= code <= len(_STATUS_URIS):
        raise EnvelopeError("bad status entry")
    if not isinstance(raw, bytes) or not 1 <= len(raw) <= 32:
        raise EnvelopeError("bad status list id")
    return {"status_list": {"idx": idx, "uri": _STATUS_URIS[code - 1] + b64url_encode(raw) + _LIST_SUFFIX}}


def _compact_value(key: str, value: Any) -> Any:
    """cnf, jti and a status entry get lossless short forms, well-known names a number;
    everything else keeps its JSON shape."""
    if key in _VALUE_CLAIMS and isinstance(value, str) and value in _VALUE_CODES:
        return _VALUE_CODES[value]
    if key == "status":
        short = _short_status(value)
        if short is not None:
            return short
    if key == "cnf" and isinstance(value, dict) and set(value) == {"jwk"}:
        jwk = value["jwk"]
        if isinstance(jwk, dict) and set(jwk) == {"crv", "kty", "x"}:
            if jwk["crv"] == "Ed25519" and jwk["kty"] == "OKP":
                try:
                    raw = b64url_decode(jwk["x"])
                except (ValueError, TypeError):
                    raw = b""
                if len(raw) == 32:
                    return raw
    if key == "jti" and isinstance(value, str):
        try:
            raw = b64url_decode(value)
        except ValueError:
            raw = b""
        if 8 <= len(raw) <= 32:
            return raw
    return _compact(value)


# ---- decoding (verifier side): nothing here is trusted ---------------------------------

_B45_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_DIGITS = bytes.maketrans(_B45_ALPHABET, bytes(range(45)))


def b45decode(text: str) -> bytes:
    """RFC 9285 base45 decoding, the same result as ``base45.b45decode`` (and the same
    refusals: a character outside the alphabet, a length of 3n+1, a group above 65535 or
    a final pair above 255 raise ``ValueError``), about 7 times faster.

    Each group of three digits ``c, d, e`` is ``c + 45*d + 2025*e`` as two big-endian
    bytes. Rather than loop in Python, all the digits are read as one big integer, in
    which every group is a 24-bit lane ``c, d, e``; masks pick out the c, d and e of every
    lane, and one sum computes every group at once (no lane can carry into the next:
    44 * (1 + 45 + 2025) < 2**17). Each lane's top byte must then be 0 (the group fits
    in 16 bits) and is dropped, which leaves the output bytes in order.
    """
    raw = text.encode("ascii")  # UnicodeEncodeError is a ValueError
    if raw.translate(None, _B45_ALPHABET):
        raise ValueError("not base45: character outside the alphabet")
    digits = raw.translate(_B45_DIGITS)
    n = len(digits)
    rest = n % 3
    if rest == 1:
        raise ValueError("not base45: bad length")
    full = n - rest
    groups = full // 3
    lanes = int.from_bytes(digits[:full] if rest else digits, "big")
    low = _low_bytes(groups)
    values = ((lanes >> 16) & low) + 45 * ((lanes >> 8) & low) + 2025 * (lanes & low)
    out = bytearray(values.to_bytes(full, "big"))
    if out[0::3].count(0) != groups:
        raise ValueError("not base45: group out of range")
    del out[0::3]
    if rest == 2:
        last = digits[full] + 45 * digits[full + 1]
        if last > 255:
            raise ValueError("not base45: final pair out of range")
        out.append(last)
    return bytes(out)


@lru_cache(maxsize=64)  # a few text lengths are common; any other is rebuilt in 0.2 µs
def _low_bytes(groups: int) -> int:
    """The mask of the low byte of each of ``groups`` 24-bit lanes."""
    return int.from_bytes(b"\0\0\xff" * groups, "big")


def decode(text: str) -> Envelope:
    """Parse QR text into its parts. Raises :class:`EnvelopeError`, never anything else."""
    if not isinstance(text, str):
        raise EnvelopeError("not text")
    if len(text) > MAX_TEXT:
        raise EnvelopeError("too long")
    if not text.startswith(PREFIX):
        raise EnvelopeError("unknown prefix or version")
    try:
        raw = b45decode(text[len(PREFIX):])
    except Exception:  # b45decode raises ValueError, but be sure nothing else leaks
        raise EnvelopeError("not base45") from None
    try:
        stream = io.BytesIO(raw)
        decoder = _cbor_decoder(stream)
        try:
            items = decoder.decode()
        finally:
            decoder.fp = _NO_STREAM  # the thread's decoder keeps no scan's bytes past its decode
    except Exception:  # cbor2 raises several types on hostile input
        raise EnvelopeError("not CBOR") from None
    if stream.tell() != len(raw):  # cbor2.loads would silently ignore trailing bytes
        raise EnvelopeError("trailing data")
    if not isinstance(items, list) or not items:
        raise EnvelopeError("not an envelope array")
    kind = items[0]
    if type(kind) is not int:  # 2.0 or true would mean the same: one encoding
        raise EnvelopeError("unknown envelope kind")
    with_proof, alg = _KINDS.get(kind, (None, ALGORITHM))
    if with_proof is False and len(items) == 4:
        proof = None
    elif with_proof is True and len(items) == 7:
        iat, nonce, proof_sig = items[4:7]
        if not (_is_int(iat) and isinstance(nonce, bytes) and 8 <= len(nonce) <= 32):
            raise EnvelopeError("bad proof fields")
        proof = _new_tuple(Proof, (iat, nonce, _signature(proof_sig)))
    else:
        raise EnvelopeError("unknown envelope kind")
    kid, packed, sig = items[1:4]
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise EnvelopeError("bad key id")
    if not isinstance(packed, dict):
        raise EnvelopeError("claims are not a map")
    claims = _expand_claims(packed)
    try:
        payload = canonical_json(claims)
    except (TypeError, ValueError):
        raise EnvelopeError("claims are not JSON") from None
    holder_key = packed.get(_CNF)
    return _new_tuple(Envelope, (kind, kid, payload, claims, _signature(sig), proof,
                                 holder_key if type(holder_key) is bytes else None, alg))


# What a named tuple's generated __new__ calls, without that Python frame: the verifier
# builds two named tuples a scan, every field given in order.
_new_tuple = tuple.__new__


_decoders = threading.local()
_NO_STREAM = io.BytesIO(b"")  # what an idle decoder points at (never read)


def _cbor_decoder(stream: io.BytesIO) -> cbor2.CBORDecoder:
    """This thread's CBOR decoder, reading from ``stream``: made once per thread, as making
    one with its options costs about 1 µs, more than decoding an envelope's CBOR with it
    (tests/test_fast_paths.py holds a reused decoder's results and refusals, in the order a
    hostile corpus gives them, equal to a fresh decoder's)."""
    decoder = getattr(_decoders, "decoder", None)
    if decoder is None:
        decoder = _decoders.decoder = _new_cbor_decoder(stream)
    else:
        decoder.fp = stream
    return decoder


def _new_cbor_decoder(stream: io.BytesIO) -> cbor2.CBORDecoder:
    return cbor2.CBORDecoder(
        stream,
        max_depth=MAX_DEPTH,
        allow_indefinite=False,
        allow_duplicate_keys=False,
        semantic_decoders=_REFUSED_TAGS,
    )


def _refuse_tag(*_args: Any) -> Any:
    raise EnvelopeError("CBOR tag not allowed")


# Tags cbor2 would resolve silently (bignums, self-describe, shared values, string
# references, embedded CBOR, date strings): one meaning, one encoding, so they are refused. Other
# unknown tags come out as objects that _expand refuses.
_REFUSED_TAGS = {tag: _refuse_tag for tag in (2, 3, 24, 25, 28, 29, 256, 1004, 55799)}


def _signature(value: Any) -> bytes:
    if not isinstance(value, bytes) or len(value) != 64:
        raise EnvelopeError("bad signature length")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT


def _claim_name(key: Any) -> str:
    """A claim name from the envelope: a codebook number, or text that has no number."""
    if type(key) is int and 1 <= key <= len(_NAMES):
        return _NAMES[key - 1]
    if type(key) is str and key not in _CODEBOOK:
        return key
    raise EnvelopeError("bad claim name")


def _expand_claims(packed: dict[Any, Any]) -> dict[str, Any]:
    """:func:`_expand` of the top-level claims map, with the common value types (text,
    plain ints) handled inline; anything else goes through :func:`_expand`."""
    out: dict[str, Any] = {}
    names, count = _NAMES, len(_NAMES)
    for k, v in packed.items():
        # _claim_name, inlined: this loop runs for every claim of every scan
        if type(k) is int and 1 <= k <= count:
            name = names[k - 1]
        else:
            name = _claim_name(k)
        if name in out:
            raise EnvelopeError("duplicate claim")
        t = type(v)
        if t is str:
            if name in _SHORT_FORMS or len(v) == 10:
                _refuse_long_form(name, v)
            out[name] = v
        elif t is bool:
            out[name] = v
        elif t is int:
            if name in _VALUE_CLAIMS:
                if not 1 <= v <= len(_VALUES):
                    raise EnvelopeError("unknown value code")
                out[name] = _VALUES[v - 1]
            elif -_MAX_INT <= v <= _MAX_INT:
                out[name] = v
            else:
                raise EnvelopeError("number out of range")
        elif t is bytes:
            if name == "cnf" and len(v) == 32:
                out[name] = {"jwk": {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(v)}}
            elif name == "jti" and 8 <= len(v) <= 32:
                out[name] = b64url_encode(v)
            else:
                raise EnvelopeError("unexpected bytes")
        else:
            out[name] = _expand(v, name)
    return out


_SHORT_FORMS = _VALUE_CLAIMS | {"jti"}


def _refuse_long_form(name: str | None, value: Any) -> None:
    """A value the encoder writes in a short form (a value code, the raw bytes of jti or
    of the cnf key, tag 100 for a full date) is refused in its long form: one encoding."""
    if isinstance(value, str):
        if name in _VALUE_CLAIMS and value in _VALUE_CODES:
            raise EnvelopeError("a coded value written out")
        if name == "jti":
            try:
                raw = b64url_decode(value)
            except ValueError:
                raw = b""
            if 8 <= len(raw) <= 32:
                raise EnvelopeError("jti written out")
        if len(value) == 10 and _DATE.fullmatch(value):
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return
            raise EnvelopeError("a date written as text")
    elif name == "cnf" and isinstance(value, dict) and isinstance(_compact_value("cnf", value), bytes):
        raise EnvelopeError("cnf key written out")


def _expand(value: Any, key: str | None = None) -> Any:
    _refuse_long_form(key, value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            name = _claim_name(k)
            if name in out:
                raise EnvelopeError("duplicate claim")
            out[name] = _expand(v, name)
        if key == "status" and _short_status(out) is not None:
            raise EnvelopeError("status entry written out")
        return out
    if isinstance(value, bytes):
        if key == "cnf" and len(value) == 32:
            return {"jwk": {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(value)}}
        if key == "jti" and 8 <= len(value) <= 32:
            return b64url_encode(value)
        raise EnvelopeError("unexpected bytes")
    if isinstance(value, list):
        if key == "status":
            return _expand_status(value)
        return [_expand(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if type(value) is dt.date:  # cbor2 decodes tags 100 and 1004 to a date
        return value.isoformat()
    if isinstance(value, int):
        if key in _VALUE_CLAIMS:
            if not 1 <= value <= len(_VALUES):
                raise EnvelopeError("unknown value code")
            return _VALUES[value - 1]
        if abs(value) > _MAX_INT:
            raise EnvelopeError("number out of range")
        return value
    raise EnvelopeError("unsupported value type")
