"""Presentations at the six scenarios, each through a real QR image and decoder, with a
fixed clock: accepted, replayed, stale, another device, wrong scenario, under age, matters."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from conftest import NOW
from issuer import issue
from issuer.schemas import example, minor_example
from keys import KeyDir
from scenarios import SCENARIOS, get_policy
from verifier import SqliteReplayCache, VerificationFailed, Verifier, verify_matter
from verifier.testing import FixedClock
from wallet import Wallet, present, present_view, version

Scan = Callable[[str], bytes]


def fresh(holder: Wallet, scenario: str, licence_type: str | None = None, at: int = NOW) -> str:
    return present(holder, scenario, licence_type=licence_type, prefer=get_policy(scenario).accepts, now=at).text


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_accepts_a_fresh_presentation_and_sees_exactly_its_policy(
    scenario: str, holder: Wallet, verifier: Verifier, scan: Scan
) -> None:
    policy = get_policy(scenario)
    text = fresh(holder, scenario, at=NOW - 5)
    result = verifier.verify(scan(text), scenario=scenario)
    assert result.licence_type in policy.accepts
    assert set(result.claims) == set(policy.disclosed_for(result.licence_type))
    assert result.presented_at == NOW - 5


@pytest.mark.parametrize("licence_type", ["id_card", "household_book", "residence_permit", "driving_license", "vehicle_license", "ebike_registration"])
def test_window_sees_every_field_of_every_licence(licence_type: str, holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    result = verifier.verify(scan(fresh(holder, "window", licence_type)), scenario="window")
    assert dict(result.claims) == {k: v for k, v in example(licence_type).items()}


def test_internet_cafe_learns_no_birth_date(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    result = verifier.verify(scan(fresh(holder, "internet_cafe")), scenario="internet_cafe")
    assert set(result.claims) == {"name", "id_number_masked", "age_over_18"}
    assert result.claims["age_over_18"] is True
    birth = example("id_card")["birth_date"].replace("-", "")
    assert birth not in str(dict(result.claims))
    # ... and the QR text itself does not carry it either: the view was signed without it.
    view = holder.licence("id_card").views["internet_cafe"]
    from keys.jose import split_compact

    assert b"birth_date" not in split_compact(view)[1] and birth.encode() not in split_compact(view)[1]


def test_fuel_counter_sees_no_address(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    result = verifier.verify(scan(fresh(holder, "fuel_purchase")), scenario="fuel_purchase")
    assert "address" not in result.claims and set(result.claims) == {"name", "id_number"}


def test_same_code_twice_is_a_replay(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    png = scan(fresh(holder, "hotel"))
    verifier.verify(png, scenario="hotel")
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(png, scenario="hotel")
    assert exc.value.codes == ["replayed"]


def test_replay_is_remembered_across_restarts_in_a_sqlite_cache(keydir: KeyDir, holder: Wallet, tmp_path: Path, scan: Scan) -> None:
    from verifier import load_trust_list

    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    png = scan(fresh(holder, "internet_cafe"))
    first = Verifier(trust, clock=FixedClock(NOW), replay_cache=SqliteReplayCache(tmp_path / "replay.db"))
    first.verify(png, scenario="internet_cafe")
    second = Verifier(trust, clock=FixedClock(NOW + 1), replay_cache=SqliteReplayCache(tmp_path / "replay.db"))
    with pytest.raises(VerificationFailed) as exc:
        second.verify(png, scenario="internet_cafe")
    assert exc.value.codes == ["replayed"]


def test_a_code_older_than_the_window_is_stale(holder: Wallet, verifier: Verifier, clock: FixedClock, scan: Scan) -> None:
    policy = get_policy("hotel")
    limit = policy.freshness_seconds + policy.clock_skew_seconds
    text = fresh(holder, "hotel", at=NOW)
    clock.now = NOW + limit + 1
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(text), scenario="hotel")
    assert exc.value.codes == ["presentation_stale"]
    clock.now = NOW + limit  # the last second inside the window still passes
    assert verifier.verify(scan(text), scenario="hotel")


def test_a_code_from_the_future_is_refused(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    text = fresh(holder, "hotel", at=NOW + 3600)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(text), scenario="hotel")
    assert exc.value.codes == ["presentation_from_future"]


def test_another_devices_proof_is_refused(holder: Wallet, verifier: Verifier, tmp_path: Path, scan: Scan) -> None:
    thief = Wallet.init(tmp_path / "thief", passphrase=b"x")
    view = holder.licence("id_card").views["hotel"]  # copied out of the victim's wallet
    text = present_view(view, thief.device_key(), licence_type="id_card", scenario="hotel", now=NOW).text
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(text), scenario="hotel")
    assert exc.value.codes == ["holder_proof_invalid"]


def test_hotel_view_at_the_internet_cafe_says_why(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    view = holder.licence("id_card").views["hotel"]
    text = present_view(view, holder.device_key(), licence_type="id_card", scenario="hotel", now=NOW).text
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(text), scenario="internet_cafe")
    assert exc.value.codes == ["wrong_scenario"]
    assert "其他场景" in exc.value.failures[0].message_zh


def test_type_not_accepted(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    view = holder.licence("vehicle_license").views["window"]
    text = present_view(view, holder.device_key(), licence_type="vehicle_license", scenario="window", now=NOW).text
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(text), scenario="hotel")
    assert exc.value.codes == ["type_not_accepted"]


def test_a_bare_credential_is_not_a_presentation(keydir: KeyDir, verifier: Verifier, scan: Scan) -> None:
    from keys.envelope import encode_credential

    issued = issue(keydir, "id_card", example("id_card"), now=NOW - 60)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(encode_credential(issued.credential)), scenario="hotel")
    assert "holder_proof_missing" in exc.value.codes


def test_a_17_year_old_at_the_internet_cafe_is_under_age(keydir: KeyDir, verifier: Verifier, tmp_path: Path, scan: Scan) -> None:
    teen = Wallet.init(tmp_path / "teen", passphrase=b"x")
    issued = issue(keydir, "id_card", minor_example(), holder_jwk=teen.device_jwk(), now=NOW - 60)
    view = issued.views["internet_cafe"]
    text = present_view(view, teen.device_key(), licence_type="id_card", scenario="internet_cafe", now=NOW).text
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(text), scenario="internet_cafe")
    assert exc.value.codes == ["under_age"]
    # The minor's view stops at the 18th birthday, so "not 18" is never asserted past it.
    from issuer.views import adult_from

    assert verifier.verify(view).expires_at <= adult_from(minor_example()["birth_date"])


def test_window_matter_with_one_licence_missing_says_which(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    from scenarios import LICENCE_TITLES, get_matter

    matter = get_matter("birth_registration")  # 出生登记: the parents' household book and ID card
    assert set(matter.requires) == {"household_book", "id_card"} and not matter.one_of
    outcome = verify_matter(verifier, matter.id, [scan(fresh(holder, "window", "id_card"))])
    assert not outcome.done and not outcome.rejected
    assert outcome.check.missing == ("household_book",)
    assert LICENCE_TITLES["household_book"][0] in outcome.check.message_zh()
    both = [scan(fresh(holder, "window", t, at=NOW + 1)) for t in matter.requires]
    assert verify_matter(verifier, matter.id, both).done


def test_window_matter_with_a_rejected_licence_is_not_done(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    png = scan(fresh(holder, "window", "id_card"))
    verifier.verify(png, scenario="window")  # scanned once already: the second time is a replay
    outcome = verify_matter(verifier, "birth_registration", [png, scan(fresh(holder, "window", "household_book"))])
    assert not outcome.done
    assert outcome.check.missing == ("id_card",)
    assert [exc.codes for exc in outcome.rejected] == [["replayed"]]


def test_qr_sizes_are_small(holder: Wallet) -> None:
    # Error correction M; measured by building the real QR matrix.
    assert version(fresh(holder, "internet_cafe")) <= 13
    assert version(fresh(holder, "hotel", "id_card")) <= 16
    assert version(fresh(holder, "hotel", "household_book")) <= 16


@pytest.mark.parametrize(("min_age", "codes"), [(36, []), (37, ["under_age"])])
def test_a_minimum_age_other_than_18_is_checked_against_the_birth_date(
    holder: Wallet, keydir: KeyDir, tmp_path: Path, scan: Scan, min_age: int, codes: list[str]
) -> None:
    """A desk's own policy may ask for another age (scenarios.policy then makes it disclose
    birth_date): the demo resident, born 1990-03-07, is 36 on 2026-11-24."""
    from scenarios import load_policy
    from scenarios.policy import POLICIES_DIR
    from verifier import MemoryReplayCache, load_trust_list

    source = (POLICIES_DIR / "hotel.toml").read_text(encoding="utf-8")
    (tmp_path / "hotel.toml").write_text(source.replace("accepts = [", f"min_age = {min_age}\naccepts = [", 1), encoding="utf-8")
    policy = load_policy(tmp_path / "hotel.toml")
    assert policy.min_age == min_age and "birth_date" in policy.disclosed_for("id_card")
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    desk = Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache(), policies={"hotel": policy})
    text = present(holder, "hotel", licence_type="id_card", now=NOW).text
    if codes:
        with pytest.raises(VerificationFailed) as exc:
            desk.verify(scan(text), scenario="hotel")
        assert exc.value.codes == codes and exc.value.failures[0].field == "birth_date"
    else:
        assert desk.verify(scan(text), scenario="hotel").claims["birth_date"] == "1990-03-07"


def test_age_is_counted_in_whole_years_on_the_date_in_china() -> None:
    import datetime as dt

    from verifier._core import age_on, china_date

    assert age_on(dt.date(2008, 11, 24), dt.date(2026, 11, 24)) == 18
    assert age_on(dt.date(2008, 11, 25), dt.date(2026, 11, 24)) == 17
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 17
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) == 18
    # 2026-11-24 16:00 UTC is already 2026-11-25 00:00 in China
    midnight = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.timezone.utc).timestamp()
    assert china_date(midnight - 1) == dt.date(2026, 11, 24) and china_date(midnight) == dt.date(2026, 11, 25)


def test_an_unknown_window_matter_is_a_coded_failure_and_spends_no_code(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    png = scan(fresh(holder, "window", "id_card"))
    with pytest.raises(VerificationFailed) as info:
        verify_matter(verifier, "birth_registraton", [png])  # mistyped
    assert info.value.codes == ["unknown_matter"]
    [failure] = info.value.failures
    assert failure.field == "matter" and failure.message_zh == "未知的办理事项"
    assert verify_matter(verifier, "birth_registration", [png]).verified  # the code was not scanned


@pytest.mark.parametrize("cache", ["memory", "sqlite"])
def test_a_replay_in_the_last_fresh_second_is_still_a_replay(
    cache: str, keydir: KeyDir, holder: Wallet, tmp_path: Path, scan: Scan
) -> None:
    """The cache must remember a proof for as long as the verifier would take it as fresh
    (freshness + skew), not just for the freshness window: scanned at NOW + 1, the same code
    at NOW + freshness + skew (its last fresh second) is a replay, not accepted again."""
    from verifier import MemoryReplayCache, load_trust_list

    policy = get_policy("hotel")
    last_fresh = NOW + policy.freshness_seconds + policy.clock_skew_seconds
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    replay = MemoryReplayCache() if cache == "memory" else SqliteReplayCache(tmp_path / "replay.db")
    desk = Verifier(trust, clock=FixedClock(NOW + 1), replay_cache=replay)
    png = scan(fresh(holder, "hotel", at=NOW))
    assert desk.verify(png, scenario="hotel").presented_at == NOW
    with pytest.raises(VerificationFailed) as exc:
        desk.verify(png, scenario="hotel", now=last_fresh)
    assert exc.value.codes == ["replayed"]
    with pytest.raises(VerificationFailed) as exc:  # one second later it is stale, whatever the cache holds
        desk.verify(png, scenario="hotel", now=last_fresh + 1)
    assert exc.value.codes == ["presentation_stale"]


def test_pruning_the_memory_cache_keeps_codes_that_are_still_fresh(keydir: KeyDir, holder: Wallet, scan: Scan) -> None:
    """The memory cache prunes as it goes; a prune must drop only expired entries. A code
    scanned at NOW, then another code at NOW + 61 (whose call prunes), then the first code
    again at NOW + 62 (still fresh): a replay."""
    from verifier import MemoryReplayCache, load_trust_list

    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    desk = Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache())
    first = scan(fresh(holder, "hotel", at=NOW))
    desk.verify(first, scenario="hotel", now=NOW)
    desk.verify(scan(fresh(holder, "hotel", at=NOW + 61)), scenario="hotel", now=NOW + 61)
    with pytest.raises(VerificationFailed) as exc:
        desk.verify(first, scenario="hotel", now=NOW + 62)
    assert exc.value.codes == ["replayed"]


def test_memory_replay_cache_prune_drops_only_expired_entries() -> None:
    from verifier import MemoryReplayCache

    cache = MemoryReplayCache()
    assert cache.check_and_add(b"k1", NOW + 90, NOW) is False
    assert cache.check_and_add(b"old", NOW + 10, NOW) is False
    assert cache.check_and_add(b"k2", NOW + 151, NOW + 61) is False  # this call prunes what has expired
    assert len(cache) == 2  # "old" (expired at NOW + 10) is gone, k1 and k2 are kept
    assert cache.check_and_add(b"k1", NOW + 152, NOW + 62) is True
    assert cache.check_and_add(b"k1", NOW + 200, NOW + 90) is False  # at its expiry it is forgotten


def test_a_code_from_the_future_is_accepted_up_to_the_clock_skew(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    skew = get_policy("hotel").clock_skew_seconds
    assert verifier.verify(scan(fresh(holder, "hotel", at=NOW + skew)), scenario="hotel").presented_at == NOW + skew
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(fresh(holder, "hotel", at=NOW + skew + 1)), scenario="hotel")
    assert exc.value.codes == ["presentation_from_future"]


@pytest.mark.parametrize("value", [1, "true", None, [True]], ids=["int_1", "text_true", "null", "list"])
def test_age_over_18_must_be_exactly_true(value: object, keydir: KeyDir, holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    """A view signed by the real issuer key whose age_over_18 is truthy but not ``true``
    (as a buggy or lenient issuer might write it) is under age at the internet café."""
    import json

    from keys.jose import TYP_VIEW, sign_compact, split_compact

    view = holder.licence("id_card").views["internet_cafe"]
    header, payload, _ = split_compact(view)
    kid = json.loads(header)["kid"]
    claims = {**json.loads(payload), "age_over_18": value}
    resigned = sign_compact(claims, keydir.private_key(kid), kid=kid, typ=TYP_VIEW)
    text = present_view(resigned, holder.device_key(), licence_type="id_card", scenario="internet_cafe", now=NOW).text
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(text), scenario="internet_cafe")
    assert exc.value.codes == ["under_age"] and exc.value.failures[0].field == "age_over_18"
    # the same view with true, re-signed the same way, is accepted
    honest = sign_compact({**claims, "age_over_18": True}, keydir.private_key(kid), kid=kid, typ=TYP_VIEW)
    text = present_view(honest, holder.device_key(), licence_type="id_card", scenario="internet_cafe", now=NOW).text
    assert verifier.verify(scan(text), scenario="internet_cafe").claims["age_over_18"] is True


def test_a_code_a_scanner_typed_with_caps_lock_on_is_the_same_code(holder: Wallet, verifier: Verifier, scan: Scan) -> None:
    """A keyboard-wedge scanner at a desk whose Caps Lock is on types each letter in the
    other case: the envelope arrives all lower case. It is the same code (and the same
    proof, so the code typed right afterwards is a replay); a text of mixed case is not."""
    from browser_fixtures import read_qr as read

    typed = read(scan(fresh(holder, "hotel"))).swapcase()  # Caps Lock: shift gives lower case
    assert typed.startswith("cf1:") and typed == typed.lower()
    assert verifier.verify(typed, scenario="hotel").licence_type == "id_card"
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(typed.upper(), scenario="hotel")
    assert exc.value.codes == ["replayed"]

    other = read(scan(fresh(holder, "hotel"))).swapcase()
    letter = next(i for i, c in enumerate(other) if i > 4 and c.isalpha())
    mixed = other[:letter] + other[letter].upper() + other[letter + 1:]
    for refused in (mixed, "cf1:" + "a" * 10**6):  # mixed case; longer than any QR code
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(refused, scenario="hotel")
        assert exc.value.codes == ["malformed"]
