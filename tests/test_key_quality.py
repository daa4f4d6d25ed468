"""Keys worth certifying: a factorable modulus, close primes and a ROCA-style key (made
here) are refused with one code (`csr.bad_key`) through the CSR upload and the couriers'
API, and no order is written; a CSR signed with SHA-1 or MD5 says so (`csr.weak_signature`).
The platform's own keys pass the same checks (an assertion)."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.models import Order
from app.pki import keys as keys_module
from app.pki.csr import build_csr, parse_csr
from app.pki.key_quality import BadKey, check_ec_point, check_key_quality
from app.pki.keys import generate_private_key
from tests import bad_keys
from tests.api.conftest import API, bearer, make_courier, token_for
from tests.builders import add_domain, count, issuing_ca
from tests.conftest import login, make_user, post

USER = "keys@example.com"
CODE = re.compile(r'data-code="([a-z_.]+)"')
BROKEN = {"smallfactors": bad_keys.factorable_key, "fermat": bad_keys.close_primes_key,
          "roca": bad_keys.roca_key}


@pytest.fixture(scope="module")
def broken_csrs() -> dict[str, str]:
    return {check: build_csr(make(), "www.example.com", ("www.example.com",))
            .public_bytes(serialization.Encoding.PEM).decode()
            for check, make in BROKEN.items()}


@pytest.mark.parametrize("check", BROKEN)
def test_the_pki_core_names_the_weakness(broken_csrs, check) -> None:
    with pytest.raises(BadKey) as caught:
        parse_csr(broken_csrs[check])
    assert caught.value.check == check


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ec-256", "ec-384", "ec-521"])
def test_good_keys_pass(algorithm) -> None:
    check_key_quality(generate_private_key(algorithm).public_key())


def test_the_platforms_own_keys_are_checked_too(monkeypatch) -> None:
    broken = bad_keys.factorable_key()
    monkeypatch.setattr(keys_module.rsa, "generate_private_key", lambda **kw: broken)
    with pytest.raises(BadKey, match="generated"):
        keys_module.generate_private_key("rsa-2048")


@dataclass
class _Numbers:
    x: int
    y: int


class _OffCurveKey:
    """What a parser that skipped point validation would hand over."""

    curve = ec.SECP256R1()

    def __init__(self, x: int, y: int) -> None:
        self._numbers = _Numbers(x, y)

    def public_numbers(self) -> _Numbers:
        return self._numbers


def test_ec_points_off_the_curve_are_refused() -> None:
    good = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    check_ec_point(_OffCurveKey(good.x, good.y))  # type: ignore[arg-type]
    for x, y in ((good.x, good.y + 1), (0, 0), (good.x, good.y + 2**256)):
        with pytest.raises(BadKey, match="not a valid point"):
            check_ec_point(_OffCurveKey(x, y))  # type: ignore[arg-type]


def _openssl_csr(tmp_path: Path, digest: str, key: str) -> str:
    key_path = tmp_path / f"{key}.key"
    option = "ec_paramgen_curve:P-256" if key == "EC" else "rsa_keygen_bits:2048"
    subprocess.run(["openssl", "genpkey", "-algorithm", key, "-pkeyopt", option,
                    "-out", str(key_path)], check=True, capture_output=True)
    return subprocess.run(["openssl", "req", "-new", f"-{digest}", "-key", str(key_path),
                           "-subj", "/CN=www.example.com"], check=True, capture_output=True,
                          text=True).stdout


# ---- every channel: one code, no order ------------------------------------------------

@pytest.fixture
def world(app, jobs) -> str:
    add_domain(app, "example.com")
    make_user(app, USER, role="user", domains=("example.com",))
    return issuing_ca(app, jobs)


def _upload(app, issuer: str, csr: str) -> set[str]:
    client = app.test_client()
    login(client, USER)
    response = post(client, "/request/csr", {
        "csr": csr, "options": "1", "nav": "submit", "issuer_id": issuer,
        "digest": "sha256", "validity_days": "90", "key_usage": ["digitalSignature"],
        "extended_key_usage": ["serverAuth"]})
    assert response.status_code == 422
    return set(CODE.findall(response.get_data(as_text=True)))


def _api(app, courier, csr: str) -> set[str]:
    client = app.test_client()
    response = client.post(f"{API}/certificates", headers=bearer(token_for(client, courier)),
                           json={"csr": csr, "digest": "sha256", "validity_days": 90,
                                 "key_usage": ["digitalSignature"],
                                 "extended_key_usage": ["serverAuth"]})
    assert response.status_code == 422, response.get_json()
    return {d["code"] for d in response.get_json()["error"]["details"]}


def test_broken_keys_are_refused_with_one_code_in_every_channel(app, world,
                                                                broken_csrs) -> None:
    courier = make_courier(app, "keys-courier", domains=("example.com",))
    for check, csr in broken_csrs.items():
        assert _upload(app, world, csr) == {"csr.bad_key"}, check
        assert _api(app, courier, csr) == {"csr.bad_key"}, check
    assert count(app, Order) == 0


def test_sha1_and_md5_csrs_say_so_in_every_channel(app, world, tmp_path) -> None:
    courier = make_courier(app, "hash-courier", domains=("example.com",))
    for digest, key, word in (("sha1", "EC", "SHA-1"), ("md5", "RSA", "MD5")):
        csr = _openssl_csr(tmp_path, digest, key)
        assert _upload(app, world, csr) == {"csr.weak_signature"}, digest
        assert _api(app, courier, csr) == {"csr.weak_signature"}, digest
        client = app.test_client()
        login(client, USER)
        page = post(client, "/request/csr", {"csr": csr}).get_data(as_text=True)
        assert f"signed with {word}" in page
    assert count(app, Order) == 0
