"""Model endpoints: the OpenAI-compatible servers a project calls, and their API keys.

A key is encrypted at rest (apps/core/crypto.py), belongs to one URL (a new URL drops it), and is
decrypted only in `callable_config`, just before a request is sent: stored backend configs (a
chat project's backend, a generation job's models) name the endpoint, never the URL or the key.
Every URL passes the outbound guard (apps/core/outbound.py) when it is saved, and again, pinned,
when the backend opens.
"""

from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.models import User
from apps.core.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from apps.core.errors import ApplicationError, Conflict, PermissionDenied
from apps.core.outbound import resolve_target
from apps.generation.backends import (
    BackendConfigError,
    GenerationBackend,
    backend_from_config,
    validate_config,
)
from apps.generation.models import ModelEndpoint
from apps.projects.models import Project
from apps.projects.selectors import projects_for_user, user_is_project_admin

URL_LENGTH = 500
NAME_LENGTH = 200
KEY_LENGTH = 2000


# --- writes -------------------------------------------------------------------------------------


def endpoint_url_check(base_url: str) -> str:
    """The URL as stored (trimmed, no trailing slash), once the outbound guard accepts it;
    otherwise ApplicationError (400) saying why."""
    url = (base_url or "").strip().rstrip("/")
    if not url:
        raise ApplicationError("Give the model server's URL, e.g. https://host:8000/v1.")
    if len(url) > URL_LENGTH:
        raise ApplicationError(f"The model server URL may be at most {URL_LENGTH} characters.")
    resolve_target(url, purpose="The model server URL")
    return url


def _check_admin(*, project: Project, actor: User | None) -> None:
    if actor is not None and not user_is_project_admin(user=actor, project=project):
        raise PermissionDenied("Only the project's admins manage its model servers.")


def _clean_key(api_key: str | None) -> str | None:
    if api_key is None:
        return None
    api_key = api_key.strip()
    if len(api_key) > KEY_LENGTH:
        raise ApplicationError(f"An API key may be at most {KEY_LENGTH} characters.")
    return api_key


def _free_name(*, project: Project, wanted: str, exclude_pk: int | None = None) -> str:
    taken = set(
        ModelEndpoint.objects.filter(project=project)
        .exclude(pk=exclude_pk)
        .values_list("name", flat=True)
    )
    name, n = wanted, 1
    while name in taken:
        n += 1
        name = f"{wanted[: NAME_LENGTH - 8]} ({n})"
    return name


def _name_from_url(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc + parts.path.rstrip("/"))[:NAME_LENGTH]


@transaction.atomic
def model_endpoint_create(
    *, project: Project, actor: User | None, base_url: str, name: str = "", api_key: str = ""
) -> ModelEndpoint:
    """Registers a model server of the project; 409 if the project has one at that URL or
    under that name."""
    _check_admin(project=project, actor=actor)
    url = endpoint_url_check(base_url)
    name = (name or "").strip()[:NAME_LENGTH]
    if ModelEndpoint.objects.filter(project=project, base_url=url).exists():
        raise Conflict(f"This project already has a model server at {url}.")
    if name and ModelEndpoint.objects.filter(project=project, name=name).exists():
        raise Conflict(f"This project already has a model server named {name!r}.")
    return _insert(
        project=project,
        name=name or _free_name(project=project, wanted=_name_from_url(url)),
        base_url=url,
        api_key=_clean_key(api_key) or "",
        actor=actor,
    )


def _insert(
    *, project: Project, name: str, base_url: str, api_key: str, actor: User | None
) -> ModelEndpoint:
    try:
        with transaction.atomic():  # a savepoint: a racing twin leaves the caller's work intact
            return ModelEndpoint.objects.create(
                project=project,
                name=name,
                base_url=base_url,
                api_key_encrypted=encrypt_secret(api_key),
                created_by=actor,
            )
    except IntegrityError:
        raise Conflict(
            "Another request registered this model server (or its name) at the same moment; "
            "try again."
        ) from None


@transaction.atomic
def model_endpoint_update(
    *,
    endpoint: ModelEndpoint,
    actor: User | None,
    base_url: str | None = None,
    name: str | None = None,
    api_key: str | None = None,
) -> ModelEndpoint:
    """Changes what is given. `api_key`: None keeps the key, "" removes it, text replaces it.
    A new URL drops the stored key unless a key comes with it: a key is never sent anywhere but
    the server it was given for."""
    endpoint = ModelEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    _check_admin(project=endpoint.project, actor=actor)
    api_key = _clean_key(api_key)
    if base_url is not None:
        url = endpoint_url_check(base_url)
        if url != endpoint.base_url:
            clash = ModelEndpoint.objects.filter(project=endpoint.project_id, base_url=url)
            if clash.exclude(pk=endpoint.pk).exists():
                raise Conflict(f"This project already has a model server at {url}.")
            endpoint.base_url = url
            if api_key is None:
                endpoint.api_key_encrypted = ""
    if name is not None:
        name = name.strip()[:NAME_LENGTH]
        if not name:
            raise ApplicationError("A model server needs a name.")
        clash = ModelEndpoint.objects.filter(project=endpoint.project_id, name=name)
        if clash.exclude(pk=endpoint.pk).exists():
            raise Conflict(f"This project already has a model server named {name!r}.")
        endpoint.name = name
    if api_key is not None:
        endpoint.api_key_encrypted = encrypt_secret(api_key)
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError:
        raise Conflict("Another model server of this project took that URL or name.") from None
    return endpoint


