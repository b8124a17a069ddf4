"""All three hint tiers from a teacher model: the prompt, the parser of its tagged answer, two backends.

The paper had DeepSeek-R1 write, from problem + reference solution, three tagged sections with at
least 4 numbered items each, and stored 4 parts per tier (longer lists merged). The tags here are the
ones in the official data's raw teacher answers, so `parse_teacher_output` also reads those.
A backend is anything with `complete(prompt) -> str`; a local HF model and any OpenAI-compatible
server (vLLM, SGLang, llama.cpp, hosted APIs) are provided.
"""
from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from scaffold_rl.data.scaf_schema import PARTS_PER_TIER, merge_parts

__all__ = [
    "TIER_TAGS",
    "Teacher",
    "TeacherError",
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
    """A model behind an OpenAI-compatible `/v1/chat/completions` endpoint, called with urllib.

    Network errors, timeouts, 408/409/429 and 5xx answers are retried with exponential backoff
    (honouring `Retry-After`); other 4xx answers (bad key, unknown model) fail at once, since
    retrying cannot fix them. `api_key` defaults to $OPENAI_API_KEY and may be absent for local servers.
    """

    RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        temperature: float = 0.6,
        max_tokens: int | None = None,
        retries: int = 4,
        backoff_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = _chat_url(base_url)
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep

    def complete(self, prompt: str) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        last_error = ""
        for attempt in range(self.retries + 1):
            try:
                return _message_content(self._post(body))
            except urllib.error.HTTPError as err:
                detail = err.read()[:300].decode("utf-8", "replace")
                last_error = f"HTTP {err.code} from {self.url}: {detail}"
                if err.code not in self.RETRY_STATUS:
                    raise TeacherError(last_error) from None
                wait = _retry_after(err.headers.get("Retry-After"))
            except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as err:
                last_error = f"{type(err).__name__} calling {self.url}: {err}"
                wait = None
            if attempt < self.retries:
                self._sleep(min(60.0, wait if wait is not None else self.backoff_s * 2**attempt))
        raise TeacherError(f"{last_error} (gave up after {self.retries + 1} attempts)")

    def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with _opener(self.url).open(request, timeout=self.timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))


def _opener(url: str) -> urllib.request.OpenerDirector:
    """Loopback servers are reached directly: an `http_proxy` meant for the internet would break them."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _chat_url(base_url: str) -> str:
    """Accept `http://host:port`, `.../v1` or the full `.../v1/chat/completions`."""
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return f"{url}/chat/completions" if url.endswith("/v1") else f"{url}/v1/chat/completions"


def _message_content(payload: Any) -> str:
    """`choices[0].message.content`; a malformed body raises ValueError, which is retried."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"unexpected response shape: {str(payload)[:200]}") from None
    if not isinstance(content, str):
        raise ValueError(f"message content is {type(content).__name__}, not text")
    return content


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date; plain backoff is good enough


class LocalHFTeacher:
    """A local Hugging Face chat model as teacher, generating with the library's own generator.

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
