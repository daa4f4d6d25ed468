"""A CSR without SANs sent with ``sans`` in the body: the message says so, never an empty
"differ from the CSR's ()"."""
from __future__ import annotations

from tests.api.conftest import bearer, make_csr


def test_courier_csr_without_sans_never_says_empty_parentheses(client, token) -> None:
    response = client.post("/api/v1/courier/certificates", headers=bearer(token), json={
        "csr": make_csr(sans=()), "sans": ["api.example.com"]})
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    messages = [d["message"] for d in details if d["code"] == "csr.names_mismatch"]
    assert messages == ["The CSR has no subject alternative names besides its common name; "
                        "omit 'sans' or send an empty list."]
    assert "()" not in response.get_data(as_text=True)


def test_csr_with_sans_names_them_in_the_message(client, token) -> None:
    response = client.post("/api/v1/courier/certificates", headers=bearer(token), json={
        "csr": make_csr(sans=("www.example.com", "api.example.com")), "sans": []})
    details = response.get_json()["error"]["details"]
    assert [d["message"] for d in details if d["code"] == "csr.names_mismatch"] == [
        "The subject alternative names differ from the CSR's (api.example.com); omit them "
        "or send the CSR's."]
