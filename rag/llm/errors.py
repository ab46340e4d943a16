"""LLM failures and their user-facing reasons (never a secret in them)."""

from __future__ import annotations

import re


class LLMError(RuntimeError):
    """The LLM could not give an answer (unreachable, timed out, refused, or malformed)."""


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it (openai wraps httpx, httpx wraps the socket error)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


# Transport errors by class name: openai may bundle its own copy of httpx (`httpx2`), whose
# classes are not httpx's, so isinstance checks would miss them.
_DROPPED = {"RemoteProtocolError", "ReadError", "WriteError", "ConnectionResetError", "BrokenPipeError",
            "IncompleteRead"}
_CONNECT = {"ConnectError", "ConnectionRefusedError"}


def describe_connection_error(exc: BaseException) -> str | None:
    """Which way the connection to the LLM server failed, or None if it did not: a server that is
    not there refuses the connection; one that dies mid-answer closes it (issue #15)."""
    chain = _causes(exc)
    names = [type(e).__name__ for e in chain]
    # Checked before "connect": openai wraps a dropped stream in APIConnectionError too.
    if any(name in _DROPPED for name in names):
        return "the LLM server closed the connection during the answer"
    for e, name in zip(chain, names):
        if name == "ConnectionRefusedError" or (name in _CONNECT and "refused" in str(e).lower()):
            return "the LLM server is unreachable (it refused the connection)"
        if name in _CONNECT:  # the socket's reason ("Name or service not known"), any URL in it cut
            reason = re.sub(r"\S*://\S*", "(the server's URL)", str(e)[:120])
            return f"the LLM server is unreachable ({reason or 'could not connect'})"
    if any("Connection" in name for name in names):
        return "the LLM server is unreachable"
    return None


def describe_llm_error(exc: Exception) -> str:
    """A short, user-facing reason for an LLM failure."""
    name = exc.__class__.__name__
    if "Timeout" in name:
        return "the LLM timed out"
    connection = describe_connection_error(exc)
    if connection:
        return connection
    if "Authentication" in name or "PermissionDenied" in name:
        return "the LLM server refused the API key (check OPENAI_API_KEY)"
    # The exception's text is never passed on: a client error can hold the request (headers with
    # the key, the prompt with article text) or the server's echo of it. Only its class, HTTP
    # status and error code (which are short identifiers) say what went wrong.
    return f"the LLM failed ({', '.join([name, *_status(exc)])})"


_CODE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _status(exc: Exception) -> list[str]:
    """The HTTP status and the API's error code of an openai error, when it has them."""
    out = []
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        out.append(f"HTTP {status}")
    code = getattr(exc, "code", None)
    if isinstance(code, str) and _CODE.fullmatch(code) and not re.match(r"(sk|key|token)[-_]", code, re.I):
        out.append(code)
    return out
