import pytest

from mailward.core.passwords import (
    ALPHABET,
    GENERATED_LENGTH,
    check_chosen_password,
    generate_password,
    generated_entropy_bits,
    is_suggestion,
    lookup_hash,
    suggest_password,
)
from mailward.errors import WeakPassword
from mailward.keys import ServerKeys


def test_generated_passwords_carry_at_least_100_bits_from_an_unambiguous_alphabet() -> None:
    assert generated_entropy_bits() >= 100
    assert not set("0O1lI") & set(ALPHABET)
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(len(p) == GENERATED_LENGTH and set(p) <= set(ALPHABET) for p in passwords)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 16"),
        ("x" * 129, "at most 128"),
        ("aaaaaaaaaaaaaaaaaaaa", "too few different"),
        ("passwordpassword1", "too weak"),
        ("qwertyuiopasdfghjkl", "too weak"),
        ("tab\tinside a long password 123", "printable"),
        ("ünïcödé password that is long", "printable"),
    ],
)
def test_weak_chosen_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_chosen_password(password)


def test_a_long_random_passphrase_is_accepted() -> None:
    check_chosen_password("vivid-otter-clamps-17-brass-kettles")


def test_only_the_servers_own_suggestion_counts_as_generated() -> None:
    keys = ServerKeys.generate()
    suggestion = suggest_password(keys)
    assert is_suggestion(keys, suggestion.password, suggestion.proof)
    assert not is_suggestion(keys, suggestion.password + "x", suggestion.proof)
    assert not is_suggestion(keys, suggestion.password, None)
    assert not is_suggestion(ServerKeys.generate(), suggestion.password, suggestion.proof)


def test_the_lookup_hash_is_bound_to_the_address_and_the_key() -> None:
    keys = ServerKeys.generate()
    assert lookup_hash(keys, 1, "secret") != lookup_hash(keys, 2, "secret")
    rotated = keys.rotated()
    assert lookup_hash(rotated, 1, "secret", key_id=keys.current_id) == lookup_hash(
        keys, 1, "secret"
    )
    assert lookup_hash(rotated, 1, "secret") != lookup_hash(keys, 1, "secret")
