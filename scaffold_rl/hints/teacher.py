"""All three hint tiers from a teacher model: the prompt, the parser of its tagged answer, two backends.

The paper had DeepSeek-R1 write, from problem + reference solution, three tagged sections with at
least 4 numbered items each, and stored 4 parts per tier (longer lists merged). The tags here are the
ones in the official data's raw teacher answers, so `parse_teacher_output` also reads those.
A backend is anything with `complete(prompt) -> str`; a local HF model and any OpenAI-compatible
server (vLLM, SGLang, llama.cpp, hosted APIs) are provided. `complete` may be called from several
threads at once when `generate_hints(concurrency=N > 1)`; `LocalHFTeacher` is meant for N = 1.
"""
from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from scaffold_rl.data.scaf_schema import PARTS_PER_TIER, merge_parts
from scaffold_rl.extras import require_extra

__all__ = [
    "TIER_TAGS",
    "Teacher",
    "TeacherError",
    "TeacherFatalError",
    "TeacherOutputError",
    "build_teacher_prompt",
    "parse_teacher_output",
    "LocalHFTeacher",
    "OpenAITeacher",
]

# tier -> tag of its section in the teacher's answer
TIER_TAGS: dict[str, str] = {
    "knowledge": "KNOWLEDGE_COMPONENTS",
    "planning": "PLANNING_SKELETON",
    "solution": "SOLUTION_BREAKDOWN",
}

_PROMPT = """You are writing hints for a student who cannot solve the math problem below. The hints come \
in three sections, each from least to most revealing. Use the reference solution to make them correct.

<KNOWLEDGE_COMPONENTS>: the concepts, definitions, theorems and formulas the solution relies on. \
State each in general form; do not apply it to this problem's numbers.
<PLANNING_SKELETON>: the ordered high-level strategy, one step per item, describing what to do and \
why. No calculations, no intermediate values, no final answer.
<SOLUTION_BREAKDOWN>: the reference solution cut into consecutive, self-contained steps with the \
concrete calculations, quoting or faithfully summarising it. The last step reaches the final answer.

Each section must contain at least {min_items} numbered items ("1.", "2.", ...), one item per line; \
if a section seems to need fewer, subdivide the items. Write each section between its opening and \
closing tag, exactly in this format, and write nothing after the last closing tag:

<KNOWLEDGE_COMPONENTS>
1. ...
2. ...
</KNOWLEDGE_COMPONENTS>
<PLANNING_SKELETON>
1. ...
</PLANNING_SKELETON>
<SOLUTION_BREAKDOWN>
1. ...
</SOLUTION_BREAKDOWN>

Problem:
{question}

{reference}"""


class TeacherError(RuntimeError):
    """The teacher backend failed to answer (network, server or model error), retries exhausted."""


class TeacherFatalError(TeacherError):
    """A failure no retry or other problem can get past (bad key, unknown model, server gone): the run stops."""


class TeacherOutputError(ValueError):
    """The teacher answered, but not in the requested format; the message is the rejection reason."""


class Teacher(Protocol):
    def complete(self, prompt: str) -> str:
        """The teacher's answer to one user prompt."""
        ...


def build_teacher_prompt(question: str, solution: str | None, answer: str | None) -> str:
    """The hint-writing prompt; without a reference solution the teacher gets the final answer only."""
    if solution and solution.strip():
        reference = f"Reference solution:\n{solution.strip()}"
        if answer:
            reference += f"\n\nFinal answer: {answer}"
    elif answer:
        reference = f"No reference solution is available. The correct final answer is: {answer}"
    else:
        raise ValueError("a teacher prompt needs a reference solution or a final answer")
    return _PROMPT.format(min_items=PARTS_PER_TIER, question=question.strip(), reference=reference)


def parse_teacher_output(text: str, min_items: int = PARTS_PER_TIER) -> dict[str, list[str]]:
    """The three tiers from a tagged answer, each merged to 4 parts; `TeacherOutputError` if malformed.

    A reasoning block (`<think>...</think>`) is skipped. Each section must be closed (an unclosed
    one usually means the output was cut off) and hold at least `min_items` items numbered 1, 2, ...
    in order; lines that do not start the next number continue the current item.
    """
    answer = text.rsplit("</think>", 1)[-1]
    tiers: dict[str, list[str]] = {}
    for tier, tag in TIER_TAGS.items():
        body = _section(answer, tag)
        items = _numbered_items(body)
        if len(items) < min_items:
            raise TeacherOutputError(f"section <{tag}> has {len(items)} numbered items, at least {min_items} needed")
        tiers[tier] = merge_parts(items)
    return tiers


def _section(text: str, tag: str) -> str:
    """The body of the last complete `<tag>...</tag>` section (tags case-insensitive)."""
    bodies = re.findall(rf"<\s*{tag}\s*>(.*?)<\s*/\s*{tag}\s*>", text, flags=re.S | re.I)
    if bodies:
        return bodies[-1]
    if re.search(rf"<\s*{tag}\s*>", text, flags=re.I):
        raise TeacherOutputError(f"section <{tag}> is not closed (output cut off?)")
    raise TeacherOutputError(f"section <{tag}> is missing")


# "1. text", "2) text", "**3.** text", "- 4. text"; bold is only stripped when it wraps the number.
_ITEM_RE = re.compile(r"^\s*(?:[-*]\s+)?(\*\*)?(\d+)\s*[.)](?(1)\*\*)\s*(.*)$")


