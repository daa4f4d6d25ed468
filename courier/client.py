"""The courier API client: authenticate, submit, poll, and write the files."""
from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwcrypto import jwe, jwk

from courier.config import CourierConfig

USER_AGENT = "platform-courier/1.0"
RETRY_STATUSES = {429, 502, 503, 504}


class CourierError(Exception):
    """Anything that stops the courier; the message is printed for the operator."""


def _api_error(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        details = "; ".join(f"{d.get('field') or ''} {d.get('code')}: {d.get('message')}"
                            for d in error.get("details") or [])
        return f"{error['code']}: {error['message']}" + (f" ({details})" if details else "")
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


class CourierClient:
    def __init__(self, config: CourierConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.http = session or requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        # TLS verification always on: a private CA is trusted through ca_bundle.
        self.verify: str | bool = config.ca_bundle or True
        self.token: str | None = None

    # ---- HTTP --------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.config.base_url}/api/v1/courier/{path}"
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(5):
            try:
                response = self.http.request(method, url, headers=headers, timeout=30,
                                             verify=self.verify, **kwargs)
            except requests.RequestException as exc:
                if attempt == 4:
                    raise CourierError(f"Cannot reach {self.config.base_url}: {exc}") from exc
                time.sleep(2 ** attempt)
                continue
            if response.status_code in RETRY_STATUSES and attempt < 4:
                time.sleep(min(float(response.headers.get("Retry-After", 2 ** attempt)), 60))
                continue
            return response
        raise CourierError("Gave up after repeated retries.")

    def authenticate(self) -> None:
        response = self._call("POST", "auth", json={
            "uuid": self.config.uuid, "client_id": self.config.client_id,
            "client_secret": self.config.client_secret})
        if response.status_code != 200:
            raise CourierError(f"Authentication failed: {_api_error(response)}")
        self.token = response.json()["token"]

    def submit(self, body: dict[str, Any], idempotency_key: str) -> str:
        response = self._call("POST", "certificates", json=body,
                              headers={"Idempotency-Key": idempotency_key})
        if response.status_code != 202:
            raise CourierError(f"The request was refused: {_api_error(response)}")
        data = response.json()
        for warning in data.get("warnings") or []:
            print(f"warning: {warning.get('message')}")
        return str(data["order_id"])

    def wait_for(self, order_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.config.timeout
        while True:
            response = self._call("GET", f"orders/{order_id}")
            if response.status_code != 200:
                raise CourierError(f"Cannot read order {order_id}: {_api_error(response)}")
            order = response.json()
            if order["status"] == "complete":
                return order
            if order["status"] == "failed":
                raise CourierError(f"Order {order_id} failed: {order.get('error')}")
            if time.monotonic() > deadline:
                raise CourierError(f"Order {order_id} is still {order['status']} after "
                                   f"{self.config.timeout:.0f}s.")
            time.sleep(self.config.poll_interval)

    # ---- the whole run -------------------------------------------------------------------
    def run(self) -> str:
        """Get the certificate and write the files; returns the order id."""
        self.authenticate()
        body: dict[str, Any] = {"common_name": self.config.common_name,
                                "sans": list(self.config.sans), **self.config.options}
        if self.config.subject:
            body["subject"] = self.config.subject
        key_pem = None
        if self.config.generate_keys_locally:
            key = _generate_key(self.config.key_algorithm)
            key_pem = key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
            body.pop("algorithm", None)
            body["csr"] = _csr(key, self.config.common_name, self.config.sans).decode()
        order_id = self.submit(body, idempotency_key=str(uuid.uuid4()))
        order = self.wait_for(order_id)
        if key_pem is None:
            key_pem = self._open_jwe(order.get("private_key_jwe"))
        self._write(order, key_pem)
        return order_id

    def _open_jwe(self, token: str | None) -> bytes:
        if not token or self.config.encryption_private_key is None:
            raise CourierError("The platform returned no encrypted key.")
        key = jwk.JWK.from_pem(self.config.encryption_private_key.read_bytes())
        message = jwe.JWE()
        message.deserialize(token, key=key)
        return bytes(message.payload)

    def _write(self, order: dict[str, Any], key_pem: bytes) -> None:
        outputs = self.config.outputs
        cert, chain = order["certificate_pem"], order.get("chain_pem") or ""
        _write_file(outputs.certificate, cert.encode(), 0o644)
        if outputs.chain:
            _write_file(outputs.chain, chain.encode(), 0o644)
        if outputs.fullchain:
            _write_file(outputs.fullchain, (cert + chain).encode(), 0o644)
        assert outputs.key is not None
        _write_file(outputs.key, key_pem, 0o600)


def _generate_key(algorithm: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    curves = {"ec-256": ec.SECP256R1(), "ec-384": ec.SECP384R1(), "ec-521": ec.SECP521R1()}
    if algorithm in curves:
        return ec.generate_private_key(curves[algorithm])
    if algorithm in ("rsa-2048", "rsa-3072", "rsa-4096"):
        return rsa.generate_private_key(65537, int(algorithm.split("-")[1]))
    raise CourierError(f"Unknown key algorithm '{algorithm}'.")


def _csr(key: Any, common_name: str, sans: tuple[str, ...]) -> bytes:
    import ipaddress

    names: list[x509.GeneralName] = []
    for name in (common_name, *sans):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ).add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Atomic write with the final mode set before any byte lands (keys are never
    world-readable, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
