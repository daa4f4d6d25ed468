"""ACME (RFC 8555) with the ``acme`` library's ``ClientV2``, one step per job.

``submit`` only creates the ACME order, so its URL (``external_id``) is stored at once and
the CA is never ordered from twice. Each ``poll`` then reads the order and moves it one
step: answer the challenges of pending authorizations (http-01: the platform serves the
key authorization from its database; dns-01: a TSIG-signed TXT record, answered once the
DNS server serves it), finalize a ready order with the CSR, download a valid order's
certificate. Every wait is a PENDING answer with the CA's Retry-After (or a short default),
so the platform schedules the next poll instead of sleeping. Authorizations that are
already valid (reused by the CA) are skipped.

The account is registered once per provider (with EAB when configured); its key is
stored by the host (wrapped under the key-encryption key).
"""
from __future__ import annotations

import secrets as token_source
from collections.abc import Mapping
from typing import Any

import josepy as jose
from acme import challenges, messages
from acme import client as acme_client
from acme import errors as acme_errors
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.providers import ACME
from app.domain.request import CertificateRequest
from app.providers.acme_net import (
    GuardedClientNetwork,
    acme_errors_translated,
    call,
    describe,
    retry_after_seconds,
)
from app.providers.base import (
    REVOCATION_REASONS,
    CertificateProvider,
    ConnectionReport,
    Progress,
    ProviderAccount,
    ProviderError,
    ProviderHost,
    ProviderRejectedError,
    ProviderRow,
    StepRecorder,
    SubmitResult,
    SubmitStatus,
)
from app.providers.dns01 import DnsUpdater

WAIT_FOR_VALIDATION = 2     # seconds between polls when the CA gave no Retry-After
WAIT_FOR_DNS = 3
WAIT_FOR_ISSUANCE = 2


