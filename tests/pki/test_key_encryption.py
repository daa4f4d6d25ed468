"""AES-256-GCM key encryption at rest, keyring parsing and KEK rotation."""

from __future__ import annotations

import base64
import pickle
import re

import pytest

from app.pki.errors import KeyDecryptionError, KeyringConfigError, PkiError
from app.pki.key_encryption import KeyEncryptionKeyring

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
B64_A = base64.b64encode(KEY_A).decode()
B64_B = base64.b64encode(KEY_B).decode()
PLAINTEXT = b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n"
TOKEN_RE = re.compile(r"aes256gcm:[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+")


def _ring(spec: str) -> KeyEncryptionKeyring:
    return KeyEncryptionKeyring.from_string(spec)


def test_round_trip_and_token_shape() -> None:
    ring = _ring(f"main:{B64_A}")
    token = ring.encrypt(PLAINTEXT, b"ca:1234")
    assert TOKEN_RE.fullmatch(token)
    assert token.isascii()
    assert token.startswith("aes256gcm:main:")
    assert ring.decrypt(token, b"ca:1234") == PLAINTEXT
    assert KeyEncryptionKeyring.token_kid(token) == "main"


def test_token_never_contains_plaintext() -> None:
    ring = _ring(f"main:{B64_A}")
    token = ring.encrypt(PLAINTEXT)
    for needle in (
        PLAINTEXT.decode(),
        "PRIVATE KEY",
        "MIGHAgEAMBMGByqGSM49",
        base64.b64encode(PLAINTEXT).decode()[:16],
        base64.urlsafe_b64encode(PLAINTEXT).decode()[:16],
    ):
        assert needle not in token


def test_each_encryption_uses_a_fresh_nonce() -> None:
    ring = _ring(f"main:{B64_A}")
    tokens = {ring.encrypt(PLAINTEXT) for _ in range(20)}
    assert len(tokens) == 20
    assert len({t.split(":")[2] for t in tokens}) == 20


def test_empty_plaintext_round_trips() -> None:
    ring = _ring(f"main:{B64_A}")
    assert ring.decrypt(ring.encrypt(b"")) == b""


def test_wrong_associated_data_fails() -> None:
    ring = _ring(f"main:{B64_A}")
    token = ring.encrypt(PLAINTEXT, b"ca:1111")
    for aad in (b"ca:2222", b"", b"ca:1111 "):
        with pytest.raises(KeyDecryptionError) as exc:
            ring.decrypt(token, aad)
        assert str(exc.value) == (
            "The encrypted key could not be authenticated: it was altered, belongs to a "
            "different record, or the key-encryption key is wrong."
        )


def test_unknown_kid_fails() -> None:
    token = _ring(f"other:{B64_B}").encrypt(PLAINTEXT)
    with pytest.raises(KeyDecryptionError) as exc:
        _ring(f"main:{B64_A}").decrypt(token)
    assert str(exc.value) == (
        "The key was encrypted with key-encryption key 'other', which is not configured."
    )


def test_same_kid_different_key_fails() -> None:
    token = _ring(f"main:{B64_B}").encrypt(PLAINTEXT)
    with pytest.raises(KeyDecryptionError, match="could not be authenticated"):
        _ring(f"main:{B64_A}").decrypt(token)


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_tampered_tokens_fail() -> None:
    ring = _ring(f"main:{B64_A},spare:{B64_B}")
    token = ring.encrypt(PLAINTEXT)
    scheme, kid, nonce, sealed = token.split(":")
    tampered = [
        ":".join([scheme, kid, _flip(nonce, 3), sealed]),
        ":".join([scheme, kid, nonce, _flip(sealed, 10)]),
        ":".join([scheme, kid, nonce, _flip(sealed, len(sealed) - 2)]),  # the tag
        ":".join([scheme, "spare", nonce, sealed]),  # relabelled to another real KEK
    ]
    for bad in tampered:
        with pytest.raises(KeyDecryptionError, match="could not be authenticated"):
            ring.decrypt(bad)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "aes256gcm:main:AAAA",
        "aes128gcm:main:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA",
        "aes256gcm:bad kid:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA",
        "aes256gcm:main:AAAA:AAAAAAAAAAAAAAAAAAAAAA",  # nonce too short
        "aes256gcm:main:AAAAAAAAAAAAAAAA:AAAA",  # shorter than the GCM tag
        "aes256gcm:main:AAAAAAAAAAAAAAAA:AAAA+AAAAAAAAAAAAAAAAA",  # not base64url
        "aes256gcm:main:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:extra",
    ],
)
def test_malformed_tokens_fail(token: str) -> None:
    with pytest.raises(KeyDecryptionError) as exc:
        _ring(f"main:{B64_A}").decrypt(token)
    assert str(exc.value) == "The encrypted key is malformed or truncated."


