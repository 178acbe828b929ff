"""Property tests: any damage to a valid QR text yields only certfree's own errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NOW
from keys.envelope import PREFIX
from verifier import VerificationError, Verifier
from wallet import Wallet, present

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@pytest.fixture(scope="module")
def sample(holder: Wallet) -> str:
    return present(holder, "internet_cafe", now=NOW).text


def _check(verifier: Verifier, text: str) -> None:
    try:
        verifier.verify(text, scenario="internet_cafe", now=NOW)
    except VerificationError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_changed_removed_or_inserted_character(verifier: Verifier, sample: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(sample) - 1))
    op = data.draw(st.sampled_from(["change", "remove", "insert"]))
    ch = data.draw(st.sampled_from(ALPHABET))
    if op == "change":
        mutated = sample[:i] + ch + sample[i + 1:]
    elif op == "remove":
        mutated = sample[:i] + sample[i + 1:]
    else:
        mutated = sample[:i] + ch + sample[i:]
    if mutated == sample:
        return
    with pytest.raises(VerificationError):
        verifier.verify(mutated, scenario="internet_cafe", now=NOW)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=600))
def test_arbitrary_envelope_bytes(verifier: Verifier, body: bytes) -> None:
    import base45

    _check(verifier, PREFIX + base45.b45encode(body).decode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_arbitrary_text(verifier: Verifier, text: str) -> None:
    _check(verifier, text)
    _check(verifier, PREFIX + text)
    _check(verifier, "eyJ" + text)
