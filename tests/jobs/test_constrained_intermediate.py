"""A name-constrained intermediate: its certificate carries critical nameConstraints
(permitted DNS subtree, every IP excluded) and an EKU; a leaf inside is issued and verifies
with openssl; one outside — by name, IP address or EKU — is refused at intake with codes in
every channel, and no order is written."""
from __future__ import annotations

import ipaddress
import uuid

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateAuthority, Order, User
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key
from app.services import pki
from app.services.errors import ValidationFailed
from app.services.intake import assess, request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.api.conftest import API, bearer, make_courier, token_for
from tests.builders import add_domain, count
from tests.conftest import make_user
from tests.pki.tooling import lint_pkix_cert, openssl, write_pem

OPTIONS = {"digest": "sha384", "validity_days": "90", "key_usage": ["digitalSignature"]}


def _constrained(app, jobs) -> tuple[str, str]:
    with app.app_context():
        root = pki.request_root(pki.CAParameters(common_name="NC Root", organization="NC",
                                                 country="DE"))
        root_id = root.id
    jobs()
    with app.app_context():
        inter = pki.request_intermediate(pki.CAParameters(
            common_name="NC Issuing", organization="NC", country="DE",
            permitted_dns=("inside.example",)), root_id)
        inter_id = str(inter.id)
    jobs()
    return str(root_id), inter_id


def test_a_leaf_inside_is_issued_and_one_outside_is_refused(app, jobs, tmp_path) -> None:
    add_domain(app, "inside.example")
    add_domain(app, "outside.example")
    add_domain(app, "10.0.0.0/8")
    make_user(app)
    root_id, issuer = _constrained(app, jobs)
    with app.app_context():
        ca = db.session.get(CertificateAuthority, uuid.UUID(issuer))
        assert ca.status == "active", ca.error
        cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
        assert constraints.critical
        assert constraints.value.permitted_subtrees == [x509.DNSName("inside.example")]
        assert set(constraints.value.excluded_subtrees) == {
            x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
            x509.IPAddress(ipaddress.ip_network("::/0"))}
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) \
            == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        assert lint_pkix_cert(cert) == []
        root_pem = db.session.get(CertificateAuthority, uuid.UUID(root_id)).certificate_pem
        user = db.session.scalar(select(User))
        inside, problems = request_from_values({
            "common_name": "www.inside.example", "sans": ["api.inside.example"],
            "algorithm": "ec-256", "extended_key_usage": ["serverAuth"],
            "issuer_id": issuer, **OPTIONS})
        assert problems == []
        order, _ = submit_order(inside, requester_for_user(user), pathway="wizard",
                                request_key="nc-in")
        order_id = order.id

        refusals = {
            "name": ({"common_name": "www.outside.example"},
                     {"name.outside_issuer_constraints"}),
            "san": ({"common_name": "www.inside.example", "sans": ["www.outside.example"]},
                    {"name.outside_issuer_constraints"}),
            "ip": ({"common_name": "www.inside.example", "sans": ["10.1.2.3"]},
                   {"name.outside_issuer_constraints"}),
            "eku": ({"common_name": "www.inside.example",
                     "extended_key_usage": ["codeSigning"]},
                    {"extended_key_usage.outside_issuer"}),
        }
        for case, (values, codes) in refusals.items():
            request, _ = request_from_values({
                "algorithm": "ec-256", "extended_key_usage": ["serverAuth"],
                "issuer_id": issuer, **OPTIONS, **values})
            found = {v.code for v in assess(request, requester_for_user(user)).hard}
            assert found == codes, (case, found)
    jobs()
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "complete", order.error
        row = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
        leaf = x509.load_pem_x509_certificate(row.certificate_pem.encode())
    (tmp_path / "root.pem").write_text(root_pem)
    result = openssl("verify", "-x509_strict", "-purpose", "sslserver",
                     "-CAfile", str(tmp_path / "root.pem"),
                     "-untrusted", str(write_pem(tmp_path / "inter.pem", cert)),
                     str(write_pem(tmp_path / "leaf.pem", leaf)))
    assert result.returncode == 0, result.stderr
    assert count(app, Order) == 1  # the refused requests wrote no order


def test_outside_names_are_refused_through_the_csr_channels(app, jobs) -> None:
    add_domain(app, "inside.example")
    add_domain(app, "outside.example")
    make_user(app, "nc@example.com", role="user", domains=("inside.example",
                                                           "outside.example"))
    _, issuer = _constrained(app, jobs)
    courier = make_courier(app, "nc-courier", domains=("inside.example", "outside.example"))
    client = app.test_client()
    csr = build_csr(generate_private_key("ec-256"), "www.outside.example",
                    ("www.outside.example",)).public_bytes(Encoding.PEM).decode()
    response = client.post(f"{API}/certificates", headers=bearer(token_for(client, courier)),
                           json={"csr": csr, **OPTIONS, "validity_days": 90,
                                 "extended_key_usage": ["serverAuth"], "issuer_id": issuer})
    assert response.status_code == 422, response.get_json()
    assert {d["code"] for d in response.get_json()["error"]["details"]} == {
        "name.outside_issuer_constraints"}
    assert count(app, Order) == 0


def test_constraints_only_permit_registered_domains(app, jobs) -> None:
    add_domain(app, "inside.example")
    with app.app_context():
        root = pki.request_root(pki.CAParameters(common_name="NC Root 2", organization="NC",
                                                 country="DE"))
        root_id = root.id
    jobs()
    with app.app_context():
        try:
            pki.request_intermediate(pki.CAParameters(
                common_name="NC Bad", organization="NC", country="DE",
                permitted_dns=("elsewhere.example",)), root_id)
        except ValidationFailed as exc:
            assert exc.code == "ca.name_constraints"
        else:
            raise AssertionError("an unregistered domain was accepted as a constraint")
        assert db.session.scalar(select(CertificateAuthority.id).where(
            CertificateAuthority.common_name == "NC Bad")) is None
