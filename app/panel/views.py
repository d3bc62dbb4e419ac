"""Settings -> API Keys: the table, live search, inline create and edit, row actions.

Views are thin: parse, call ``keys.service``, render one fragment template. A request
from htmx gets the fragment; the same URL opened directly gets the full page.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.exceptions import NotFound as PageNotFound

from app.catalogue import MODULES
from app.docs import page as docs_page
from app.docs import spec
from app.docs.page import KEY_VARIABLE, SERVER_VARIABLE
from app.extensions import db
from app.keys import rolling, service
from app.keys.format import is_prefix
from app.keys.inputs import SCOPE_FIELD_GROUPS
from app.models.api_keys import ApiKey, KeyStatus
from app.models.users import User
from app.panel import access_preview, guards
from app.panel.forms import (
    SCOPE_ALL,
    SCOPE_CHOSEN,
    AccessPreviewForm,
    GrantAbilityForm,
    KeyCreateForm,
    KeyEditForm,
    RemoveUnusedForm,
    RollKeyForm,
    apply_service_errors,
    to_local_input,
)
from app.panel.guards import error_response
from app.panel.htmx import client_refresh, htmx, no_store, vary_on_htmx
from app.panel.key_page import load as load_key_page
from app.panel.listing import COLUMNS, ListParams, empty_page, list_keys, status_options
from app.usage import least_privilege
from app.validation.errors import Conflict, InvalidInput, NotFound, ServiceError

bp = guards.admin_blueprint("panel", __name__, url_prefix="/settings")
# Template globals: a row is rendered by several views (the table, a created key, an edit).
bp.add_app_template_global(COLUMNS, "key_columns")
bp.add_app_template_global(status_options, "key_status_options")
# The key's page names its hidden field groups by label (slug -> label).
bp.add_app_template_global(SCOPE_FIELD_GROUPS, "scope_field_groups")


@bp.context_processor
def _key_actions() -> dict[str, object]:
    # The buttons a key's row and page offer are the actions the key service allows it.
    return {"key_actions": service.allowed_actions, "key_over_lifetime": service.over_lifetime}


def _owners() -> list[User]:
    # A deactivated user owns no working key (SPEC §15), so is never offered as an owner.
    stmt = select(User).where(User.is_active).order_by(User.is_system, User.name, User.id)
    return list(db.session.scalars(stmt))


def _create_form() -> KeyCreateForm:
    form = KeyCreateForm()
    form.set_owner_choices(_owners())
    return form


def _render(template: str, status: int = 200, **context: object) -> Response:
    return make_response(render_template(template, modules=MODULES, **context), status)


def _preview(form: KeyCreateForm | KeyEditForm | AccessPreviewForm) -> access_preview.Preview:
    """The access preview of the abilities ticked in ``form`` within its data scope (unknown
    ones are the form's error)."""
    scope = form.valid_scope if isinstance(form, AccessPreviewForm) else form.scope()
    return access_preview.build(form.abilities.data or [], scope)


def _no_such_key(prefix: str) -> PageNotFound:
    # Echo the prefix only when it is shaped like one: never control characters or junk.
    if is_prefix(prefix):
        return PageNotFound(f"No API key with prefix {prefix}.")
    return PageNotFound("No API key with that prefix: a key prefix is sgk_ followed by 8 letters or digits.")


def _actor() -> str:
    """Who the audit log names for this request's change: the signed-in admin's email."""
    user = guards.signed_in_user()
    # require_admin ran first, so there is a user; the fallback only guards a race with sign-out.
    return user.email if user is not None else "unknown"


def _key_or_404(prefix: str) -> ApiKey:
    try:
        return service.get_key(prefix)
    except NotFound:
        raise _no_such_key(prefix) from None


def _refused(key: ApiKey, action: service.KeyAction, lead: str = "") -> Response | None:
    """A 409 saying why ``key`` does not allow ``action`` now, or None when it does."""
    reason = service.refusal(key, action)
    return error_response(f"{lead}{reason}.", 409) if reason is not None else None


def _on_key_page() -> bool:
    """True when the request comes from a key's page (its controls send ``on_page=1``), which
    has no table row to swap: a success reloads that page instead (``HX-Refresh``)."""
    return request.values.get("on_page") == "1"


@bp.get("/api-keys")
def api_keys() -> Response:
    """The API Keys page, or just its table when htmx asks (search, filter, sort, page)."""
    params = ListParams.from_args(request.args)
    errors = ListParams.argument_errors(request.args)
    # A refused query (a control character, a page not in digits) is a 422 that htmx swaps in.
    page, status = (empty_page(params), 422) if errors else (list_keys(params), 200)
    if htmx().wants_fragment:
        response = _render("panel/api_keys/_table.html", status, page=page, errors=errors)
        # Push the canonical URL (defaults and empty values left out), not the raw form values;
        # a refused query is not pushed at all.
        url = url_for("panel.api_keys", **params.query_args())
        response.headers["HX-Push-Url"] = "false" if errors else url
    else:
        response = _render("panel/api_keys/index.html", status, page=page, form=None, errors=errors)
    return vary_on_htmx(response)


@bp.get("/api-keys/new")
def new_key() -> Response:
    """The Create API Key form: a fragment for htmx, else the page with the form open."""
    form = _create_form()
    if htmx().wants_fragment:
        return vary_on_htmx(_render("panel/api_keys/_form.html", form=form, preview=_preview(form)))
    page = list_keys(ListParams.from_args(request.args))
    return vary_on_htmx(_render("panel/api_keys/index.html", page=page, form=form, preview=_preview(form)))


@bp.get("/api-keys/access-preview")
def access_preview_fragment() -> Response:
    """The endpoints the ticked abilities reach, with each list's records now (a form fragment)."""
    form = AccessPreviewForm(formdata=request.args)
    if not form.validate():
        # Only a hand-made request gets here (the form offers catalogue abilities only).
        return error_response(form.first_error(), 400)
    return _render("panel/api_keys/_access_preview.html", preview=_preview(form))


@bp.post("/api-keys")
def create_key() -> Response:
    """Create a key; show the full key once, and add its row to the table."""
    form = _create_form()
    if form.validate_on_submit():
        try:
            created = service.create_key(
                name=form.name.data,
                owner=int(form.owner.data),
                abilities=form.abilities.data,
                rate_limit=form.rate_limit.data,
                expires_at=form.chosen_expires_at,
                allowed_ips=form.allowed_ips.data,
                description=form.description.data,
                **form.scope_input(),
                created_by=guards.signed_in_user(),
                actor=_actor(),
            )
        except ServiceError as exc:
            apply_service_errors(form, exc.errors, exc.message)
        else:
            return no_store(_created_response(created))
    if htmx().request:
        return _render("panel/api_keys/_form.html", 422, form=form, preview=_preview(form))
    page = list_keys(ListParams())
    return _render("panel/api_keys/index.html", 422, page=page, form=form, preview=_preview(form))


def _created_response(
    created: service.CreatedKey, rolled: ApiKey | None = None, *, in_table: bool = True
) -> Response:
    # What the integrator runs next: the key in $STOCKGATE_API_KEY, then a call on the API's
    # address (PUBLIC_BASE_URL, else $STOCKGATE_URL as in the docs: never the request's Host).
    shown = {
        "created": created,
        "rolled": rolled,
        "key_variable": KEY_VARIABLE,
        "api_base": current_app.config.get("PUBLIC_BASE_URL") or SERVER_VARIABLE,
    }
    if htmx().request:
        # On the key's page there is no table: no rows to add or replace out of band.
        return _render("panel/api_keys/_created.html", oob=in_table, **shown)
    # Without JavaScript: the whole page, with the new key shown above the table.
    page = list_keys(ListParams())
    return _render("panel/api_keys/index.html", page=page, form=None, **shown)


@bp.get("/api-keys/closed")
def closed() -> Response:
    """Nothing: Cancel and Done swap it in place of the form, the new key or the new user they close."""
    return make_response("", 200)


@bp.get("/api-keys/<prefix>")
def key_page(prefix: str) -> Response:
    """One key's page: every field, its abilities, allowed IPs, roll, audit history, usage."""
    try:
        page = load_key_page(prefix)
    except NotFound:
        raise _no_such_key(prefix) from None
    return _render("panel/api_keys/page.html", page=page, key=page.key)


@bp.get("/api-keys/<prefix>/docs")
def key_docs(prefix: str) -> Response:
    """The API documentation cut to what this key may call, its prefix in every example."""
    key = _key_or_404(prefix)
    if key.status is KeyStatus.REVOKED:
        raise PageNotFound(f"API key {key.prefix} is revoked: it can call nothing, so it has no docs.")
    # Rendered per request, never stored in the public page's cache (app.docs.views.rendered).
    document = spec.document_for(current_app)
    doc = docs_page.build_for_key(document, key.prefix, key.abilities, key.hidden_fields or ())
    response = _render("docs/key.html", doc=doc, key=key)
    # It names a key and its abilities: only this admin's browser may show it, and not keep it.
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get("/api-keys/<prefix>/row")
def key_row(prefix: str) -> Response:
    """One table row (used to leave the inline editor)."""
    return _render("panel/api_keys/_row.html", key=_key_or_404(prefix))


@bp.get("/api-keys/<prefix>/edit")
def edit_key_form(prefix: str) -> Response:
    """The inline editor for one key, in place of its row."""
    key = _key_or_404(prefix)
    if (refused := _refused(key, service.KeyAction.EDIT, "Cannot edit: ")) is not None:
        return refused
    form = KeyEditForm(
        formdata=None,
        original_expires_at=key.expires_at,
        data={
            "name": key.name,
            "abilities": list(key.abilities),
            "rate_limit": key.rate_limit,
            "expires_at": to_local_input(key.expires_at),
            "allowed_ips": list(key.allowed_ips or []),
            "description": key.description or "",
            "warehouses_mode": SCOPE_CHOSEN if key.warehouses else SCOPE_ALL,
            "warehouses": list(key.warehouses),
            "marketplaces_mode": SCOPE_CHOSEN if key.marketplaces else SCOPE_ALL,
            "marketplaces": list(key.marketplaces),
            "hidden_fields": list(key.hidden_fields),
        },
    )
    return _render("panel/api_keys/_edit.html", key=key, form=form, preview=_preview(form))


@bp.post("/api-keys/<prefix>")
def edit_key(prefix: str) -> Response:
    """Save the inline editor: the row comes back, or the editor with its errors."""
    key = _key_or_404(prefix)
    if (refused := _refused(key, service.KeyAction.EDIT, "Cannot edit: ")) is not None:
        return refused
    form = KeyEditForm(original_expires_at=key.expires_at)
    if form.validate_on_submit():
        changes: dict[str, object] = {
            "name": form.name.data,
            "abilities": form.abilities.data,
            "rate_limit": form.rate_limit.data,
            "allowed_ips": form.allowed_ips.data,
            "description": form.description.data,
            **form.scope_input(),
        }
        if form.expiry_changed():
            changes["expires_at"] = form.chosen_expires_at
        try:
            key = service.edit_key(prefix, actor=_actor(), **changes)
        except Conflict as exc:
            return error_response(exc.message, 409)
        except ServiceError as exc:
            apply_service_errors(form, exc.errors, exc.message)
        else:
            return _render("panel/api_keys/_row.html", key=key)
    return _render("panel/api_keys/_edit.html", 422, key=key, form=form, preview=_preview(form))


@bp.post("/api-keys/<prefix>/activate")
def activate_key(prefix: str) -> Response:
    """Make an inactive key usable again; the row comes back updated."""
    return _state_change(service.activate_key, prefix)


@bp.post("/api-keys/<prefix>/deactivate")
def deactivate_key(prefix: str) -> Response:
    """Switch a key off; the row comes back updated."""
    return _state_change(service.deactivate_key, prefix)


@bp.delete("/api-keys/<prefix>")
def revoke_key(prefix: str) -> Response:
    """Revoke a key for good; an empty 200 removes its row (a 204 would not swap)."""
    try:
        service.revoke_key(prefix, actor=_actor())
    except NotFound:
        raise _no_such_key(prefix) from None
    except Conflict as exc:
        return error_response(exc.message, 409)
    return client_refresh() if _on_key_page() else make_response("", 200)


def _state_change(action: Callable[..., ApiKey], prefix: str) -> Response:
    try:
        key = action(prefix, actor=_actor())
    except NotFound:
        raise _no_such_key(prefix) from None
    except Conflict as exc:
        return error_response(exc.message, 409)
    return client_refresh() if _on_key_page() else _render("panel/api_keys/_row.html", key=key)


@bp.get("/api-keys/<prefix>/roll")
def roll_key_form(prefix: str) -> Response:
    """The inline Roll form for one key (only an active key can be rolled)."""
    key = _key_or_404(prefix)
    if (refused := _refused(key, service.KeyAction.ROLL, "Cannot roll: ")) is not None:
        return refused
    return _render(
        "panel/api_keys/_roll.html", key=key, form=RollKeyForm(formdata=None), on_page=_on_key_page()
    )


@bp.post("/api-keys/<prefix>/roll")
def roll_key(prefix: str) -> Response:
    """Roll a key: show the new key once; the old row reads Rolling until its cutover."""
    key = _key_or_404(prefix)
    form = RollKeyForm()
    on_page = _on_key_page()
    if form.validate_on_submit():
        try:
            created = rolling.roll_key(
                prefix, actor=_actor(), grace=form.grace_value(), created_by=guards.signed_in_user()
            )
        except Conflict as exc:
            return error_response(f"Cannot roll: {exc.message}.", 409)
        except ServiceError as exc:
            apply_service_errors(form, form.service_errors(exc.errors), exc.message)
        else:
            rolled = service.get_key(prefix)
            return no_store(_created_response(created, rolled=rolled, in_table=not on_page))
    return _render("panel/api_keys/_roll.html", 422, key=key, form=form, on_page=on_page)


@bp.post("/api-keys/<prefix>/end-grace")
def end_grace(prefix: str) -> Response:
    """Cut a rolling key over now; its row comes back as Rolled."""
    try:
        key = rolling.end_grace(prefix, actor=_actor())
    except NotFound:
        raise _no_such_key(prefix) from None
    except Conflict as exc:
        return error_response(exc.message, 409)
    return client_refresh() if _on_key_page() else _render("panel/api_keys/_row.html", key=key)


def _form_error(form: GrantAbilityForm | RemoveUnusedForm) -> str:
    messages = [message for field_messages in form.errors.values() for message in field_messages]
    return messages[0] if messages else "The form was sent with a bad value."


def _back_to_key_page(prefix: str, message: str) -> Response:
    """After a change on the key's page: htmx reloads it (``HX-Refresh``), a plain form is sent
    back to it; either way the flashed message says what changed."""
    flash(message, "info")
    if htmx().request:
        return client_refresh()
    return redirect(url_for("panel.key_page", prefix=prefix), 303)


@bp.post("/api-keys/<prefix>/abilities/remove-unused")
def remove_unused_abilities(prefix: str) -> Response:
    """Remove the abilities the key did not use in 30 days (one ``key.updated`` event)."""
    form = RemoveUnusedForm()
    if not form.validate_on_submit():
        return error_response(_form_error(form), 400)
    try:
        removed = least_privilege.remove_unused_abilities(
            prefix, actor=_actor(), confirmed=form.abilities.data
        )
    except NotFound:
        raise _no_such_key(prefix) from None
    except InvalidInput as exc:
        return error_response(exc.message, 400)
    except Conflict as exc:
        return error_response(f"Nothing removed: {exc.message}.", 409)
    count = len(removed.abilities)
    names = ", ".join(removed.abilities)
    return _back_to_key_page(prefix, f"Removed {count} unused abilit{'y' if count == 1 else 'ies'}: {names}.")


@bp.post("/api-keys/<prefix>/abilities/grant")
def grant_ability(prefix: str) -> Response:
    """Grant one ability the key was refused (one ``key.updated`` event)."""
    form = GrantAbilityForm()
    if not form.validate_on_submit():
        return error_response(_form_error(form), 400)
    try:
        least_privilege.grant_ability(prefix, form.ability.data, actor=_actor())
    except NotFound:
        raise _no_such_key(prefix) from None
    except InvalidInput as exc:
        return error_response(exc.message, 400)
    except Conflict as exc:
        return error_response(f"Not granted: {exc.message}.", 409)
    return _back_to_key_page(prefix, f"Granted {form.ability.data}.")
