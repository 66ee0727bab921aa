"""A seeded world for the security tests: one project of each shape with one object of every
type a URL can name, the people around it, and a way to fill any URL's kwargs from it.

Every text a user can write is produced by `text(field, max_length)`, so the authorization
matrix seeds plain words and the hostile-string test seeds attacks, in the same objects."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.projects.models import FeedbackKind, Membership, Role
from tests.factories import ProjectFactory, UserFactory

ANONYMOUS, ANNOTATOR, OTHER_ADMIN, PROJECT_ADMIN, SUPERUSER = (
    "anonymous",
    "annotator",
    "admin of another project",
    "project admin",
    "superuser",
)
ROLES = (ANONYMOUS, ANNOTATOR, OTHER_ADMIN, PROJECT_ADMIN, SUPERUSER)

TextSource = Callable[[str, int | None], str]


def plain_text(field_name: str, max_length: int | None) -> str:
    return field_name.replace("_", " ").capitalize()[: max_length or None]


def model(name: str):
    """A model by class name, wherever it lives now (models move between apps)."""
    found = [m for m in apps.get_models() if m.__name__ == name]
    assert len(found) == 1, f"expected one model named {name}, found {found}"
    return found[0]


def _has_field(model_class, name: str) -> bool:
    return any(f.name == name for f in model_class._meta.get_fields())


def _create(model_name: str, **fields):
    """Creates a row, leaving out fields the model (as it is now) does not have."""
    model_class = model(model_name)
    return model_class.objects.create(
        **{k: v for k, v in fields.items() if _has_field(model_class, k)}
    )


@dataclass
class World:
    users: dict[str, object]
    project: object  # a pairwise project: the foreign project of the "other" admin
    chat_project: object
    other_project: object
    objects: dict[str, object] = field(default_factory=dict)
    written_fields: set[str] = field(default_factory=set)  # "Model.field" holding user text

    def user(self, role: str):
        return self.users.get(role)


class _Writer:
    def __init__(self, text: TextSource):
        self.text, self.fields = text, set()

    def __call__(self, model_name: str, field_name: str, max_length: int | None = None) -> str:
        self.fields.add(f"{model_name}.{field_name}")
        return self.text(f"{model_name.lower()}_{field_name}", max_length)


def world_build(*, text: TextSource = plain_text, media_root: Path | None = None) -> World:
    write = _Writer(text)
    media_root = Path(media_root or settings.MEDIA_ROOT)
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    project_admin = UserFactory(username=write("User", "username", 150), is_staff=True)
    annotator = UserFactory(username=write("User", "username", 140) + " ann")
    other_admin = UserFactory(username="oadmin", is_staff=True)
    users = {
        ANNOTATOR: annotator,
        OTHER_ADMIN: other_admin,
        PROJECT_ADMIN: project_admin,
        SUPERUSER: superuser,
    }

    def project_of(kind: str, admin):
        made = ProjectFactory(
            kind=kind,
            created_by=admin,
            name=write("Project", "name", 200),
            description=write("Project", "description"),
            guidelines=write("Project", "guidelines"),
            critique_policy="optional",
        )
        Membership.objects.create(project=made, user=admin, role=Role.ADMIN)
        return made

    project = project_of(FeedbackKind.PAIRWISE, project_admin)
    chat_project = project_of(FeedbackKind.CHAT, project_admin)
    other_project = project_of(FeedbackKind.PAIRWISE, other_admin)
    for member_of in (project, chat_project):
        Membership.objects.create(project=member_of, user=annotator, role=Role.ANNOTATOR)
    world = World(users, project, chat_project, other_project)
    o = world.objects

    o["principle"] = _create(
        "Principle", project=project, key="matrix-principle", text=write("Principle", "text")
    )
    o["rubric_item"] = _create("RubricItem", project=project, text=write("RubricItem", "text", 500))
    prompt = _create(
        "Prompt",
        project=project,
        messages=[{"role": "user", "content": write("Prompt", "messages")}],
    )
    responses = [
        _create("Response", prompt=prompt, text=write("Response", "text"), source=f"model-{i}")
        for i in range(2)
    ]
    tasks = []
    for _ in range(3):
        task = _create(
            "Task",
            project=project,
            prompt=prompt,
            kind=project.kind,
            consequence=write("Task", "consequence"),
        )
        for position, response in enumerate(responses):
            _create("TaskItem", task=task, response=response, position=position)
        tasks.append(task)
    o["task"] = tasks[0]
    # The annotator holds an open lease on one task and judged another.
    o["assignment"] = _create(
        "Assignment",
        task=tasks[0],
        project=project,
        annotator=annotator,
        display_order=[r.pk for r in responses],
        expires_at=timezone.now() + timedelta(hours=1),
    )
    judged = _create(
        "Assignment",
        task=tasks[1],
        project=project,
        annotator=annotator,
        status="submitted",
        display_order=[r.pk for r in responses],
        expires_at=timezone.now() + timedelta(hours=1),
    )
    o["judgment"] = _create(
        "Judgment",
        project=project,
        task=tasks[1],
        annotator=annotator,
        assignment=judged,
        kind=project.kind,
        payload={"choice": "A", "strength": "clearly"},
        critique=write("Judgment", "critique"),
        written_response=write("Judgment", "written_response"),
        edited_response=responses[0],
        edit_distance=0.5,
        display_order=[r.pk for r in responses],
        chosen_response=responses[0],
        rejected_response=responses[1],
        chosen_position=0,
        first_shown_position=0,
        signed_strength=2.0,
        duration_ms=1500,
    )
    type(tasks[1]).objects.filter(pk=tasks[1].pk).update(judgment_count=1)

    o["import_job"] = _create(
        "ImportJob",
        project=project,
        created_by=project_admin,
        file=ContentFile(b'{"prompt": "p", "responses": ["a", "b"]}\n', name="matrix.jsonl"),
        original_name=write("ImportJob", "original_name", 255),
        pair_strategy="all",
        max_pairs_per_prompt=6,
    )
    o["dataset_import"] = _create(
        "DatasetImport",
        project=project,
        created_by=project_admin,
        file=ContentFile(b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n', name="d.jsonl"),
        original_name=write("DatasetImport", "original_name", 255),
    )
    o["generation_job"] = _create(
        "GenerationJob", project=project, created_by=project_admin, status="succeeded"
    )
    o["round"] = _create(
        "Round",
        project=project,
        number=1,
        generation_job=o["generation_job"],
        created_by=project_admin,
        base_model="base",
    )
    snapshot_bytes = b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n'
    sha = hashlib.sha256(snapshot_bytes).hexdigest()
    snapshot_path = Path("snapshots") / f"{sha}.jsonl"
    (media_root / snapshot_path).parent.mkdir(parents=True, exist_ok=True)
    (media_root / snapshot_path).write_bytes(snapshot_bytes)
    o["snapshot"] = _create(
        "Snapshot",
        project=project,
        kind="pairs",
        format="jsonl",
        options={},
        sha256=sha,
        size_bytes=len(snapshot_bytes),
        row_count=1,
        file_path=str(snapshot_path),
        created_by=project_admin,
    )
    o["export_job"] = _create(
        "ExportJob",
        project=project,
        kind="pairs",
        format="jsonl",
        options={},
        created_by=project_admin,
        snapshot=o["snapshot"],
        status="succeeded",
    )
    o["run"] = _create(
        "TrainingRun",
        project=project,
        name=write("TrainingRun", "name", 200),
        objective="bradley_terry",
        family="reward",
        config={},
        snapshot=o["snapshot"],
        created_by=project_admin,
        status="succeeded",
        output_dir="runs/matrix",
    )
    artifact = media_root / "runs/matrix/output/model/config.json"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text("{}")
    o["webhook"] = _create(
        "WebhookEndpoint",
        project=project,
        name=write("WebhookEndpoint", "name", 200),
        url="https://hooks.example.org/arbiter",
        events=["judgment.submitted"],
        created_by=project_admin,
    )
    _create(
        "WebhookDelivery",
        endpoint=o["webhook"],
        event="judgment.submitted",
        payload={"judgment": o["judgment"].pk},
    )

    o["model_endpoint"] = _create(
        "ModelEndpoint",
        project=project,
        name=write("ModelEndpoint", "name", 100),
        base_url="https://93.184.215.14/v1",
    )
    o["judge"] = _create(
        "Judge",
        project=project,
        name=write("Judge", "name", 100),
        backend="reward_model",
        config={},
        created_by=project_admin,
    )
    o["judge_job"] = _create(
        "JudgeJob",
        project=project,
        judge=o["judge"],
        created_by=project_admin,
        item_ids=[tasks[1].pk],
        total=1,
        status="succeeded",
    )
    o["api_token"] = _api_token(annotator, name=write("ApiToken", "name", 100))
    o["invitation"], o["invitation_secret"] = _invitation(project, by=project_admin)
    if any(m.__name__ == "TrainingRule" for m in apps.get_models()):
        o["training_rule"] = _create(
            "TrainingRule",
            project=project,
            name=write("TrainingRule", "name", 200),
            objective="bradley_terry",
            config={},
            created_by=project_admin,
        )

    o["conversation"] = _create(
        "Conversation", project=chat_project, user=annotator, title=write("Conversation", "title")
    )
    _create(
        "Message",
        conversation=o["conversation"],
        index=0,
        role="user",
        content=write("Message", "content"),
    )
    o["message"] = _create(
        "Message",
        conversation=o["conversation"],
        index=1,
        role="assistant",
        content=write("Message", "content"),
        status="done",
    )
    from apps.arena.models import Battle, Contestant, Reply, Turn

    contestants = [
        Contestant.objects.create(
            project=project, name=name, backend={"type": "openai", "model": name}
        )
        for name in ("arena-x", "arena-y")
    ]
    o["battle"] = Battle.objects.create(
        project=project, user=annotator, contestant_a=contestants[0], contestant_b=contestants[1]
    )
    arena_turn = Turn.objects.create(battle=o["battle"], index=0, content="Hi")
    for side in (0, 1):
        Reply.objects.create(turn=arena_turn, side=side, content="Hello", status="done")
    # Only the fields the models have now count as written (a field may not exist yet).
    world.written_fields = {
        f for f in write.fields if _has_field(model(f.split(".")[0]), f.split(".")[1])
    }
    return world


def _invitation(project, *, by):
    """An open invitation to the project, and the secret of its link."""
    from apps.teams.services import invitation_create

    return invitation_create(project=project, by=by, email="invitee@example.org")


def _api_token(user, *, name: str):
    """One of the user's API tokens, made as its owner makes it (its page's service)."""
    from apps.accounts.services import api_token_create

    token, _ = api_token_create(user=user, name=name, scope="read")
    return token


# What each URL kwarg names. `job_id` depends on the app whose view takes it.
# `job_id` and `endpoint_id` depend on the app whose view takes them.
_BY_MODULE = {
    "job_id": {
        "apps.imports": "import_job",
        "apps.generation": "generation_job",
        "apps.exports": "export_job",
        "apps.judges": "judge_job",
    },
    "endpoint_id": {"apps.webhooks": "webhook", "apps.exports": "webhook",
                    "apps.generation": "model_endpoint"},
}  # fmt: skip


def kwargs_for(route, world: World) -> dict:
    """The route's kwargs, each filled with the id of a seeded object of the right type."""
    o = world.objects
    project = world.chat_project if route.module.startswith("apps.chat") else world.project
    fixed = {
        "project_id": project.pk,
        "assignment_id": o["assignment"].pk,
        "conversation_id": o["conversation"].pk,
        "message_id": o["message"].pk,
        "import_id": o["dataset_import"].pk,
        "user_id": world.users[ANNOTATOR].pk,
        "task_id": o["task"].pk,
        "judgment_id": o["judgment"].pk,
        "run_id": o["run"].pk,
        "snapshot_id": o["snapshot"].pk,
        "token_key": o["api_token"].token_key,
        "invitation_id": o["invitation"].pk,
        "secret": o["invitation_secret"],
        "rule_id": o["training_rule"].pk if "training_rule" in o else None,
        "judge_id": o["judge"].pk,
        "battle_id": o["battle"].pk,
        "number": o["round"].number,
        "what": "reward",
        "path": "model/config.json",
        "kind": "pairs",
        "file_format": "jsonl",
    }
    kwargs = {}
    for name in route.kwarg_names:
        if route.module.startswith("apps.dashboard") and name in ("kind", "job_id"):
            # The jobs page names a job by its kind (model label) and id: the seeded run.
            kwargs[name] = "training.trainingrun" if name == "kind" else o["run"].pk
        elif name in _BY_MODULE:
            key = next((v for k, v in _BY_MODULE[name].items() if route.module.startswith(k)), None)
            assert key, f"{route.name}: what does `{name}` name in {route.module}?"
            kwargs[name] = o[key].pk
        else:
            assert name in fixed, (
                f"{route.name} ({route.pattern}) takes `{name}`, which the security tests cannot "
                "fill yet: seed an object for it in tests/security/world.py"
            )
            kwargs[name] = fixed[name]
    return kwargs


__all__ = ["ROLES", "World", "kwargs_for", "model", "world_build"]
