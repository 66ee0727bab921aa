"""Generation backends: where a model's replies come from.

Shared by the chat app and generation jobs; nothing here touches the database. A backend is
built from a small JSON-able config dict:

    {"type": "transformers", "model": "/path/or/model-id", "max_new_tokens": 128}
    {"type": "openai", "base_url": "https://host/v1", "model": "m", "api_key": "..."}

What is stored (a project's chat backend, a job's models) names a ModelEndpoint row instead of a
URL and key: {"type": "openai", "endpoint": 3, "model": "m"}; apps/generation/endpoints.py turns it
into the form above, key decrypted, just before the call. Every request of the openai backend
goes through the outbound guard (apps/core/outbound.py): the URL is resolved once, refused unless
public or allowed by the operator, and the connection pinned to the checked address.

Config keys, all but `type` and `model` (and `base_url` or `endpoint` for "openai") optional:

    type          "transformers" (a local model, loaded offline) or "openai" (any server that
                  speaks OpenAI's chat completions: vLLM, Ollama, llama.cpp, OpenAI itself).
    model         transformers: a directory or a model id already in the local cache;
                  openai: the model name the server expects.
    max_new_tokens / max_tokens
                  default reply length in tokens (one of the two; 256 when unset).
    temperature   default sampling temperature, >= 0; 0 means greedy (default 0.7).
    top_p         default nucleus mass, in (0, 1] (default 1.0).
    timeout       seconds: per HTTP attempt (openai, default 60), or the longest a local
                  generation may run (transformers, default: no limit).
    base_url      openai: the server's API root, e.g. https://host:8000/v1.
    api_key       openai, with base_url: sent as `Authorization: Bearer <key>` when set.
    endpoint      openai, stored form: the id of the project's ModelEndpoint (URL and key).
    max_retries   openai: extra attempts after a timeout, a 5xx/429 or a malformed answer
                  (default 2, so 3 attempts in all).
    backoff       openai: seconds before the first retry, doubled before each next (default 0.5).
    device        transformers: "auto" (CUDA when available), "cpu" or "cuda".
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from apps.core.outbound import UnsafeTarget, pinned_httpx_client, resolve_target

try:
    import httpx
except ImportError:  # pragma: no cover - a declared dependency; fail on use, not on import
    httpx = None

Messages = list[dict[str, str]]

BACKEND_TYPES = ("openai", "transformers")
DEFAULT_MAX_TOKENS = 256
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 1.0
SECRET_KEYS = frozenset({"api_key"})

_COMMON_KEYS = {"type", "model", "max_new_tokens", "max_tokens", "temperature", "top_p", "timeout"}
_KEYS = {
    "openai": _COMMON_KEYS | {"base_url", "api_key", "endpoint", "max_retries", "backoff"},
    "transformers": _COMMON_KEYS | {"device"},
}
_ROLES = ("system", "user", "assistant")


class GenerationError(Exception):
    """A backend could not produce a reply. `reason` says why, in words fit for a user."""

    def __init__(self, reason: str, *, attempts: int = 1):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class BackendConfigError(ValueError):
    """A backend config is unusable; the message names the key and what is wrong with it."""


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of one call, with the config's defaults filled in."""

    n: int
    temperature: float
    top_p: float
    max_tokens: int


class GenerationBackend(ABC):
    """Replies to chat messages ([{"role": "user", "content": "..."}, ...])."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.model_name: str = config["model"]

    def generate(
        self,
        messages: Messages,
        *,
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
    ) -> list[str]:
        """`n` replies to one conversation. Raises GenerationError."""
        return self.generate_batch(
            [messages], n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens
        )[0]

    def generate_batch(
        self,
        conversations: list[Messages],
        *,
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
    ) -> list[list[str]]:
        """`n` replies to each conversation, in order. Raises GenerationError."""
        for messages in conversations:
            _check_messages(messages)
        sampling = self._sampling(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens)
        if not conversations:
            return []
        return self._generate_batch(conversations, sampling)

    def close(self) -> None:
        """Releases connections; local models stay cached for the next backend."""
        return None

    def __enter__(self) -> GenerationBackend:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @abstractmethod
    def _generate_batch(self, conversations: list[Messages], sampling: Sampling) -> list[list[str]]:
        """The backend's own work, on checked input."""

    def _sampling(self, *, n, temperature, top_p, max_tokens) -> Sampling:
        config = self.config
        sampling = {
            "n": n,
            "temperature": config.get("temperature", DEFAULT_TEMPERATURE)
            if temperature is None
            else temperature,
            "top_p": config.get("top_p", DEFAULT_TOP_P) if top_p is None else top_p,
            "max_tokens": _default_max_tokens(config) if max_tokens is None else max_tokens,
        }
        try:
            _check_sampling(sampling)
        except BackendConfigError as exc:
            raise ValueError(str(exc)) from None
        return Sampling(**sampling)


