"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from app.models.alerts import CertificateAlert
from app.models.audit import AuditEvent
from app.models.certificates import Certificate, CertificateExport
from app.models.couriers import ApiIdempotencyKey, Courier, courier_domains
from app.models.domains import Domain, user_domains
from app.models.orders import Order, OrderEvent
from app.models.pki import CertificateAuthority, KeyExport
from app.models.policies import PolicyRecord
from app.models.providers import Provider, ProviderChallenge, WorkerKey
from app.models.revocation import Crl, OcspResponse
from app.models.sessions import UserSession
from app.models.tasks import TaskRun
from app.models.users import User
from app.models.wizard import WizardDraft

__all__ = [
           "ApiIdempotencyKey",
           "AuditEvent",
           "Certificate",
           "CertificateAlert",
           "CertificateAuthority",
           "CertificateExport",
           "Courier",
           "Crl",
           "Domain",
           "KeyExport",
           "OcspResponse",
           "Order",
           "OrderEvent",
           "PolicyRecord",
           "Provider",
           "ProviderChallenge",
           "TaskRun",
           "User",
           "UserSession",
           "WizardDraft",
           "WorkerKey",
           "courier_domains",
           "user_domains",
]
