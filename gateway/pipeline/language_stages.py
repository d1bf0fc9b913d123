"""What a call's replies use in each language its callers speak: the profile's voice, apology,
fillers and system prompt, and the call's tools. Made once per language per call."""

from __future__ import annotations

import functools
from datetime import datetime

from gateway.engines import Engines
from gateway.languages import phrase_starts
from gateway.llm.base import CallsTools
from gateway.pipeline.caller_context import CallerContext
from gateway.pipeline.profiles import LanguageProfile
from gateway.pipeline.reply import ReplyStages
from gateway.pipeline.tool_loop import ToolTurnSettings
from gateway.settings import Settings
from gateway.tools.prompt import render_prompt
from gateway.tools.toolbox import CallTools, Toolbox


class LanguageStages:
    def __init__(
        self, engines: Engines, settings: Settings, caller: CallerContext, toolbox: Toolbox | None
    ) -> None:
        """``toolbox``: the tools the agent may call; none where the chat model cannot."""
        self._engines = engines
        self._settings = settings
        self._caller = caller
        self.toolbox = toolbox if toolbox and isinstance(engines.chat, CallsTools) else None
        self._call_tools: CallTools | None = self.toolbox.for_call(caller) if self.toolbox else None
        self._by_language: dict[str, ReplyStages] = {}

    def stages(self, profile: LanguageProfile) -> ReplyStages:
        """The stages that speak a language: its voice, its apology and fillers (made once)."""
        stages = self._by_language.get(profile.code)
        if stages is None:
            engines, settings, phrases = self._engines, self._settings, self._engines.phrases
            stages = self._by_language[profile.code] = ReplyStages(
                transcriber=engines.transcriber,
                chat=engines.chat,
                synthesizer=engines.voice(profile.voice),
                apology_frames=phrases.get(profile.apology, profile.voice),
                first_clause_min_words=settings.tts.first_clause_min_words,
                phrase_starts=phrase_starts(profile.code or settings.stt.language),
                first_phrase_min_words=settings.tts.first_phrase_min_words,
                cut_marker=settings.barge_in.cut_marker,
                fillers=tuple(
                    (text, frames)
                    for text in profile.fillers
                    if (frames := phrases.get(text, profile.voice))
                ),
                filler_after_ms=settings.call.filler_after_ms,
                quiet_before_answer_ms=settings.turn.quiet_before_answer_ms,
                stage_timeout_s=settings.call.stage_timeout_ms / 1000,
                tools=self._tool_settings(),
                phrase=functools.partial(phrases.get, voice=profile.voice),
                action_echo_timeout_s=settings.tools.mark_timeout_ms / 1000,
                end_model_languages=frozenset(settings.turn.end_model_languages),
            )
        return stages

    def system_prompt(self, profile: LanguageProfile, language: str | None) -> str:
        """The language's system prompt, its ``{from}``, ``{to}``, ``{time}`` and
        ``{language}`` filled in, and the tools listed where the model reads them there."""
        prompt = render_prompt(
            profile.system_prompt,
            from_=self._caller.from_,
            to=self._caller.to,
            language=language or "",
            now=datetime.now().astimezone(),
        )
        chat = self._engines.chat
        if self.toolbox is not None and isinstance(chat, CallsTools):
            prompt += chat.tool_instructions(self.toolbox.declarations)
        return prompt

    def _tool_settings(self) -> ToolTurnSettings | None:
        if self._call_tools is None:
            return None
        tools = self._settings.tools
        return ToolTurnSettings(
            tools=self._call_tools,
            tool_choice=tools.tool_choice,
            hold_after_s=tools.hold_after_ms / 1000,
            hold_phrase=tools.hold_phrase,
            failure_phrase=tools.failure_phrase,
            stage_timeout_s=self._settings.call.stage_timeout_ms / 1000,
        )
