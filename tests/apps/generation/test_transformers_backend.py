"""TransformersBackend on a tiny GPT-2 built and saved by the test (no downloads)."""

import pytest

from apps.generation import backends
from apps.generation.backends import GenerationError, backend_from_config, render_prompt

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _save_tiny_model(path, *, chat_template: str | None = None):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    # Byte-level BPE: any text tokenizes, and every generated id decodes.
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(
        ["user: hello there", "assistant: hi, how can I help?", "What is 2+2? It is 4."],
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    yield _save_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))
    backends.clear_model_cache()


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    yield _save_tiny_model(tmp_path_factory.mktemp("tiny-chat"), chat_template=CHAT_TEMPLATE)
    backends.clear_model_cache()


def test_a_local_model_generates_text(tiny_model):
    backend = backend_from_config(
        {"type": "transformers", "model": tiny_model, "max_new_tokens": 8}
    )
    replies = backend.generate([{"role": "user", "content": "hello there"}], n=2, temperature=1.0)
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    assert any(replies), "a random tiny model still emits some text"


def test_the_model_is_loaded_once_per_path(tiny_model):
    config = {"type": "transformers", "model": tiny_model, "max_new_tokens": 2, "device": "cpu"}
    backend_from_config(config).generate([{"role": "user", "content": "hi"}])
    loaded = backends._MODELS[(tiny_model, "cpu")]
    backend_from_config(config).generate([{"role": "user", "content": "hi"}])
    assert backends._MODELS[(tiny_model, "cpu")] is loaded


def test_a_batch_answers_each_conversation_n_times(tiny_model):
    backend = backend_from_config({"type": "transformers", "model": tiny_model, "max_tokens": 4})
    conversations = [
        [{"role": "user", "content": "What is 2+2?"}],
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "how are you today, with a much longer turn?"},
        ],
    ]
    replies = backend.generate_batch(conversations, n=3, temperature=0.8, top_p=0.9)
    assert [len(r) for r in replies] == [3, 3]


def test_greedy_decoding_is_deterministic(tiny_model):
    backend = backend_from_config({"type": "transformers", "model": tiny_model, "max_tokens": 6})
    messages = [{"role": "user", "content": "hello there"}]
    first = backend.generate(messages, n=2, temperature=0)
    assert first[0] == first[1] == backend.generate(messages, temperature=0)[0]


def test_a_chat_that_outgrows_the_context_keeps_its_latest_turns(tiny_model):
    backend = backend_from_config({"type": "transformers", "model": tiny_model, "max_tokens": 8})
    long_chat = [{"role": "user", "content": "hello there " * 100}]
    assert len(backend.generate(long_chat, temperature=0)) == 1


def test_the_chat_template_is_used_when_the_tokenizer_has_one(tiny_model, tiny_chat_model):
    from transformers import AutoTokenizer

    messages = [{"role": "user", "content": "hi"}]
    with_template = AutoTokenizer.from_pretrained(tiny_chat_model, local_files_only=True)
    assert render_prompt(with_template, messages) == ("<|user|>hi\n<|assistant|>", False)
    plain = AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)
    assert render_prompt(plain, messages) == ("user: hi\nassistant:", True)
    backend = backend_from_config({"type": "transformers", "model": tiny_chat_model})
    assert len(backend.generate(messages, max_tokens=4)) == 1


def test_a_missing_model_is_a_generation_error(tmp_path):
    backend = backend_from_config({"type": "transformers", "model": str(tmp_path / "nothing")})
    with pytest.raises(GenerationError, match="Could not load the local model"):
        backend.generate([{"role": "user", "content": "hi"}])


def test_a_chat_template_that_refuses_a_conversation_is_a_generation_error(tmp_path):
    strict = "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}"
    path = _save_tiny_model(tmp_path / "strict", chat_template=strict)
    backend = backend_from_config({"type": "transformers", "model": path, "max_tokens": 2})
    assert len(backend.generate([{"role": "user", "content": "hi"}])) == 1
    with pytest.raises(GenerationError, match="System role not supported"):
        backend.generate(
            [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]
        )