@transaction.atomic
def _endpoint_for_url(
    *, project: Project, actor: User | None, base_url: str, api_key: str | None = None
) -> ModelEndpoint:
    """The project's model server at this URL, registered if new: what the chat settings and the
    generation form use when an admin types a URL (their own services check the admin). `api_key`
    as in `model_endpoint_update`."""
    url = endpoint_url_check(base_url)
    endpoint = (
        ModelEndpoint.objects.select_for_update().filter(project=project, base_url=url).first()
    )
    if endpoint is None:
        return _insert(
            project=project,
            name=_free_name(project=project, wanted=_name_from_url(url)),
            base_url=url,
            api_key=_clean_key(api_key) or "",
            actor=actor,
        )
    if api_key is not None:
        endpoint.api_key_encrypted = encrypt_secret(_clean_key(api_key))
        endpoint.save(update_fields=["api_key_encrypted", "updated_at"])
    return endpoint


def model_endpoint_delete(*, endpoint: ModelEndpoint, actor: User | None) -> None:
    """Forgets the server and its key; a job or chat that still names it fails with a reason."""
    _check_admin(project=endpoint.project, actor=actor)
    endpoint.delete()


def stored_backend_config(*, config: Any, project: Project, actor: User | None) -> dict:
    """A backend config as it may be stored: checked, and for an OpenAI-compatible server the
    URL (and key) replaced by the id of the project's endpoint for that URL. The config's
    `api_key`: absent keeps the endpoint's key, "" removes it, text replaces it. The caller has
    checked that `actor` administers the project."""
    has_key = isinstance(config, dict) and "api_key" in config
    try:
        clean = validate_config(config)
    except BackendConfigError as exc:
        raise ApplicationError(str(exc)) from None
    if clean["type"] != "openai":
        return clean
    if "endpoint" in clean:
        if not ModelEndpoint.objects.filter(pk=clean["endpoint"], project=project).exists():
            raise ApplicationError(f"This project has no model server {clean['endpoint']}.")
        return clean
    endpoint = _endpoint_for_url(
        project=project,
        actor=actor,
        base_url=clean.pop("base_url"),
        api_key=(clean.pop("api_key", "") or "") if has_key else None,
    )
    return {**clean, "endpoint": endpoint.pk}


# --- reads --------------------------------------------------------------------------------------


def model_endpoints_for_project(*, project: Project) -> QuerySet[ModelEndpoint]:
    return ModelEndpoint.objects.filter(project=project).order_by("name", "pk")


def model_endpoint_get_for_admin(*, user: User, endpoint_id: int) -> ModelEndpoint:
    """The endpoint, if the user administers its project; otherwise 404, like a missing one."""
    endpoint = (
        ModelEndpoint.objects.select_related("project")
        .filter(pk=endpoint_id, project__in=projects_for_user(user=user))
        .first()
    )
    if endpoint is None or not user_is_project_admin(user=user, project=endpoint.project):
        raise Http404("No such model server.")
    return endpoint


def display_backend_config(config: Any, *, project_id: int) -> dict:
    """A stored config as a page shows it: the endpoint's URL and whether it holds a key."""
    if not isinstance(config, dict):
        return {}
    shown = {k: v for k, v in config.items() if k != "api_key"}
    if config.get("type") == "openai" and "endpoint" in config:
        endpoint = ModelEndpoint.objects.filter(
            pk=config["endpoint"], project_id=project_id
        ).first()
        shown["base_url"] = endpoint.base_url if endpoint else ""
        shown["has_api_key"] = bool(endpoint and endpoint.has_api_key)
    return shown


# --- the call -----------------------------------------------------------------------------------


def callable_config(config: dict, *, project_id: int) -> dict:
    """The stored config made ready to call: an endpoint reference becomes its URL and its key,
    decrypted now. BackendConfigError when the endpoint is gone or its key cannot be read."""
    if not isinstance(config, dict) or config.get("type") != "openai" or "endpoint" not in config:
        return config
    endpoint = ModelEndpoint.objects.filter(pk=config["endpoint"], project_id=project_id).first()
    if endpoint is None:
        raise BackendConfigError(
            f"the model server {config['endpoint']} no longer exists in this project."
        )
    try:
        key = decrypt_secret(endpoint.api_key_encrypted)
    except SecretUnreadable as exc:
        raise BackendConfigError(exc.message) from None
    ready = {k: v for k, v in config.items() if k != "endpoint"}
    ready["base_url"] = endpoint.base_url
    if key:
        ready["api_key"] = key
    return ready


def open_backend(config: dict, *, project_id: int) -> GenerationBackend:
    """The backend a stored config describes, its server's address checked and pinned."""
    return backend_from_config(callable_config(config, project_id=project_id))
