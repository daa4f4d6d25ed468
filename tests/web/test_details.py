"""Human words on the order pages, the favicon, and destructive buttons that look alike."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from app.web.templating import compact_time
from tests.builders import add_domain

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def _order(app, pathway: str) -> str:
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
        request, _ = request_from_values({
            "common_name": "www.example.com", "algorithm": "ec-256", "digest": "sha256",
            "validity_days": "30", "key_usage": ["digitalSignature"],
            "extended_key_usage": ["serverAuth", "clientAuth"]})
        order, _ = submit_order(request, requester_for_user(admin), pathway=pathway,
                                request_key=f"t:{uuid.uuid4()}")
        return str(order.id)


def test_order_page_names_the_requester_and_pathway_in_words(app, admin_client) -> None:
    add_domain(app, "example.com")
    order_id = _order(app, "csr_upload")
    page = admin_client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert '<span data-requested-by="user">admin@example.com · CSR upload</span>' in page
    assert "(user" not in page and "via csr_upload" not in page   # a super admin is no "user"
    assert "TLS Web Server Authentication <code>serverAuth</code>" in page
    assert "TLS Web Client Authentication <code>clientAuth</code>" in page
    assert "Digital Signature <code>digitalSignature</code>" in page
    assert "ECDSA P-256 <code>ec-256</code>" in page and "SHA-256, 30 days" in page
    listing = admin_client.get("/orders/").get_data(as_text=True)
    row = listing.split(f'data-order="{order_id}"')[1].split("</tr>")[0]
    assert "Local PKI" in row and "CSR upload" in row and "csr_upload" not in row
    # Filters offer words, keep identifiers as values.
    assert '<option value="csr_upload" >CSR upload</option>' in listing
    assert '<option value="local_pki" >Local PKI</option>' in listing
    assert '<option value="courier" >Couriers</option>' in listing
    filtered = admin_client.get("/orders/?pathway=csr_upload").get_data(as_text=True)
    assert '<option value="csr_upload" selected>CSR upload</option>' in filtered


def test_favicon(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    legacy = client.get("/favicon.ico")
    assert legacy.status_code == 301 and legacy.location.endswith("/static/favicon.svg")


def test_destructive_buttons_look_alike_everywhere() -> None:
    """Every button that deletes, rotates a secret or resets a password is a ``danger``
    button, and no other style is used for them."""
    destructive = re.compile(r"<button[^>]*>\s*(Delete|Rotate secret|Reset password)[^<]*<")
    found = []
    for path in TEMPLATES.rglob("*.html"):
        for match in destructive.finditer(path.read_text()):
            found.append((path.name, match.group(1)))
            assert 'class="danger' in match.group(0), (path, match.group(0))
    assert len(found) >= 5, found


def test_compact_time() -> None:
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert compact_time(datetime(2026, 12, 1, 9, 5, 7, tzinfo=UTC), now) == "09:05:07"
    assert compact_time(datetime(2026, 3, 4, 9, 5, tzinfo=UTC), now) == "Mar 04 09:05"
    assert compact_time(datetime(2025, 3, 4, 9, 5, tzinfo=UTC), now) == "2025-03-04"
    assert compact_time(None, now) == "—"
