"""Tool calls from a llama.cpp model in this process, by grammar.

llama-cpp-python's ``chatml-function-calling`` handler does not fit a phone agent (0.3.x): its
template drops ``tool`` messages (the model never reads a result) and, when the model chooses
to answer in words, its follow-up grammar lets it write only a function name or nothing. So the
same idea is done here with the model's own chat template:

1. The system prompt lists the tools (:func:`instructions`; the call puts it there, so the
   prompt cache keeps it from turn to turn).
2. One short generation, at temperature 0, constrained to ``message:`` or ``functions.<name>:``
   for a declared name: the model's choice, which no output can escape.
3. A call: the arguments are generated under a grammar made from the tool's JSON schema (a
   bounded number of tokens); words: the reply is streamed after ``message:`` as usual.

Every evaluation still goes through the context's gate steps (:mod:`gateway.llm.local`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.llm.base import ChatMessage, ToolCall

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

MESSAGE = "message:"
CALL = "functions."
DECISION_TOKENS = 48
"""Enough for ``functions.`` and a 64-character name."""
ARGUMENT_TOKENS = 160
"""Arguments longer than this are cut (then refused as broken JSON): a model looping in JSON."""
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""For a GGUF without a chat template."""


def instructions(tools: Sequence[dict[str, Any]]) -> str:
    """The tools as the system prompt lists them, and how to call one."""
    lines = ["", "", "You can call these functions:"]
    for tool in tools:
        function = tool["function"]
        schema = json.dumps(function.get("parameters") or {}, separators=(",", ":"))
        lines.append(f"functions.{function['name']}: {function.get('description', '')} "
                     f"Arguments: {schema}")  # fmt: skip
    lines.append(
        "To call a function, answer with functions.<name>: and its arguments as JSON on the "
        "next line. Otherwise answer with message: and what you say to the caller."
    )
    return "\n".join(lines)


def local_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """Messages for the model's template: a turn that called tools as the model writes calls,
    a tool's result as a ``tool`` turn."""
    rendered: list[dict[str, str]] = []
    for message in messages:
        if message.tool_calls:
            calls = "\n".join(f"{CALL}{c.name}:\n{c.arguments}" for c in message.tool_calls)
            said = f"{MESSAGE}\n{message.content}\n" if message.content else ""
            rendered.append({"role": "assistant", "content": said + calls})
        else:
            rendered.append({"role": message.role, "content": message.content})
    return rendered


class PromptTemplate:
    """The model's own chat template (from the GGUF), rendered to text, so a generation can
    continue from a prefix the template cannot express (``message:``)."""

    def __init__(self, llm: Llama) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def text(token: int) -> str:
            return (
                "" if token == -1 else llm.detokenize([token], special=True).decode(errors="ignore")
            )

        template = llm.metadata.get("tokenizer.chat_template") or CHATML
        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos())
        )

    def render(self, messages: list[dict[str, str]]) -> Prompt:
        """The prompt, ending with the assistant's header, and the template's stop strings."""
        result = self._formatter(messages=messages)  # type: ignore[arg-type]
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return Prompt(result.prompt, stop, add_bos=not result.added_special)


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    stop: list[str]
    add_bos: bool
    """As llama-cpp-python's chat handler tokenizes it: the same tokens as the plain path's, so
    the context's prompt cache serves both."""

    def tokens(self, llm: Llama, suffix: str = "") -> list[int]:
        return llm.tokenize((self.text + suffix).encode(), add_bos=self.add_bos, special=True)


def _choice_grammar(options: Sequence[str]) -> LlamaGrammar:
    from llama_cpp.llama_grammar import LlamaGrammar

    alternatives = " | ".join(json.dumps(option) for option in options)
    return LlamaGrammar.from_string(f"root ::= {alternatives}", verbose=False)


def _json_grammar(schema: dict[str, Any]) -> LlamaGrammar:
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception:  # a schema feature the converter lacks: any JSON, checked afterwards
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)


def _complete(llm: Llama, prompt: list[int], grammar: LlamaGrammar, max_tokens: int) -> str:
    result: Any = llm.create_completion(
        prompt, max_tokens=max_tokens, temperature=0.0, grammar=grammar
    )
    return str(result["choices"][0]["text"])


def choose(llm: Llama, prompt: Prompt, names: Sequence[str], tool_choice: str) -> str | None:
    """The tool the model calls (None: it answers in words)."""
    if tool_choice in names:
        return tool_choice
    if not names or tool_choice == "none":
        return None
    options = [f"{CALL}{name}:" for name in names]
    if tool_choice != "required":
        options.append(MESSAGE)
    decision = _complete(llm, prompt.tokens(llm), _choice_grammar(options), DECISION_TOKENS)
    if decision.startswith(CALL) and decision.endswith(":"):
        name = decision[len(CALL) : -1]
        return name if name in names else None
    return None


def generate(
    llm: Llama,
    template: PromptTemplate,
    messages: Sequence[ChatMessage],
    tools: Sequence[dict[str, Any]],
    *,
    tool_choice: str,
    max_tokens: int,
    temperature: float,
) -> Iterator[str | ToolCall]:
    """A reply's text pieces, or one tool call (blocking: run in a worker thread)."""
    prompt = template.render(local_messages(messages))
    schemas = {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools}
    name = choose(llm, prompt, list(schemas), tool_choice)
    if name is not None:
        head = f"{CALL}{name}:\n"
        grammar = _json_grammar(schemas[name])
        arguments = _complete(llm, prompt.tokens(llm, head), grammar, ARGUMENT_TOKENS)
        yield ToolCall(id=f"call_{uuid.uuid4().hex[:16]}", name=name, arguments=arguments.strip())
        return
    chunks: Any = llm.create_completion(
        prompt.tokens(llm, MESSAGE + "\n"),
        stream=True,
        max_tokens=max_tokens,
        temperature=temperature,
        stop=prompt.stop,
    )
    try:
        for chunk in chunks:
            text = chunk["choices"][0]["text"]
            if text:
                yield text
    finally:
        chunks.close()