def _numbered_items(body: str) -> list[str]:
    items: list[str] = []
    for line in body.splitlines():
        match = _ITEM_RE.match(line)
        if match and int(match.group(2)) == len(items) + 1:
            items.append(match.group(3).strip())
        elif items and line.strip():
            # A continuation line (sub-bullet, wrapped text) joins its item, as merged parts do.
            items[-1] = f"{items[-1]} {line.strip()}".strip()
    return [item for item in items if item]


class OpenAITeacher:
    """A model behind an OpenAI-compatible chat endpoint, called with the official `openai` client.

    The client is the `teacher` extra (`pip install 'scaffold-rl[teacher]'`). It is thread-safe and
    keeps one connection pool, so `generate_hints(concurrency=N)` shares one teacher across N threads.
    Transient failures (connection errors, timeouts, 408/409/429, 5xx) are retried `retries` times
    by the client itself: exponential backoff from 0.5 s to 8 s with jitter, honouring `Retry-After`.
    What retrying cannot fix fails at once with `TeacherFatalError`, which stops a generation run:
    a rejected key or permission (401/403), an unknown model or route (404), and a server still
    unreachable after the retries (every later request would fail the same way). Other errors
    (a 400 for one over-long prompt, a timeout, 5xx after the retries) are `TeacherError`: that
    problem's attempt is rejected and the run goes on. An answer without text is `TeacherOutputError`.
    `api_key` defaults to $OPENAI_API_KEY, else "EMPTY" (local servers such as vLLM ignore it).
    """

    FATAL_STATUS = frozenset({401, 403, 404})

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        temperature: float = 0.6,
        max_tokens: int | None = None,
        retries: int = 4,
    ) -> None:
        openai = require_extra("openai", "teacher", "the OpenAI-compatible teacher (--teacher-url)")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.base_url = _api_base(base_url)
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.retries = retries
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        # A proxy from the environment is meant for the internet; it would break a loopback server.
        http_client = openai.DefaultHttpxClient(trust_env=False) if _is_loopback(self.base_url) else None
        self._openai = openai
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=timeout_s,
                                    max_retries=retries, http_client=http_client)

    def complete(self, prompt: str) -> str:
        openai = self._openai
        options: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        where = f"{self.base_url} (model {self.model!r})"
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": prompt}], **options
            )
        except openai.APIStatusError as err:
            message = f"HTTP {err.status_code} from {where}: {_error_detail(err)}"
            if err.status_code in self.FATAL_STATUS:
                raise TeacherFatalError(message) from None
            raise TeacherError(f"{message}{self._gave_up(err.status_code)}") from None
        except openai.APITimeoutError:
            raise TeacherError(f"timeout calling {where}{self._gave_up()}") from None
        except openai.APIConnectionError as err:
            cause = err.__cause__ or err
            raise TeacherFatalError(f"cannot reach {where}: {type(cause).__name__}: {cause}"
                                    f"{self._gave_up()}") from None
        return _message_content(response)

    def _gave_up(self, status: int | None = None) -> str:
        transient = status is None or status in (408, 409, 429) or status >= 500
        return f" (gave up after {self.retries + 1} attempts)" if transient else ""


def _api_base(base_url: str) -> str:
    """Accept `http://host:port`, `.../v1` or the full `.../v1/chat/completions`; the client wants `.../v1`."""
    url = base_url.rstrip("/")
    url = url.removesuffix("/chat/completions")
    return url if url.endswith("/v1") else f"{url}/v1"


def _is_loopback(url: str) -> bool:
    return (urllib.parse.urlsplit(url).hostname or "") in ("localhost", "127.0.0.1", "::1")


def _error_detail(err: Any) -> str:
    """The server's own error message, short: `{"error": {"message": ...}}` or the raw body."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        body = inner.get("message", inner) if isinstance(inner, dict) else inner
    text = str(body if body is not None else err)
    return text[:300]


def _message_content(response: Any) -> str:
    """`choices[0].message.content`; a reply without text is a rejected output (the run retries it)."""
    try:
        choice = response.choices[0]
        content = choice.message.content
    except (AttributeError, IndexError, TypeError):
        raise TeacherOutputError(f"unexpected response shape: {str(response)[:200]}") from None
    if not isinstance(content, str) or not content.strip():
        raise TeacherOutputError(f"the reply has no text (finish_reason {getattr(choice, 'finish_reason', None)!r})")
    return content


class LocalHFTeacher:
    """A local Hugging Face chat model as teacher, generating with the library's own generator.

    Sequential: one prompt at a time, one model on one device; run it with `concurrency=1` (the CLI
    does), since threads sharing a model would not batch and would contend for the device.
    `temperature=0` decodes greedily. The model goes to `device` (default: CUDA when available).
    """

    def __init__(
        self,
        path: str | Path,
        max_new_tokens: int = 2048,
        temperature: float = 0.6,
        device: str | None = None,
        echo: Callable[[str], None] = print,
    ) -> None:
        import torch

        from scaffold_rl.models.loading import load_hf_model
        from scaffold_rl.rollout.generation import SamplingParams, TransformersGenerator

        model, self.tokenizer = load_hf_model(path, echo=echo)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.generator = TransformersGenerator(model.to(device), self.tokenizer, batch_size=1)
        self.params = SamplingParams(
            max_new_tokens=max_new_tokens, temperature=temperature or 1.0, greedy=temperature <= 0
        )

    def complete(self, prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # The chat template already writes any special tokens the model expects.
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        completion = self.generator.generate([ids], self.params)[0]
        return self.tokenizer.decode(completion.ids, skip_special_tokens=True)
