"""One base exception for everything a user can cause, and the exit codes the CLI maps them to.

Library code raises a subclass of :class:`LlamatplError` whose message is already the one line a
user should read (it names the file and the place inside it); the CLI prints that line on stderr
and exits with :attr:`LlamatplError.exit_code`. Nothing a user can cause shows a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class LlamatplError(Exception):
    """A problem with the user's input, template or options: one line, exit code 2."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def at(self, where: str) -> LlamatplError:
        """The same error, its message led by ``where`` (``data.jsonl:5``) unless it already is."""
        if not self.message.startswith(f"{where}:"):
            self.message = f"{where}: {self.message}"
            self.args = (self.message,)
        return self


class InputError(LlamatplError):
    """A conversation file that is missing, not JSON, or not a valid conversation."""


class UsageError(LlamatplError):
    """Options that cannot go together, or an engine flag the engine does not have: exit code 2."""


class EngineRejected(InputError):
    """A request the serving engine itself would refuse (``vllm rejects messages[1]...: reason``).

    ``template_error`` is set when the refusal is the template raising (vLLM answers a template
    exception with a 400): for verify that is the template's fault, not the request's.
    """

    def __init__(self, message: str, *, template_error: RenderError | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.template_error = template_error
        self.reason = reason or message  # "vllm rejects PLACE: WHY", without the conversation's name


class TemplateNotFound(LlamatplError):
    """A template name, path, version or model folder that does not resolve to a chat template."""


class InvalidTemplate(LlamatplError):
    """A template that does not parse as Jinja."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class RenderError(LlamatplError):
    """The template raised while rendering (``raise_exception``, an undefined value, a type error)."""

    def __init__(self, message: str, *, line: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.reason = reason or message


class TemplateRaised(RenderError):
    """The template refused the input on purpose, with ``raise_exception(message)``."""


class SandboxViolation(RenderError):
    """The template tried something the sandbox forbids (private attributes, mutation, unsafe calls)."""


class LimitExceeded(RenderError):
    """The template ran past a time, size or recursion limit (see :class:`llamatpl.limits.Limits`)."""
