"""Request a replacement: a certificate in the inventory (a discovered one, typically)
opens the wizard prefilled with its names and subject, so it can be re-issued here and
then managed like any other."""
from __future__ import annotations

from app.extensions import db
from app.models import Certificate, User, WizardDraft
from app.pki.discovered import facts
from app.pki.encoding import load_certificate_pem
from app.services import audit, wizard


def replacement_values(cert: Certificate) -> dict[str, object]:
    """The wizard values the certificate's names and subject give."""
    about = facts(load_certificate_pem(cert.certificate_pem.encode()))
    names = [n for n in about.sans if n != about.common_name]
    values: dict[str, object] = {"common_name": about.common_name, "sans": names}
    values.update({k: v for k, v in about.subject.items() if v})
    return values


def start_replacement(cert: Certificate, user: User) -> WizardDraft:
    draft = wizard.draft_from_values(user, replacement_values(cert))
    audit.record("certificate.replacement_started", resource_type="certificate",
                 resource_id=cert.id, actor=user,
                 details={"draft": str(draft.id), "common_name": cert.common_name})
    db.session.commit()
    return draft
