"""The exports are what TRL's trainers read: one DPO step on the preference export and one KTO
step on the unpaired export, on a tiny GPT-2 and a word-level tokenizer built here (no
downloads). Settings per STACK-NOTES: fp32, no activation (gradient) checkpointing, CPU, no reporting."""

import pytest

from apps.projects.models import FeedbackKind
from tests.apps.exports.helpers import judge, load_hf, write_export
from tests.factories import UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def tiny_model(directory, texts: list[str]) -> tuple[str, object]:
    """A 2-layer GPT-2 and a tokenizer over the words of `texts`, saved to `directory`: TRL
    reloads the reference model from the path, so an in-memory model will not do."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel(unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    words.decoder = decoders.ByteLevel()
    words.train_from_iterator(
        texts, trainers.WordLevelTrainer(special_tokens=["<unk>", "<pad>", "<eos>"])
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<eos>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(directory)
    return str(directory), tokenizer


def cpu_args(config_class, out, **extra):
    return config_class(
        output_dir=str(out),
        max_steps=1,
        per_device_train_batch_size=2,
        use_cpu=True,
        bf16=False,
        fp16=False,
        activation_checkpointing=False,  # TRL turns it on by default; slow on a CPU
        report_to=[],
        save_strategy="no",
        max_length=64,
        **extra,
    )


def all_texts(dataset, columns) -> list[str]:
    out = []
    for row in dataset:
        for column in columns:
            value = row[column]
            out.extend(m["content"] for m in value) if isinstance(value, list) else out.append(
                value
            )
    return out


@pytest.mark.parametrize(("form", "fmt"), [("standard", "jsonl"), ("conversational", "parquet")])
def test_dpo_trains_a_step_on_the_preference_export(project, tmp_path, form, fmt):
    from trl import DPOConfig, DPOTrainer

    annotator = add_member(project, UserFactory())
    for _ in range(4):
        judge(make_task(project), annotator, {"choice": "A", "strength": "clearly"})
    path = write_export(project, "pairs", tmp_path / f"pairs.{fmt}", form=form, format=fmt)
    dataset = load_hf(path)
    model, tokenizer = tiny_model(
        tmp_path / "model", all_texts(dataset, ["prompt", "chosen", "rejected"])
    )

    trainer = DPOTrainer(
        model=model,
        args=cpu_args(DPOConfig, tmp_path / "out"),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    result = trainer.train()

    assert result.global_step == 1
    assert result.training_loss == pytest.approx(0.6931, abs=0.01)  # log 2 at the first step


def test_kto_trains_a_step_on_the_unpaired_export(project, tmp_path):
    from trl import KTOConfig, KTOTrainer

    project.kind = FeedbackKind.THUMBS
    project.save()
    annotator = add_member(project, UserFactory())
    for i in range(6):
        judge(make_task(project, n_responses=1), annotator, {"labels": [i % 2 == 0]})
    dataset = load_hf(write_export(project, "unpaired", tmp_path / "unpaired.jsonl"))
    assert set(dataset["label"]) == {True, False}
    model, tokenizer = tiny_model(tmp_path / "model", all_texts(dataset, ["prompt", "completion"]))

    trainer = KTOTrainer(
        model=model,
        args=cpu_args(KTOConfig, tmp_path / "out"),  # batch 2: KTO pairs neighbours for its KL term
        train_dataset=dataset.shuffle(seed=0),
        processing_class=tokenizer,
    )
    result = trainer.train()

    assert result.global_step == 1
    assert result.training_loss > 0
