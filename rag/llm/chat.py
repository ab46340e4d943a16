"""The chat model as one component: built once from settings (or injected), and the one place
that runs a prompt file through it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.llm.errors import LLMError, describe_llm_error
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable, RunnableConfig

log = logging.getLogger(__name__)

@dataclass
class ChatLLM:
    """A LangChain chat model plus what Newsdesk needs to know to use it well."""

    model: BaseChatModel
    name: str
    context_tokens: int
    max_tokens: int

    @classmethod
    def wrap(cls, model: BaseChatModel, settings: Settings) -> ChatLLM:
        """Any LangChain chat model (tests pass fake ones), sized by the settings."""
        return cls(model, settings.llm_model, settings.llm_context_tokens, settings.llm_max_tokens)

    @property
    def input_budget(self) -> int:
        """Tokens left for the prompt: the window less the answer and the chat template's framing."""
        return self.context_tokens - self.max_tokens - 100

    def chain(self, human_file: str, system_file: str | None = None) -> Runnable:
        """prompt (template files in prompts/) | model | text."""
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        import prompts

        messages = [("system", prompts.load(system_file))] if system_file else []
        prompt = ChatPromptTemplate.from_messages([*messages, ("human", prompts.load(human_file))])
        return prompt | self.model | StrOutputParser()

    def run(self, human_file: str, values: dict[str, Any], system_file: str | None = None,
            on_token: Callable[[str], None] | None = None, config: RunnableConfig | None = None,
            empty: str = "the LLM returned an empty answer") -> str:
        """The model's text for the prompt files filled with `values`, streamed to `on_token` when
        given. Raises LLMError on any failure, and with `empty` on an empty text."""
        return run_runnable(self.chain(human_file, system_file), values, on_token, config, empty)


def run_runnable(chain: Runnable, values: Any, on_token: Callable[[str], None] | None = None,
                 config: RunnableConfig | None = None, empty: str = "the LLM returned an empty answer") -> str:
    """Run a text-producing runnable (streamed when `on_token` is given); every failure, whatever
    openai or httpx raised, becomes an LLMError with a user-facing reason."""
    pieces: list[str] = []
    try:
        if on_token is None:
            pieces.append(chain.invoke(values, config=config))
        else:
            for piece in chain.stream(values, config=config):
                pieces.append(piece)
                on_token(piece)
    except Exception as exc:  # openai/httpx raise many types; all mean "no LLM text"
        raise LLMError(describe_llm_error(exc)) from exc
    text = "".join(pieces).strip()
    if not text:
        raise LLMError(empty)
    return text


def build_llm(settings: Settings) -> ChatLLM | None:
    """The configured LLM, or None when Newsdesk answers without one (NEWSDESK_LLM=none, or `auto`
    with neither OPENAI_API_KEY nor NEWSDESK_LLM_BASE_URL set)."""
    if not settings.llm_enabled:
        return None
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    warn_if_key_goes_astray(key, settings.llm_base_url)
    model = ChatOpenAI(
        model=settings.llm_model, base_url=settings.llm_base_url, api_key=key,  # type: ignore[arg-type]
        timeout=settings.llm_timeout, max_retries=0, temperature=0.0, streaming=True,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
    )
    return ChatLLM.wrap(model, settings)


OPENAI_HOST = "api.openai.com"  # where the OpenAI client sends requests without a base URL
_WARNED_HOSTS: set[str] = set()


def warn_if_key_goes_astray(key: str, base_url: str | None) -> bool:
    """Log a WARNING (once per host) when an OpenAI-style key (`sk-...`) would be sent to a host
    other than api.openai.com; True if this call warned (issue #18 item 20).

    The key and the base URL may come from different places: a `.env` in the working directory
    can set NEWSDESK_LLM_BASE_URL while OPENAI_API_KEY comes from the real environment, and
    every request then carries the key to that server. Local servers (127.0.0.1, localhost) are
    warned about too when such a key goes there: they need no key, so a real one reaching them
    is a leftover setting, and on a shared machine another user may own the port. Keys of other
    shapes (a company gateway's, "not-needed") are not warned about: their usual host is unknown.
    The message names the host, never the key."""
    from urllib.parse import urlsplit

    if not key.startswith("sk-") or not base_url:
        return False
    host = (urlsplit(base_url).hostname or base_url).lower()
    if host == OPENAI_HOST or host in _WARNED_HOSTS:
        return False
    _WARNED_HOSTS.add(host)
    log.warning("OPENAI_API_KEY holds an OpenAI key, but NEWSDESK_LLM_BASE_URL sends it to %s, not %s: "
                "check where NEWSDESK_LLM_BASE_URL is set (a .env in the working directory?) and unset "
                "OPENAI_API_KEY if that server needs no key", host, OPENAI_HOST)
    return True
