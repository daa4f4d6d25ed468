"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from app.models.audit import AuditEvent
from app.models.domains import Domain, user_domains
from app.models.pki import CertificateAuthority, KeyExport
from app.models.users import User

__all__ = ["AuditEvent", "CertificateAuthority", "Domain", "KeyExport", "User", "user_domains"]
