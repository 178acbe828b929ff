"""Property tests: any damage to a valid QR text yields only certfree's own errors.

Each example gets its own verifier and replay cache: a verdict never depends on what an
earlier example left in the cache, and "replayed" never stands in for a real refusal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NOW
from keys import KeyDir
from keys.envelope import PREFIX
from verifier import MemoryReplayCache, TrustStore, VerificationError, VerificationFailed, Verifier, load_trust_list
from verifier.testing import FixedClock
from wallet import Wallet, present

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@pytest.fixture(scope="module")
def sample(holder: Wallet) -> str:
    return present(holder, "internet_cafe", now=NOW).text


@pytest.fixture(scope="module")
def trust(keydir: KeyDir) -> TrustStore:
    return load_trust_list(keydir.trust_list(), keydir.root_public_jwk())


def _desk(trust: TrustStore) -> Verifier:
    """A desk that has seen nothing yet."""
    return Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache())


def _check(trust: TrustStore, text: str) -> None:
    try:
        _desk(trust).verify(text, scenario="internet_cafe", now=NOW)
    except VerificationError:
        pass


def test_whitespace_around_the_text_is_not_damage(trust: TrustStore, sample: str) -> None:
    """The verifier strips the text it is handed (a scanner may add a newline): the same
    code with spaces around it is the same code, accepted on a fresh desk."""
    for text in (" " + sample, sample + " ", "\n" + sample + "\r\n"):
        assert _desk(trust).verify(text, scenario="internet_cafe", now=NOW).licence_type == "id_card"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_changed_removed_or_inserted_character(trust: TrustStore, sample: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(sample) - 1))
    op = data.draw(st.sampled_from(["change", "remove", "insert"]))
    ch = data.draw(st.sampled_from(ALPHABET))
    if op == "change":
        mutated = sample[:i] + ch + sample[i + 1:]
    elif op == "remove":
        mutated = sample[:i] + sample[i + 1:]
    else:
        mutated = sample[:i] + ch + sample[i:]
    desk = _desk(trust)
    if mutated.strip() == sample:  # only whitespace added at an end: the same code
        assert desk.verify(mutated, scenario="internet_cafe", now=NOW).licence_type == "id_card"
        return
    with pytest.raises(VerificationError) as exc:
        desk.verify(mutated, scenario="internet_cafe", now=NOW)
    if isinstance(exc.value, VerificationFailed):
        assert "replayed" not in exc.value.codes  # a fresh desk: damage must be refused for itself


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=600))
def test_arbitrary_envelope_bytes(trust: TrustStore, body: bytes) -> None:
    import base45

    _check(trust, PREFIX + base45.b45encode(body).decode())


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_text(trust: TrustStore, text: str) -> None:
    _check(trust, text)
    _check(trust, PREFIX + text)
    _check(trust, "eyJ" + text)
