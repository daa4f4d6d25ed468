"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from app.models.acme import AcmeAccount, AcmeAuthorization, AcmeBinding, AcmeOrder, AcmeServer
from app.models.alerts import CertificateAlert
from app.models.audit import AuditEvent
from app.models.certificates import Certificate, CertificateExport
from app.models.couriers import ApiIdempotencyKey, Courier, courier_domains
from app.models.discovery import (
    CertificateLocation,
    DiscoveryScan,
    ScanResult,
    ScanTarget,
)
from app.models.domains import Domain, user_domains
from app.models.notifications import EmailMessage, Webhook, WebhookAttempt, WebhookDelivery
from app.models.orders import Order, OrderEvent
from app.models.pki import CertificateAuthority, KeyExport
from app.models.policies import PolicyRecord
from app.models.providers import Provider, ProviderChallenge, WorkerKey
from app.models.revocation import Crl, OcspResponse
from app.models.sessions import UserSession
from app.models.targets import (
    Bridge,
    CertificateProfile,
    Deployment,
    DeploymentStep,
    TargetSystem,
)
from app.models.tasks import TaskRun
from app.models.users import User
from app.models.wizard import WizardDraft

__all__ = [
    "AcmeAccount",
    "AcmeAuthorization",
    "AcmeBinding",
    "AcmeOrder",
    "AcmeServer",
    "ApiIdempotencyKey",
    "AuditEvent",
    "Bridge",
    "Certificate",
    "CertificateAlert",
    "CertificateAuthority",
    "CertificateExport",
    "CertificateLocation",
    "CertificateProfile",
    "Courier",
    "Crl",
    "Deployment",
    "DeploymentStep",
    "DiscoveryScan",
    "Domain",
    "EmailMessage",
    "KeyExport",
    "OcspResponse",
    "Order",
    "OrderEvent",
    "PolicyRecord",
    "Provider",
    "ProviderChallenge",
    "ScanResult",
    "ScanTarget",
    "TargetSystem",
    "TaskRun",
    "User",
    "UserSession",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WizardDraft",
    "WorkerKey",
    "courier_domains",
    "user_domains",
]
