import pytest

from apps.generation.backends import (
    BackendConfigError,
    OpenAICompatibleBackend,
    TransformersBackend,
    backend_from_config,
    redact_config,
    validate_config,
)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "No generation backend is configured"),
        ({"type": "gpt"}, "Unknown backend type 'gpt'"),
        ({"type": "openai", "base_url": "http://h/v1"}, "needs a `model`"),
        ({"type": "openai", "model": "m"}, "needs a `base_url`"),
        ({"type": "openai", "model": "m", "base_url": "h:80/v1"}, "must be an http(s) URL"),
        ({"type": "transformers", "model": "/m", "base_url": "x"}, "Unknown key(s)"),
        ({"type": "openai", "model": "m", "endpoint": 1, "base_url": "http://h"}, "not both"),
        ({"type": "openai", "model": "m", "endpoint": 1, "api_key": "k"}, "not both"),
        ({"type": "openai", "model": "m", "endpoint": "1"}, "`endpoint` must be a whole number"),
        ({"type": "transformers", "model": "/m", "temperature": -1}, "`temperature` must be"),
        ({"type": "transformers", "model": "/m", "top_p": 0}, "`top_p` must be"),
        ({"type": "transformers", "model": "/m", "max_new_tokens": 0}, "`max_tokens` must be"),
        ({"type": "transformers", "model": "/m", "device": "tpu"}, "`device` must be"),
        (
            {"type": "transformers", "model": "/m", "max_tokens": 5, "max_new_tokens": 5},
            "not both",
        ),
    ],
)
def test_unusable_configs_are_refused_with_a_clear_reason(config, message):
    with pytest.raises(BackendConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        backend_from_config(config)


def test_the_factory_builds_the_backend_the_type_names(settings):
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1:8001"]
    openai = backend_from_config(
        {"type": "openai", "base_url": " http://127.0.0.1:8001/v1/ ", "model": "m", "api_key": ""}
    )
    assert isinstance(openai, OpenAICompatibleBackend)
    assert openai.url == "http://127.0.0.1:8001/v1/chat/completions"
    local = backend_from_config({"type": "transformers", "model": "/models/tiny"})
    assert isinstance(local, TransformersBackend) and local.model_name == "/models/tiny"


def test_an_empty_api_key_is_dropped_and_redaction_removes_the_key():
    config = {"type": "openai", "base_url": "http://h/v1", "model": "m"}
    assert "api_key" not in validate_config({**config, "api_key": ""})
    assert redact_config({**config, "api_key": "sk-secret"}) == config