def test_rotation_and_rewrap() -> None:
    old_ring = _ring(f"old:{B64_A}")
    token = old_ring.encrypt(PLAINTEXT, b"ca:42")

    rotated = _ring(f"new:{B64_B},old:{B64_A}")
    assert rotated.current_kid == "new"
    assert rotated.kids == ("new", "old")
    assert rotated.decrypt(token, b"ca:42") == PLAINTEXT

    rewrapped = rotated.rewrap(token, b"ca:42")
    assert KeyEncryptionKeyring.token_kid(rewrapped) == "new"
    assert rotated.decrypt(rewrapped, b"ca:42") == PLAINTEXT
    # Once every row is rewrapped, the old KEK can be dropped from the configuration.
    assert _ring(f"new:{B64_B}").decrypt(rewrapped, b"ca:42") == PLAINTEXT
    with pytest.raises(KeyDecryptionError, match="'new', which is not configured"):
        old_ring.decrypt(rewrapped, b"ca:42")
    # rewrap checks the associated data too, so it cannot move a token to another row.
    with pytest.raises(KeyDecryptionError):
        rotated.rewrap(token, b"ca:43")


def test_from_string_accepts_spacing_and_urlsafe_alphabet() -> None:
    urlsafe = base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode()
    assert "-" in urlsafe or "_" in urlsafe
    ring = _ring(f"  a:{B64_A} , b-2_x:{urlsafe} ")
    assert ring.kids == ("a", "b-2_x")
    token = _ring(f"b-2_x:{urlsafe}").encrypt(b"x")
    assert ring.decrypt(token) == b"x"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "The key-encryption keyring setting is empty."),
        ("   ", "The key-encryption keyring setting is empty."),
        (B64_A, "Entry 1 of the key-encryption keyring must look like 'kid:base64key'."),
        (f"a:{B64_A},b", "Entry 2 of the key-encryption keyring must look like "
                         "'kid:base64key'."),
        ("a:not base64!!", "Key-encryption key 'a' is not valid base64."),
        ("a:QUJ", "Key-encryption key 'a' is not valid base64."),
        (f"a:{base64.b64encode(bytes(16)).decode()}",
         "Key-encryption key 'a' must be exactly 32 bytes (got 16)."),
        (f"a:{base64.b64encode(bytes(33)).decode()}",
         "Key-encryption key 'a' must be exactly 32 bytes (got 33)."),
        (f"bad kid:{B64_A}", "A key-encryption key id must be 1 to 32 letters, digits, "
                             "'-' or '_'."),
        (f":{B64_A}", "A key-encryption key id must be 1 to 32 letters, digits, "
                      "'-' or '_'."),
        (f"{'k' * 33}:{B64_A}", "A key-encryption key id must be 1 to 32 letters, "
                                "digits, '-' or '_'."),
        (f"a:{B64_A},a:{B64_B}", "Key-encryption key id 'a' appears more than once."),
    ],
)
def test_from_string_errors(spec: str, message: str) -> None:
    with pytest.raises(KeyringConfigError) as exc:
        KeyEncryptionKeyring.from_string(spec)
    assert str(exc.value) == message
    assert isinstance(exc.value, PkiError)
    assert B64_A not in str(exc.value)


def test_constructor_validation() -> None:
    with pytest.raises(KeyringConfigError, match="At least one"):
        KeyEncryptionKeyring({}, "a")
    with pytest.raises(KeyringConfigError, match="'b' is not in the keyring"):
        KeyEncryptionKeyring({"a": KEY_A}, "b")
    with pytest.raises(KeyringConfigError, match="exactly 32 bytes"):
        KeyEncryptionKeyring({"a": KEY_A[:31]}, "a")


def test_generate_spec() -> None:
    spec = KeyEncryptionKeyring.generate_spec()
    kid, _, encoded = spec.partition(":")
    assert re.fullmatch(r"k\d{8}[0-9a-f]{6}", kid)
    assert len(base64.b64decode(encoded, validate=True)) == 32
    ring = _ring(spec)
    assert ring.current_kid == kid
    assert ring.decrypt(ring.encrypt(b"hello")) == b"hello"

    assert KeyEncryptionKeyring.generate_spec("prod-2025").startswith("prod-2025:")
    assert KeyEncryptionKeyring.generate_spec("x") != KeyEncryptionKeyring.generate_spec("x")
    with pytest.raises(KeyringConfigError):
        KeyEncryptionKeyring.generate_spec("no:colons")


def test_key_material_never_leaks_through_repr_or_pickle() -> None:
    ring = _ring(f"new:{B64_B},old:{B64_A}")
    text = repr(ring) + str(ring)
    assert text == 2 * "KeyEncryptionKeyring(kids=['new', 'old'], current_kid='new')"
    for secret in (B64_A, B64_B, KEY_A.hex(), KEY_B.hex()):
        assert secret not in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(ring)
