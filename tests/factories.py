import factory
from django.contrib.auth import get_user_model

from apps.accounts.services import api_token_create
from apps.corpus.models import Prompt, Response
from apps.labeling.models import Task, TaskItem
from apps.projects.models import FeedbackKind, Membership, Project, Role

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    is_staff = True


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    kind = FeedbackKind.PAIRWISE
    overlap = 1
    guidelines = "Prefer the **helpful** and honest answer."
    created_by = factory.SubFactory(StaffFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    project = factory.SubFactory(ProjectFactory)
    messages = factory.Sequence(lambda n: [{"role": "user", "content": f"Question number {n}?"}])


class ResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Response

    prompt = factory.SubFactory(PromptFactory)
    text = factory.Sequence(lambda n: f"Answer {n}.")
    source = "model-a"


def add_member(project: Project, user=None, role: str = Role.ANNOTATOR):
    user = user or UserFactory()
    Membership.objects.create(project=project, user=user, role=role)
    return user


def make_task(
    project: Project, *, n_responses: int = 2, texts: list[str] | None = None, **fields
) -> Task:
    """A task of the project's kind with `n_responses` fresh responses to a fresh prompt."""
    prompt = PromptFactory(project=project)
    texts = texts or [f"Response {i} to prompt {prompt.pk}" for i in range(n_responses)]
    task = Task.objects.create(project=project, prompt=prompt, kind=project.kind, **fields)
    for position, text in enumerate(texts):
        response = ResponseFactory(prompt=prompt, text=text, source=f"model-{position}")
        TaskItem.objects.create(task=task, response=response, position=position)
    return task


def make_tasks(project: Project, count: int, **kwargs) -> list[Task]:
    return [make_task(project, **kwargs) for _ in range(count)]


def api_token(user, scope: str = "admin", days: int = 30) -> str:
    """A new API token of the user's (apps.accounts), as its user would make it: the token itself."""
    return api_token_create(user=user, name="test token", scope=scope, days=days)[1]
