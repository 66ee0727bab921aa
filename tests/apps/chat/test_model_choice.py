"""A chat project's local model is chosen, never typed as a path: the settings service and form
refuse anything else, and the reply is written by the chosen model, checked again when it loads."""

import os
import shutil

import pytest

from apps.chat.services import chat_backend_configure, message_send
from apps.core.errors import ApplicationError
from apps.generation import backends
from apps.projects.models import Membership, Role
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir
from tests.apps.chat.conftest import answered
from tests.factories import ProjectFactory, StaffFactory
from tests.models_offered import hostile_models, offer, unloaded_model
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = pytest.mark.django_db

ATTACKS = [
    "another project's run folder",
    "another project's run",
    "a model folder outside the roots",
    "a path that does not exist",
    "dot-dot out of a root",
    "a symlink out of a root",
    "a folder without a model",
    "a model not in the cache",
]


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    yield build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2")
    backends.clear_model_cache()


@pytest.fixture
def models(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.ARBITER_MODEL_HUB_CACHE = "off"
    stranger = StaffFactory()
    other = ProjectFactory(created_by=stranger, kind="chat")
    Membership.objects.create(project=other, user=stranger, role=Role.ADMIN)
    other_run = TrainingRun.objects.create(
        project=other,
        objective="kto",
        family="policy",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=stranger,
        output_dir="runs/other",
    )
    unloaded_model(run_model_dir(other_run))
    return hostile_models(
        settings, tmp_path, other_run_dir=run_model_dir(other_run), other_run_id=other_run.pk
    )


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_local_model_that_is_not_offered_is_refused_and_the_backend_kept(
    chat_project, chat_admin, models, attack
):
    before = dict(chat_project.generation_backend)

    with pytest.raises(
        ApplicationError, match=r"is not one of the models|is not a succeeded policy run"
    ):
        chat_backend_configure(
            project=chat_project,
            actor=chat_admin,
            config={"type": "transformers", "model": models.attacks[attack]},
        )

    chat_project.refresh_from_db()
    assert chat_project.generation_backend == before


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_settings_form_offers_choices_and_refuses_anything_else(
    client, chat_project, chat_admin, models, attack
):
    before = dict(chat_project.generation_backend)
    client.force_login(chat_admin)
    url = f"/projects/{chat_project.pk}/chat/settings/"

    page = client.get(url).content.decode()
    answer = client.post(url, {"type": "transformers", "local_model": models.attacks[attack]})

    assert f'value="{models.base}"' in page and str(models.root) not in page
    assert answer.status_code == 422  # refused: the form again, with its reasons
    assert "is not one of the available choices" in answer.content.decode()
    chat_project.refresh_from_db()
    assert chat_project.generation_backend == before


def test_a_chosen_base_model_writes_the_reply_and_is_named_by_its_reference(
    chat_project, chat_admin, chatter, conversation, tiny_gpt2, settings
):
    reference = offer(settings, tiny_gpt2)
    chat_backend_configure(
        project=chat_project,
        actor=chat_admin,
        config={"type": "transformers", "model": reference, "device": "cpu", "max_new_tokens": 4},
    )

    reply = answered(message_send(user=chatter, conversation_id=conversation.pk, content="Hi"))

    assert reply.status == "done" and not reply.error
    assert reply.model_name == reference  # never the server folder it resolves to


def test_a_model_swapped_for_a_symlink_after_it_was_chosen_is_refused_at_reply_time(
    chat_project, chat_admin, chatter, conversation, tiny_gpt2, settings, tmp_path
):
    root = tmp_path / "operator-models"
    shutil.copytree(tiny_gpt2, root / "gpt2")
    reference = offer(settings, root / "gpt2")
    chat_backend_configure(
        project=chat_project,
        actor=chat_admin,
        config={"type": "transformers", "model": reference, "device": "cpu"},
    )
    shutil.rmtree(root / "gpt2")
    os.symlink(tiny_gpt2, root / "gpt2")  # the same model, but now outside the root

    reply = answered(message_send(user=chatter, conversation_id=conversation.pk, content="Hi"))

    assert reply.content == ""
    assert f"'{reference}' is not one of the models" in reply.error
