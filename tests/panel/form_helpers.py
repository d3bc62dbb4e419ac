"""What the panel's key-form tests share: the fields of a valid create form, and the inline error
shown next to a field."""

from __future__ import annotations

import html
import re
from typing import Any

from app.models.users import User


def create_form_data(owner: User, **changes: Any) -> dict[str, Any]:
    """A valid create-key form for ``owner`` (a products:list key), with ``changes`` applied."""
    data: dict[str, Any] = {
        "name": "Partner feed",
        "owner": str(owner.id),
        "abilities": ["products:list"],
        "rate_limit": "60",
    }
    data.update(changes)
    return data


def error_for(page: str, field_id: str) -> str:
    """The inline error shown next to the field ``field_id``, as text."""
    match = re.search(rf'<p class="field__error" id="{field_id}-error">([^<]*)</p>', page)
    assert match, f"no error shown next to {field_id}"
    return html.unescape(match.group(1))
