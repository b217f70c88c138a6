"""What every API view shares: its blueprint, the context, answers, scopes and bad input.

Errors are not answered here: a view raises the domain's errors (or lets the actions
raise them) and :mod:`repoversion.web.app` turns every one into ``{code, message}``, in
one place. :func:`invalid` makes pydantic's validation errors one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint
from flask_openapi3 import Tag as OpenAPITag
from flask_openapi3.types import ResponseDict
from pydantic import ValidationError

from repoversion.context import Context
from repoversion.errors import InvalidInput
from repoversion.web.api.schemas import Error

F = TypeVar("F", bound=Callable[..., Any])

#: where the API lives
PREFIX = "/api/v1"
#: the name of the security scheme in openapi.json
BEARER = "bearer"
#: what a view that needs a token declares (``security=`` of the route)
TOKEN: list[dict[str, list[str]]] = [{BEARER: []}]
#: the view attribute :func:`needs` sets and the API's before_request reads
SCOPE_ATTR = "rv_scope"


def errors(*statuses: int) -> ResponseDict:
    """``{status: Error}`` for a route's ``responses=``.

    A reference to the ``Error`` schema (which :func:`repoversion.web.api.new_app` makes
    the validation error model, so it is in openapi.json once) rather than the model:
    flask-openapi3 would build the same schema again for every status of every route,
    which each server process pays for when it starts.
    """
    ref = {"$ref": "#/components/schemas/" + Error.__name__}
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": ref}},
        }
        for status in statuses
    }


#: what any operation may answer: a bad parameter or body (422), no or a bad token (401:
#: any read when reads are private), too small a scope (403), a busy database (503)
COMMON = errors(401, 403, 422, 503)


def resource(name: str, description: str) -> APIBlueprint:
    """The blueprint of one resource, tagged ``name`` in openapi.json."""
    return APIBlueprint(
        name,
        f"repoversion.web.api.{name}",
        abp_tags=[OpenAPITag(name=name, description=description)],
        abp_responses=COMMON,
        operation_id_callback=_operation_id,
    )


def _operation_id(*, name: str, **_: Any) -> str:
    """An operation's id in openapi.json: its view's name (``list_versions``…), unique."""
    return name


def context() -> Context:
    """The app's :class:`~repoversion.context.Context`."""
    ctx: Context = current_app.extensions["repoversion"]
    return ctx


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``data`` as JSON; API answers are never cached (they change, some are secret)."""
    resp = jsonify(data)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def no_content() -> Response:
    """204, for a deletion."""
    return Response(status=204, headers={"Cache-Control": "no-store"})


def needs(scope: str) -> Callable[[F], F]:
    """Mark a view as needing a token of ``scope`` (``write`` or ``admin``), or none even
    when reads are private (``public``). Put it below the route decorator, which copies
    the mark. The check runs before the request is validated, so a caller without a token
    learns nothing more."""

    def mark(view: F) -> F:
        setattr(view, SCOPE_ATTR, scope)
        return view

    return mark


_WHERE = {"Path": "Path parameter", "Query": "Query parameter", "Body": "Field"}


def invalid(exc: ValidationError) -> NoReturn:
    """flask-openapi3's validation error callback: the first problem, as one sentence.

    >>> from repoversion.web.api.params import TagBody
    >>> try:
    ...     TagBody.model_validate({"repoversion": ""})
    ... except ValidationError as exc:
    ...     invalid(exc)
    Traceback (most recent call last):
    ...
    repoversion.errors.InvalidInput: Field `repoversion`: String should have at least 1 character.

    :raises InvalidInput: always (422 ``{code, message}``).
    """
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    where = next((w for suffix, w in _WHERE.items() if exc.title.endswith(suffix)), "Value")
    message = str(first["msg"]).rstrip(".")
    if not field:
        if where == "Field":
            raise InvalidInput(f"The request body must be a JSON object ({message}).")
        raise InvalidInput(f"Invalid request: {message}.")
    raise InvalidInput(f"{where} `{field}`: {message}.")