# --- config -------------------------------------------------------------------------------------


def validate_config(config: Any) -> dict[str, Any]:
    """The config, checked, with surrounding whitespace trimmed from its strings.

    Raises BackendConfigError naming the first problem found.
    """
    if not isinstance(config, dict) or not config:
        raise BackendConfigError("No generation backend is configured.")
    kind = config.get("type")
    if kind not in BACKEND_TYPES:
        raise BackendConfigError(
            f"Unknown backend type {kind!r}: use one of {', '.join(BACKEND_TYPES)}."
        )
    unknown = sorted(set(config) - _KEYS[kind])
    if unknown:
        raise BackendConfigError(
            f"Unknown key(s) for a {kind} backend: {', '.join(unknown)}. "
            f"Known keys: {', '.join(sorted(_KEYS[kind]))}."
        )
    clean = {k: v.strip() if isinstance(v, str) else v for k, v in config.items()}
    if not isinstance(clean.get("model"), str) or not clean["model"]:
        raise BackendConfigError(f"A {kind} backend needs a `model` (a name or path).")
    if "max_new_tokens" in clean and "max_tokens" in clean:
        raise BackendConfigError("Give `max_new_tokens` or `max_tokens`, not both.")
    _check_sampling(
        {
            "n": 1,
            "temperature": clean.get("temperature", DEFAULT_TEMPERATURE),
            "top_p": clean.get("top_p", DEFAULT_TOP_P),
            "max_tokens": _default_max_tokens(clean),
        }
    )
    if "timeout" in clean:
        _check_number(clean, "timeout", minimum=0, exclusive=True)
    if kind == "openai":
        if "endpoint" in clean:
            if "base_url" in clean or "api_key" in clean:
                raise BackendConfigError(
                    "Give an `endpoint` or a `base_url` (with its `api_key`), not both."
                )
            _check_int(clean, "endpoint", minimum=1)
        else:
            base_url = clean.get("base_url")
            if not isinstance(base_url, str) or not base_url:
                raise BackendConfigError(
                    "An openai backend needs a `base_url`, e.g. https://host:8000/v1."
                )
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise BackendConfigError(f"`base_url` must be an http(s) URL, not {base_url!r}.")
            clean["base_url"] = base_url.rstrip("/")
            if "api_key" in clean and not isinstance(clean["api_key"], str):
                raise BackendConfigError("`api_key` must be a string.")
            if not clean.get("api_key"):
                clean.pop("api_key", None)
        if "max_retries" in clean:
            _check_int(clean, "max_retries", minimum=0)
        if "backoff" in clean:
            _check_number(clean, "backoff", minimum=0)
    elif clean.get("device", "auto") not in ("auto", "cpu", "cuda"):
        raise BackendConfigError("`device` must be auto, cpu or cuda.")
    return clean


