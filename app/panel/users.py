"""Settings -> Users (SPEC §15): every account, "Add user", offboarding and reactivation.

Views are thin: parse, call ``app.accounts.people`` (the service ``flask users`` calls too), render one
fragment template. A new account's generated password is shown once, like a new key: in a
fragment kept out of htmx's history (``hx-history="false"``) and every cache (``no-store``,
as every panel page here), and never logged.
"""

from __future__ import annotations

from flask import Response, make_response, render_template
from werkzeug.exceptions import NotFound as PageNotFound

from app.accounts import people as users
from app.extensions import db
from app.models.users import EMAIL_MAX_LENGTH, User
from app.panel import guards
from app.panel.forms import DeactivateUserForm, UserCreateForm, apply_service_errors
from app.panel.htmx import htmx, vary_on_htmx
from app.validation.errors import Conflict, InvalidInput, NotFound, ServiceError

bp = guards.admin_blueprint("users", __name__, url_prefix="/settings/users")

# The table's columns: key -> header (and each cell's label on a narrow screen).
COLUMNS = {
    "name": "Name",
    "email": "Email",
    "kind": "Kind",
    "status": "Status",
    "working_keys": "Working Keys",
    "last_sign_in_at": "Last Sign-in",
}


@bp.context_processor
def _columns() -> dict[str, object]:
    return {"user_columns": COLUMNS, "email_max_length": EMAIL_MAX_LENGTH}


def _actor() -> str:
    user = guards.signed_in_user()
    # require_admin ran first, so there is a user; the fallback only guards a race with sign-out.
    return user.email if user is not None else "unknown"


def _render(template: str, status: int = 200, **context: object) -> Response:
    return make_response(render_template(template, **context), status)


def _user_or_404(user_id: int) -> User:
    try:
        return users.get(user_id)
    except NotFound:
        raise PageNotFound("No such user.") from None


def _account(user: User) -> users.Account:
    return users.Account(user, len(users.working_keys(user)))


def _page(status: int = 200, **context: object) -> Response:
    return _render("panel/users/index.html", status, accounts=users.list_accounts(), **context)


@bp.get("")
def index() -> Response:
    """Every account with its kind, status, working keys and last sign-in."""
    return vary_on_htmx(_page())


@bp.get("/new")
def new_user() -> Response:
    """The "Add user" form: a fragment for htmx, else the page with the form open."""
    form = UserCreateForm(formdata=None)
    if htmx().wants_fragment:
        return vary_on_htmx(_render("panel/users/_form.html", form=form))
    return vary_on_htmx(_page(form=form))


@bp.post("")
def create_user() -> Response:
    """Create a person, an admin or a system account; a generated password is shown once."""
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            created = users.add_user(
                form.email.data or "", form.name.data or "", form.kind.data or "", actor=_actor()
            )
        except ServiceError as exc:
            # A duplicate email is a Conflict without field errors: it belongs by the email.
            errors = exc.errors or (
                {"email": [exc.message.removeprefix("email: ")]} if isinstance(exc, Conflict) else {}
            )
            apply_service_errors(form, errors, exc.message)
        else:
            if htmx().request:
                return _render(
                    "panel/users/_created.html", created=created, account=_account(created.user), oob=True
                )
            return _page(created=created)
    if htmx().request:
        return _render("panel/users/_form.html", 422, form=form)
    return _page(422, form=form)


def _deactivate_form(user: User, formdata: object = None) -> DeactivateUserForm:
    form = DeactivateUserForm(formdata=formdata) if formdata is not None else DeactivateUserForm()
    form.set_owner_choices(users.active_owners(excluding=user))
    return form


@bp.get("/<int:user_id>/deactivate")
def deactivate_form(user_id: int) -> Response:
    """The offboarding confirmation: the user's working keys, and where they should go."""
    user = _user_or_404(user_id)
    if not user.is_active:
        return guards.error_response(f"{user.email} is already deactivated.", 409)
    form = _deactivate_form(user, formdata=None)
    return _render("panel/users/_deactivate.html", user=user, keys=users.working_keys(user), form=form)


@bp.post("/<int:user_id>/deactivate")
def deactivate(user_id: int) -> Response:
    """Deactivate the user, moving or switching off their working keys (one transaction)."""
    user = _user_or_404(user_id)
    form = _deactivate_form(user)
    keys = users.working_keys(user)
    if form.validate_on_submit():
        new_owner = None
        if form.fate.data == "move" and (form.new_owner.data or "").isdigit():
            new_owner = db.session.get(User, int(form.new_owner.data or "0"))
        try:
            done = users.deactivate_user(
                user.email,
                move_keys_to=new_owner.email if new_owner is not None else None,
                deactivate_keys=form.fate.data == "deactivate",
                actor=_actor(),
            )
        except Conflict as exc:
            return guards.error_response(f"Not deactivated: {exc.message}.", 409)
        except InvalidInput as exc:
            errors = {
                ("new_owner" if name == "move_keys_to" else "fate"): messages
                for name, messages in exc.errors.items()
            }
            if form.fate.data == "move" and new_owner is None:
                errors = {"new_owner": ["Choose the active owner the keys move to."]}
            apply_service_errors(form, errors, exc.message)
        except NotFound as exc:
            return guards.error_response(exc.message, 404)
        else:
            # Both rows change: the leaver's status and count, and the new owner's count.
            rows = [_account(u) for u in (done.user, done.new_owner) if u is not None]
            return _render("panel/users/_deactivated.html", done=done, rows=rows)
    return _render("panel/users/_deactivate.html", 422, user=user, keys=keys, form=form)


@bp.post("/<int:user_id>/reactivate")
def reactivate(user_id: int) -> Response:
    """Reactivate the user (their keys stay as they are); the row comes back updated."""
    user = _user_or_404(user_id)
    try:
        user = users.reactivate_user(user.email, actor=_actor())
    except Conflict as exc:
        return guards.error_response(f"{exc.message}.", 409)
    return _render("panel/users/_row.html", account=_account(user))