class AcmeProvider(CertificateProvider):
    type = ACME
    display_name = "ACME CA"

    def __init__(self, row: ProviderRow, secrets: Mapping[str, str],
                 host: ProviderHost) -> None:
        super().__init__(row, secrets, host)
        self.config = dict(row.config)
        self.policy = host.outbound.with_ca_bundle(self.config.get("ca_bundle"))
        self.challenge = self.config.get("challenge") or "http-01"
        self.net: GuardedClientNetwork | None = None
        self._client: acme_client.ClientV2 | None = None

    # ---- plumbing -------------------------------------------------------------------------

    def _dns(self) -> DnsUpdater:
        return DnsUpdater(server=self.config["dns_server"], zone=self.config["dns_zone"],
                          tsig_name=self.config["tsig_name"],
                          tsig_algorithm=self.config.get("tsig_algorithm") or "hmac-sha256",
                          tsig_secret=self.secrets.get("tsig_secret", ""), policy=self.policy)

    def _directory(self, net: GuardedClientNetwork) -> messages.Directory:
        return call(net, "Reading the ACME directory", lambda: acme_client.ClientV2.
                    get_directory(self.config["directory_url"], net))

    def client(self) -> acme_client.ClientV2:
        """A client signed in with the provider's account (registered on first use)."""
        if self._client is not None:
            return self._client
        account = self.host.load_account()
        if account is None:
            account = self._register()
        key = jose.JWKEC(key=serialization.load_pem_private_key(account.key_pem, None))
        self.net = GuardedClientNetwork(key, self.policy)
        directory = self._directory(self.net)
        self.net.account = messages.RegistrationResource(body=messages.Registration(),
                                                         uri=account.url)
        self._client = acme_client.ClientV2(directory, self.net)
        return self._client

    def _register(self) -> ProviderAccount:
        private = ec.generate_private_key(ec.SECP256R1())
        key = jose.JWKEC(key=private)
        net = GuardedClientNetwork(key, self.policy)
        directory = self._directory(net)
        client = acme_client.ClientV2(directory, net)
        eab = None
        if self.config.get("eab_kid"):
            with acme_errors_translated(net, "External account binding"):
                eab = messages.ExternalAccountBinding.from_data(
                    account_public_key=key.public_key(), kid=self.config["eab_kid"],
                    hmac_key=self.secrets.get("eab_hmac_key", ""), directory=directory)
        elif client.external_account_required():
            raise ProviderRejectedError("The ACME server requires external account "
                                        "binding: set the EAB key id and HMAC key.",
                                        code="acme.eab_required")
        email = self.config.get("account_email")
        registration = messages.NewRegistration.from_data(
            email=email, terms_of_service_agreed=True, external_account_binding=eab)
        with acme_errors_translated(net, "Registering the ACME account"):
            try:
                url = client.new_account(registration).uri
            except acme_errors.ConflictError as exc:   # this key is registered already
                url = exc.location
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return self.host.save_account(ProviderAccount(key_pem=pem, url=url))

    def _get(self, url: str, what: str) -> Any:
        client = self.client()
        return call(self.net, what, lambda: client._post_as_get(url))

    # ---- the contract ------------------------------------------------------------------------

    def submit(self, request: CertificateRequest,
               csr: x509.CertificateSigningRequest) -> SubmitResult:
        client = self.client()
        identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n)
                       for n in request.all_dns_names()]
        identifiers += [messages.Identifier(typ=messages.IDENTIFIER_IP, value=ip)
                        for ip in request.ip_addresses]
        if not identifiers:
            raise ProviderRejectedError("The request has no name to order.")
        response = call(self.net, "Creating the ACME order", lambda: client._post(
            client.directory["newOrder"], messages.NewOrder(identifiers=identifiers)))
        location = response.headers.get("Location")
        if not location:
            raise ProviderRejectedError("The ACME server did not return the order's URL.")
        return SubmitResult(SubmitStatus.PENDING, external_id=location, retry_after=0,
                            note=f"ACME order created for {len(identifiers)} "
                                 f"name{'s' if len(identifiers) > 1 else ''}.")

    def poll(self, external_id: str, request: CertificateRequest,
             csr: x509.CertificateSigningRequest) -> SubmitResult:
        response = self._get(external_id, "Reading the ACME order")
        order = call(self.net, "Reading the ACME order",
                     lambda: messages.Order.from_json(response.json()))
        status = order.status
        if status == messages.STATUS_INVALID:
            reason = self._invalid_reason(order)
            self._clean_up(order)
            raise ProviderRejectedError(reason)
        if status == messages.STATUS_PENDING:
            return self._work_on_authorizations(external_id, order)
        if status == messages.STATUS_READY:
            return self._finalize(external_id, order, csr)
        if status == messages.STATUS_VALID and order.certificate:
            return self._download(order)
        return SubmitResult(SubmitStatus.PENDING, external_id=external_id,
                            retry_after=retry_after_seconds(response, WAIT_FOR_ISSUANCE),
                            note="The CA is issuing the certificate.")

    def _work_on_authorizations(self, external_id: str,
                                order: messages.Order) -> SubmitResult:
        client = self.client()
        waiting: list[str] = []
        for url in order.authorizations:
            response = self._get(url, "Reading an authorization")
            authz = call(self.net, "Reading an authorization",
                         lambda response=response: messages.Authorization.from_json(
                             response.json()))
            name = authz.identifier.value
            if authz.status == messages.STATUS_VALID:
                continue
            if authz.status != messages.STATUS_PENDING:
                self._clean_up(order)
                raise ProviderRejectedError(self._authz_failure(authz))
            challb = self._challenge(authz)
            if challb.status == messages.STATUS_PENDING:
                if not self._prepare(challb, name):
                    waiting.append(f"waiting for the DNS record of {name}")
                    continue
                call(self.net, f"Answering the challenge for {name}",
                     lambda challb=challb: client.answer_challenge(
                         challb, challb.chall.response(client.net.key)))
            waiting.append(f"the CA is validating {name}")
        delay = WAIT_FOR_DNS if any(w.startswith("waiting") for w in waiting) \
            else WAIT_FOR_VALIDATION
        return SubmitResult(SubmitStatus.PENDING, external_id=external_id,
                            retry_after=delay,
                            note="Proving control: " + "; ".join(waiting) + ".")

    def _challenge(self, authz: messages.Authorization) -> messages.ChallengeBody:
        kind = challenges.DNS01 if self.challenge == "dns-01" else challenges.HTTP01
        for challb in authz.challenges:
            if isinstance(challb.chall, kind):
                return challb
        raise ProviderRejectedError(
            f"The CA offers no {self.challenge} challenge for {authz.identifier.value} "
            f"(it offers {', '.join(c.chall.typ for c in authz.challenges) or 'none'}).",
            code="acme.no_challenge")

    def _prepare(self, challb: messages.ChallengeBody, name: str) -> bool:
        """Publish what the challenge needs; True once the CA may look."""
        key = self.client().net.key
        if isinstance(challb.chall, challenges.HTTP01):
            self.host.publish_http01(challb.chall.encode("token"),
                                     challb.chall.key_authorization(key), name)
            return True
        validation = challb.chall.validation(key)
        dns = self._dns()
        dns.publish(name, validation)
        return dns.served(name, validation)

    def _finalize(self, external_id: str, order: messages.Order,
                  csr: x509.CertificateSigningRequest) -> SubmitResult:
        client = self.client()
        response = call(self.net, "Finalizing the ACME order", lambda: client._post(
            order.finalize, messages.CertificateRequest(csr=csr)))
        finalized = call(self.net, "Finalizing the ACME order",
                         lambda: messages.Order.from_json(response.json()))
        if finalized.status == messages.STATUS_VALID and finalized.certificate:
            return self._download(finalized)
        if finalized.status == messages.STATUS_INVALID:
            self._clean_up(order)
            raise ProviderRejectedError(self._failure(finalized))
        return SubmitResult(SubmitStatus.PENDING, external_id=external_id,
                            retry_after=retry_after_seconds(response, WAIT_FOR_ISSUANCE),
                            note="Order finalized; the CA is issuing the certificate.")

    def _download(self, order: messages.Order) -> SubmitResult:
        assert order.certificate
        response = self._get(order.certificate, "Downloading the certificate")
        try:
            certificates = x509.load_pem_x509_certificates(response.content)
        except ValueError as exc:
            raise ProviderRejectedError("The CA's certificate download is not PEM "
                                        "certificates.") from exc
        self._clean_up(order)
        leaf, *rest = certificates
        chain = tuple(c for c in rest if c.issuer != c.subject)   # a root stays out
        return SubmitResult(SubmitStatus.ISSUED, certificate=leaf, chain=chain)

    def _clean_up(self, order: messages.Order) -> None:
        """Withdraw what was published for the order's challenges. Best effort: a record
        left behind is harmless and must not fail an issued order."""
        for url in order.authorizations or ():
            try:
                response = self._get(url, "Reading an authorization")
                authz = messages.Authorization.from_json(response.json())
                challb = self._challenge(authz)
                if isinstance(challb.chall, challenges.HTTP01):
                    self.host.withdraw_http01(challb.chall.encode("token"))
                elif self.challenge == "dns-01":
                    self._dns().remove(authz.identifier.value,
                                       challb.chall.validation(self.client().net.key))
            except (ProviderError, ValueError, jose.DeserializationError):
                continue

    def _invalid_reason(self, order: messages.Order) -> str:
        """The failed authorization's challenge error names the name; else the order's."""
        for url in order.authorizations or ():
            try:
                response = self._get(url, "Reading an authorization")
                authz = messages.Authorization.from_json(response.json())
            except (ProviderError, ValueError, jose.DeserializationError):
                continue
            if authz.status == messages.STATUS_INVALID:
                return self._authz_failure(authz)
        return self._failure(order)

    @staticmethod
    def _failure(order: messages.Order) -> str:
        if order.error is not None:
            return f"The CA refused the order: {describe(order.error)}"
        return "The CA marked the order invalid."

    @staticmethod
    def _authz_failure(authz: messages.Authorization) -> str:
        name = authz.identifier.value
        for challb in authz.challenges:
            if challb.error is not None:
                return f"The CA could not validate {name}: {describe(challb.error)}"
        return f"The CA's authorization for {name} is {authz.status}."

    def revoke(self, certificate: x509.Certificate, reason: str) -> None:
        client = self.client()
        code = REVOCATION_REASONS.get(reason, 0)
        call(self.net, "Revoking the certificate", lambda: client.revoke(certificate, code))

    def test_connection(self, progress: Progress | None = None) -> ConnectionReport:
        steps = StepRecorder(progress)
        try:
            net = GuardedClientNetwork(None, self.policy)
            directory = self._directory(net)
            steps.step("directory", True, f"Read the directory at "
                       f"{self.config['directory_url']}.")
            if getattr(directory.meta, "external_account_required", False) \
                    and not self.config.get("eab_kid"):
                steps.step("eab", False, "The CA requires external account binding; set "
                           "the EAB key id and HMAC key.")
                return steps.report()
            had_account = self.host.load_account() is not None
            client = self.client()
            call(self.net, "Checking the ACME account",
                 lambda: client._post_as_get(self.net.account.uri))  # type: ignore[union-attr]
            steps.step("account", True, "The ACME account is "
                       + ("registered." if had_account else "now registered."))
            if self.challenge == "dns-01":
                steps.step("dns", True, self._test_dns())
            else:
                steps.step("http-01", True, "http-01 challenges are answered by the platform "
                           "at /.well-known/acme-challenge/ (port 80 of every name must "
                           "reach it).")
        except ProviderError as exc:
            steps.step("error", False, str(exc))
        return steps.report()

    def _test_dns(self) -> str:
        dns = self._dns()
        message = dns.check()
        zone = self.config["dns_zone"]
        value = "platform-connection-test-" + token_source.token_urlsafe(12)
        dns.publish(zone, value)
        try:
            if not dns.served(zone, value):
                raise ProviderRejectedError("The DNS server accepted the update but does not "
                                            "serve the record.")
        finally:
            dns.remove(zone, value)
        return message + " A TSIG-signed test record was added, served and removed."