def redact_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config without its secrets, fit to store next to data or show on a page."""
    return {k: v for k, v in config.items() if k not in SECRET_KEYS}


def backend_from_config(config: dict[str, Any]) -> GenerationBackend:
    """The backend a config describes. Raises BackendConfigError if the config is unusable."""
    clean = validate_config(config)
    if clean["type"] == "openai":
        return OpenAICompatibleBackend(clean)
    return TransformersBackend(clean)


def _default_max_tokens(config: dict[str, Any]) -> Any:
    return config.get("max_new_tokens", config.get("max_tokens", DEFAULT_MAX_TOKENS))


def _check_sampling(sampling: dict[str, Any]) -> None:
    _check_int(sampling, "n", minimum=1)
    _check_number(sampling, "temperature", minimum=0)
    _check_number(sampling, "top_p", minimum=0, exclusive=True, maximum=1)
    _check_int(sampling, "max_tokens", minimum=1)


def _check_int(values: dict, key: str, *, minimum: int) -> None:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BackendConfigError(f"`{key}` must be a whole number >= {minimum}, not {value!r}.")


def _check_number(
    values: dict, key: str, *, minimum: float, exclusive: bool = False, maximum: float | None = None
) -> None:
    value = values[key]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        ok = (value > minimum if exclusive else value >= minimum) and (
            maximum is None or value <= maximum
        )
    if not ok:
        bound = f"> {minimum}" if exclusive else f">= {minimum}"
        if maximum is not None:
            bound += f" and <= {maximum}"
        raise BackendConfigError(f"`{key}` must be a number {bound}, not {value!r}.")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise ValueError("A conversation is a non-empty list of messages.")
    for message in messages:
        if (
            not isinstance(message, dict)
            or message.get("role") not in _ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise ValueError(
                f"Each message needs a role ({', '.join(_ROLES)}) and a string content: {message!r}"
            )


# --- OpenAI-compatible HTTP servers -------------------------------------------------------------


class _Retryable(Exception):
    """One attempt failed in a way that another attempt may not."""


class OpenAICompatibleBackend(GenerationBackend):
    """POST {base_url}/chat/completions, as vLLM, Ollama, llama.cpp's server and OpenAI answer it.

    Timeouts, connection errors, 429, 5xx and malformed answers are retried with exponential
    backoff; any other 4xx, and any redirect (never followed), is final. After the last attempt,
    GenerationError says why, by status and reason: the server's own words are never repeated.
    The server's address is checked and pinned when the backend is made (apps/core/outbound.py);
    a refused address raises BackendConfigError.
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        if httpx is None:
            raise BackendConfigError("The openai backend needs the httpx package installed.")
        if "base_url" not in config:
            raise BackendConfigError(
                "This openai backend names a model endpoint; the app looks it up before the call."
            )
        self.url = f"{config['base_url']}/chat/completions"
        try:
            target = resolve_target(self.url, purpose="The model server URL")
        except UnsafeTarget as exc:
            raise BackendConfigError(exc.message) from None
        self.timeout = float(config.get("timeout", 60.0))
        self.max_retries = int(config.get("max_retries", 2))
        self.backoff = float(config.get("backoff", 0.5))
        headers = {"Content-Type": "application/json"}
        if config.get("api_key"):
            headers["Authorization"] = f"Bearer {config['api_key']}"
        self._client = pinned_httpx_client(
            target,
            headers=headers,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
        )

    def close(self) -> None:
        self._client.close()

    def _generate_batch(self, conversations: list[Messages], sampling: Sampling) -> list[list[str]]:
        if len(conversations) == 1:
            return [self._replies(conversations[0], sampling)]
        # Concurrent requests let a vLLM server batch them; httpx.Client is thread-safe.
        with ThreadPoolExecutor(max_workers=min(8, len(conversations))) as pool:
            return list(pool.map(lambda m: self._replies(m, sampling), conversations))

    def _replies(self, messages: Messages, sampling: Sampling) -> list[str]:
        replies: list[str] = []
        # Some servers (Ollama) answer one choice whatever `n` asks: ask again for the rest.
        while len(replies) < sampling.n:
            replies += self._request(messages, sampling, n=sampling.n - len(replies))
        return replies[: sampling.n]

    def _request(self, messages: Messages, sampling: Sampling, *, n: int) -> list[str]:
        body = {
            "model": self.model_name,
            "messages": messages,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if n > 1:
            body["n"] = n
        attempts = self.max_retries + 1
        reason = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._attempt(body)
            except _Retryable as exc:
                reason = str(exc)
        raise GenerationError(
            f"The generation server failed after {attempts} attempt{'s' * (attempts > 1)}: "
            f"{reason}",
            attempts=attempts,
        )

    def _attempt(self, body: dict) -> list[str]:
        try:
            answer = self._client.post(self.url, json=body)
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {self.timeout:g} s (timeout)") from None
        except httpx.ConnectError as exc:  # the system's words ("Connection refused")
            raise _Retryable(f"could not reach the server (ConnectError: {exc})") from None
        except httpx.TransportError as exc:  # a protocol error may quote the server: name it only
            raise _Retryable(f"could not reach the server ({type(exc).__name__})") from None
        status = answer.status_code
        if status == 429 or status >= 500:
            raise _Retryable(_status_line(status))
        if 300 <= status < 400:
            raise GenerationError(
                f"The generation server answered {_status_line(status)}; redirects are not "
                "followed: give the URL it redirects to, if that is where the server is."
            )
        if status >= 400:
            raise GenerationError(
                f"The generation server refused the request: {_status_line(status)}."
            )
        try:
            data = answer.json()
            replies = [choice["message"]["content"] for choice in data["choices"]]
        except (ValueError, KeyError, TypeError, IndexError):
            raise _Retryable(f"{_status_line(status)} with a malformed JSON answer") from None
        if not replies or not all(isinstance(reply, str) for reply in replies):
            raise _Retryable(f"{_status_line(status)} with no text choices in its JSON answer")
        return replies


def _status_line(status: int) -> str:
    """ "HTTP 503 Service Unavailable": the standard phrase, not the one the server sent."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


# --- local transformers models ------------------------------------------------------------------


@dataclass
class _LoadedModel:
    model: Any
    tokenizer: Any
    device: Any
    lock: threading.Lock  # one generate() at a time per model; the tokenizer is shared state


_MODELS: dict[tuple[str, str], _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget the loaded local models (their memory is freed once nothing else holds them)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def _load(path: str, device_preference: str) -> _LoadedModel:
    """The model and tokenizer at `path`, loaded once per process and device (offline only)."""
    import torch

    cuda = torch.cuda.is_available()
    if device_preference == "cuda" and not cuda:
        raise GenerationError("The backend asks for CUDA, but this machine has no CUDA device.")
    device = torch.device(
        "cuda" if device_preference == "cuda" or (device_preference == "auto" and cuda) else "cpu"
    )
    key = (path, device.type)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32  # CPUs here lack native bf16: it would only be slower
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise GenerationError(f"Could not load the local model {path!r}: {exc}") from None
        model.to(device).eval()
        tokenizer.padding_side = "left"  # decoder-only: new tokens follow the prompt directly
        tokenizer.truncation_side = "left"  # keep the latest turns when a chat is too long
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        loaded = _LoadedModel(
            model=model, tokenizer=tokenizer, device=device, lock=threading.Lock()
        )
        _MODELS[key] = loaded
        return loaded


def render_prompt(tokenizer: Any, messages: Messages) -> tuple[str, bool]:
    """The prompt text for `messages`, and whether the tokenizer should add its special tokens.

    The tokenizer's chat template when it has one (it adds BOS and the like itself); otherwise
    one "role: content" line per message, ending with "assistant:" for the model to continue.
    """
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text, False
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"]), True


class TransformersBackend(GenerationBackend):
    """A causal LM run in this process with transformers, on CUDA when there is one.

    Loads offline (`local_files_only`), once per path and device per process. Prompts longer than
    the model's context keep their latest tokens.
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.device_preference = config.get("device", "auto")
        self.max_time = config.get("timeout")

    def _generate_batch(self, conversations: list[Messages], sampling: Sampling) -> list[list[str]]:
        import torch

        loaded = _load(self.model_name, self.device_preference)
        tokenizer, model = loaded.tokenizer, loaded.model
        try:
            prompts = [render_prompt(tokenizer, messages) for messages in conversations]
        except Exception as exc:  # jinja2 errors raised by templates, e.g. "no system role"
            raise GenerationError(
                f"The model's chat template refused the conversation: {exc}"
            ) from None
        add_special = prompts[0][1]
        context = getattr(model.config, "max_position_embeddings", None) or getattr(
            model.config, "n_positions", None
        )
        max_prompt = context - sampling.max_tokens if context else None
        if max_prompt is not None and max_prompt < 1:
            raise GenerationError(
                f"max_tokens={sampling.max_tokens} leaves no room for the prompt in this "
                f"model's {context}-token context."
            )
        sample = sampling.temperature > 0
        # Greedy decoding gives one answer per prompt: repeat it rather than ask for n copies.
        per_prompt = sampling.n if sample else 1
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens,
            "do_sample": sample,
            "num_return_sequences": per_prompt,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
        if self.max_time:
            kwargs["max_time"] = float(self.max_time)
        with loaded.lock, torch.inference_mode():
            try:
                encoded = tokenizer(
                    [text for text, _ in prompts],
                    return_tensors="pt",
                    padding=True,
                    truncation=max_prompt is not None,
                    max_length=max_prompt,
                    add_special_tokens=add_special,
                ).to(loaded.device)
                output = model.generate(**encoded, **kwargs)
            except (RuntimeError, ValueError) as exc:  # CUDA out of memory, bad settings
                raise GenerationError(f"The local model failed to generate: {exc}") from None
            new_tokens = output[:, encoded["input_ids"].shape[1] :]
            texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        texts = [text.strip() for text in texts]
        return [
            texts[i * per_prompt : (i + 1) * per_prompt] * (sampling.n // per_prompt)
            for i in range(len(conversations))
        ]


__all__ = [
    "BACKEND_TYPES",
    "BackendConfigError",
    "GenerationBackend",
    "GenerationError",
    "OpenAICompatibleBackend",
    "TransformersBackend",
    "backend_from_config",
    "clear_model_cache",
    "redact_config",
    "render_prompt",
    "validate_config",
]
