"""Admin → Notifications (super_admin): signed webhooks and their delivery log."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints.admin_notifications.forms import WebhookForm
from app.blueprints.forms import ActionForm, attach_error
from app.domain.roles import Permission
from app.models import Webhook
from app.services import webhooks
from app.services.errors import NotFound, ServiceError
from app.web.access import require
from app.web.htmx import no_store, render_page

bp = Blueprint("admin_notifications", __name__, url_prefix="/admin/notifications")


def _index(form: WebhookForm, status: int = 200) -> Response:
    return no_store(render_page("admin_notifications/index.html", status=status, form=form,
                                hooks=webhooks.list_webhooks(), events=webhooks.EVENTS,
                                action_form=ActionForm()))


@bp.get("/")
@require(Permission.MANAGE_USERS)
def index() -> Response:
    return _index(WebhookForm(formdata=None))


@bp.post("/")
@require(Permission.MANAGE_USERS)
def create() -> Response:
    form = WebhookForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    try:
        hook = webhooks.create_webhook(form.name.data, form.url.data, form.events.data,
                                       form.secret.data or "", actor=current_user)
    except ServiceError as exc:
        attach_error(form, exc, "url")
        return _index(form, exc.status if exc.status != 400 else 422)
    flash(f"Webhook {hook.name} added.", "success")
    return redirect(url_for("admin_notifications.detail", webhook_id=hook.id), code=303)


def _detail(hook: Webhook, form: WebhookForm, status: int = 200) -> Response:
    return no_store(render_page("admin_notifications/detail.html", status=status, hook=hook,
                                form=form, deliveries=webhooks.recent_deliveries(hook),
                                events=webhooks.EVENTS,
                                action_form=ActionForm()))


@bp.get("/<webhook_id>")
@require(Permission.MANAGE_USERS)
def detail(webhook_id: str) -> Response:
    hook = webhooks.get_webhook(webhook_id)
    form = WebhookForm(formdata=None, obj=hook)
    return _detail(hook, form)


@bp.post("/<webhook_id>")
@require(Permission.MANAGE_USERS)
def update(webhook_id: str) -> Response:
    hook = webhooks.get_webhook(webhook_id)
    form = WebhookForm()
    if not form.validate_on_submit():
        return _detail(hook, form, 422)
    try:
        webhooks.update_webhook(hook, name=form.name.data, url=form.url.data,
                                events=form.events.data, secret=form.secret.data or None,
                                active=bool(form.active.data), actor=current_user)
    except NotFound:
        raise
    except ServiceError as exc:
        attach_error(form, exc, "url")
        return _detail(hook, form, exc.status if exc.status != 400 else 422)
    flash("Saved.", "success")
    return redirect(url_for("admin_notifications.detail", webhook_id=hook.id), code=303)


@bp.post("/<webhook_id>/delete")
@require(Permission.MANAGE_USERS)
def delete(webhook_id: str) -> Response:
    hook = webhooks.get_webhook(webhook_id)
    if ActionForm().validate_on_submit():
        webhooks.delete_webhook(hook, actor=current_user)
        flash(f"Webhook {hook.name} deleted.", "success")
    return redirect(url_for("admin_notifications.index"), code=303)
