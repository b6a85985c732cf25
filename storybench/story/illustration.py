"""Illustration prompts for story segments.

A segment's text (any language) becomes a short English visual description for an
image model:

1. :func:`clean_for_illustration` removes quoted dialogue (straight ``"..."``,
   typographic ``“...”``, ``„...“``, ``«...»``), choice lines and questions;
2. the LLM is asked for a visual description in English of at most
   :data:`MAX_WORDS` words (:func:`illustration_messages`);
3. :func:`postprocess_answer` strips quotes, markdown and prefixes such as
   ``Description:``; :func:`check_answer` rejects answers that are empty, contain
   Cyrillic or run over :data:`MAX_WORDS` words, and the LLM is asked again, up to
   three attempts;
4. when no attempt passes, the longest clean (non-Cyrillic) over-long answer is cut
   cleanly to :data:`MAX_WORDS` words; failing that, a style-aware default
   (:func:`fallback_prompt`).

:class:`IllustrationPrompter` does all of this and caches results by (text, style)
per instance — no module-level mutable state. :func:`illustration_render_spec`
builds the :class:`~storybench.render.spec.RenderSpec` (style prefix + prompt).
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

from storybench.exceptions import BackendError
from storybench.llm.base import LLMBackend, Message
from storybench.plan.models import derive_seed
from storybench.plan.styles import get_style
from storybench.render.spec import RenderSpec
from storybench.story.choices import extract_choices
from storybench.story.llm_gate import LLMGate
from storybench.story.repetition import degeneration_cut

__all__ = [
    "FALLBACK_PROMPTS",
    "MAX_WORDS",
    "IllustrationPrompter",
    "check_answer",
    "clean_for_illustration",
    "fallback_prompt",
    "illustration_messages",
    "illustration_render_spec",
    "illustration_seed",
    "postprocess_answer",
    "truncate_words",
]

MAX_WORDS = 30
#: At most this many characters of a scene go into its request: the evaluation of a
#: request's prompt cannot be interrupted, and the reader's next segment may wait for it.
SCENE_CHARS = 800

FALLBACK_PROMPTS: dict[str, str] = {
    "noir": "A mysterious scene with dark atmosphere, a lone figure on a rain-soaked street at night",
    "manga": "A dramatic scene with a determined hero, wind and motion lines, tense atmosphere",
    "american-classic": "A bold adventure scene with a hero ready for action in a bright city",
    "watercolor": "A gentle scene in a quiet village at dawn with soft light and mist",
    "ligne-claire": "An adventurous scene in a detailed old town street with a curious traveller",
    "cyberpunk": "A tense scene in a neon-lit rainy megacity alley at night",
}
_DEFAULT_FALLBACK = "A mysterious scene with dark atmosphere"

_CYRILLIC = re.compile(r"[\u0400-\u04FF\u0500-\u052F]")
_QUOTED = re.compile(r'"[^"\n]{0,400}"|“[^”\n]{0,400}”|„[^“”\n]{0,400}[“”]|«[^»\n]{0,400}»|‹[^›\n]{0,400}›')
_DASH_DIALOGUE = re.compile(r"^\s*[—–-]\s+.*$", re.M)  # Russian/Ukrainian dialogue lines start with a dash
_PREFIX = re.compile(
    r"^\s*(?:(?:here\s+is\s+)?(?:an?\s+|the\s+)?(?:visual\s+|image\s+|scene\s+|illustration\s+)?"
    r"(?:description|prompt|image|scene|illustration|answer|output)\s*[:\-–—]\s*)+",
    re.I,
)
_TRAILING_WEAK = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "with",
    "in",
    "on",
    "at",
    "to",
    "by",
    "for",
    "from",
    "as",
    "while",
    "but",
    "its",
    "his",
    "her",
    "their",
    "into",
    "under",
    "over",
    "near",
}


def clean_for_illustration(text: str) -> str:
    """``text`` without quoted dialogue, dash-led dialogue lines, choice lines and questions.

    Args:
        text: a segment's text, possibly with its choices.

    Returns:
        Narrative sentences only, whitespace collapsed (may be ``""``).
    """
    narrative = extract_choices(text).narrative
    narrative = _QUOTED.sub(" ", narrative)
    narrative = _DASH_DIALOGUE.sub(" ", narrative)
    flat = re.sub(r"\s+", " ", narrative).strip()
    sentences = re.split(r"(?<=[.!?…])\s+", flat)
    kept = [s for s in sentences if s and not s.rstrip("\"'»” ").endswith("?")]
    out = " ".join(kept)
    out = re.sub(r"\s+([,.!?;:])", r"\1", out)
    out = re.sub(r"([,;:])\1+", r"\1", out)
    return re.sub(r"\s+", " ", out).strip(" ,;")


def illustration_messages(cleaned_text: str, style: str) -> list[Message]:
    """Messages asking for an English visual description of ``cleaned_text``."""
    return [
        Message(
            role="system",
            content=(
                "You turn story scenes into image descriptions. Answer in ENGLISH only, one sentence, "
                f"at most {MAX_WORDS} words: who is where, doing what, the light and the mood. "
                "No dialogue, no names of styles, no quotes, no explanations."
            ),
        ),
        Message(role="user", content=f"Scene: {cleaned_text[:SCENE_CHARS]}\n\nEnglish image description:"),
    ]


def postprocess_answer(answer: str) -> str:
    """Strip markdown, wrapping quotes and prefixes like ``Description:`` from an answer;
    keep its first non-empty paragraph, whitespace collapsed."""
    text = answer.replace("\r", "")
    text = re.sub(r"\*\*|__|`|^#+\s*", "", text, flags=re.M)
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    text = paragraphs[0] if paragraphs else ""
    text = re.sub(r"\s+", " ", text).strip()
    for _ in range(3):
        before = text
        text = _PREFIX.sub("", text).strip()
        text = text.strip(" \"'“”„«»‹›`")
        if text == before:
            break
    return text


def truncate_words(text: str, max_words: int = MAX_WORDS) -> str:
    """``text`` cut to ``max_words`` words, preferably at a sentence or clause end, without
    a dangling article or preposition at the end and without trailing punctuation."""
    words = text.split()
    if len(words) <= max_words:
        return text.strip().rstrip(",;:")
    cut = " ".join(words[:max_words])
    for mark in (". ", "; ", ", "):
        pos = cut.rfind(mark)
        if pos >= len(cut) // 2:
            cut = cut[:pos]
            break
    parts = cut.split()
    while parts and parts[-1].lower().strip(",;:.") in _TRAILING_WEAK:
        parts.pop()
    return " ".join(parts).rstrip(" ,;:.-–—")


def check_answer(text: str, max_words: int = MAX_WORDS) -> str | None:
    """Why a post-processed answer is rejected, or ``None`` when it is usable.

    Reasons: ``"empty"``, ``"cyrillic"``, ``"too long"`` (over ``max_words`` words),
    ``"no letters"``, ``"repetitive"`` (a sentence twice, a looping run of words).
    """
    if not text.strip():
        return "empty"
    if _CYRILLIC.search(text):
        return "cyrillic"
    if not re.search(r"[A-Za-z]{2}", text):
        return "no letters"
    if len(text.split()) > max_words:
        return "too long"
    if degeneration_cut(text, max_line_repeats=2) is not None:
        return "repetitive"
    return None


def fallback_prompt(style: str) -> str:
    """The style's default illustration prompt (``"A mysterious scene with dark atmosphere"``
    for unknown styles)."""
    return FALLBACK_PROMPTS.get(style, _DEFAULT_FALLBACK)


class IllustrationPrompter:
    """Makes illustration prompts with an LLM, with validation, retries, fallback and a cache.

    Args:
        llm: the LLM backend (``None``: always the style default).
        attempts: LLM attempts before the fallback (3).
        max_tokens: token budget of one answer.
        lock: held around each LLM call (share the engine's lock: embedded models are
            not re-entrant).
        gate: the story's :class:`~storybench.story.llm_gate.LLMGate` (instead of ``lock``):
            each answer is then streamed as background work and given up, to be asked
            again, as soon as the reader's segment waits for the LLM.

    Attributes:
        last_source: where the latest prompt came from: ``"llm"``, ``"truncated"``,
            ``"fallback"`` or ``"cache"``.
        last_rejections: the reasons the latest attempts were rejected.
    """

    def __init__(
        self,
        llm: LLMBackend | None,
        *,
        attempts: int = 3,
        max_tokens: int = 80,
        lock: threading.Lock | threading.RLock | None = None,
        gate: LLMGate | None = None,
    ) -> None:
        self.llm = llm
        self._gate = gate
        self.attempts = attempts
        self.max_tokens = max_tokens
        self._lock = lock or threading.RLock()
        self._cache: dict[str, str] = {}
        self._cache_lock = threading.Lock()
        self.last_source = ""
        self.last_rejections: list[str] = []

    @staticmethod
    def cache_key(text: str, style: str) -> str:
        """Hex SHA-256 of ``style`` and ``text``."""
        return hashlib.sha256(f"{style}\x00{text}".encode()).hexdigest()

    def __call__(self, text: str, style: str, **llm_options: Any) -> str:
        """The illustration prompt for a segment's ``text`` in ``style``: English, at most
        :data:`MAX_WORDS` words, never empty. LLM errors count as failed attempts."""
        key = self.cache_key(text, style)
        with self._cache_lock:
            if key in self._cache:
                self.last_source = "cache"
                return self._cache[key]
        result, source, rejections = self._make(text, style, llm_options)
        self.last_source, self.last_rejections = source, rejections
        with self._cache_lock:
            self._cache[key] = result
        return result

    def _make(self, text: str, style: str, llm_options: dict[str, Any]) -> tuple[str, str, list[str]]:
        cleaned = clean_for_illustration(text)
        rejections: list[str] = []
        spare = ""
        if self.llm is None or not cleaned:
            return fallback_prompt(style), "fallback", ["no llm" if self.llm is None else "no narrative"]
        messages = illustration_messages(cleaned, style)
        opts = {"max_tokens": self.max_tokens, "temperature": 0.4, **llm_options}
        for _attempt in range(self.attempts):
            try:
                raw = self._ask(messages, opts)
            except BackendError as exc:
                rejections.append(f"error: {exc}")
                continue
            answer = postprocess_answer(raw)
            reason = check_answer(answer)
            if reason is None:
                return answer.rstrip(" ,;:"), "llm", rejections
            rejections.append(reason)
            if reason == "too long" and len(answer) > len(spare):
                spare = answer
            opts["temperature"] = min(1.0, float(opts.get("temperature", 0.4)) + 0.2)
        if spare:
            return truncate_words(spare), "truncated", rejections
        return fallback_prompt(style), "fallback", rejections

    def _ask(self, messages: list[Message], opts: dict[str, Any]) -> str:
        """One answer: under the lock, or streamed through the gate (asked again when preempted)."""
        assert self.llm is not None
        if self._gate is None:
            with self._lock:
                return self.llm.complete(messages, **opts)
        while True:
            with self._gate.background():
                pieces: list[str] = []
                preempted = False
                stream = self.llm.stream(messages, **opts)
                try:
                    for chunk in stream:
                        if self._gate.preempted():
                            preempted = True
                            break
                        pieces.append(chunk)
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
                if not preempted:
                    return "".join(pieces)
            # the gate is left: the reader's request goes first, background() waits for it

    def clear(self) -> None:
        """Forget cached prompts."""
        with self._cache_lock:
            self._cache.clear()


def illustration_seed(story_id: str, segment_id: str) -> int:
    """The image seed of a segment, stable across runs: derived from the story and segment ids."""
    return derive_seed("story", story_id, segment_id)


def illustration_render_spec(
    prompt: str,
    *,
    style: str,
    story_id: str,
    segment_id: str,
    width: int = 768,
    height: int = 512,
    params: dict[str, Any] | None = None,
) -> RenderSpec:
    """The render spec of a segment's illustration: prompt = style prefix + ``prompt``,
    negative = the style's negative prompt, seed from the story and segment ids; the
    structured fields (wide shot; action and location = ``prompt``) are for renderers
    that draw from them, like the storyboard.

    Raises:
        KeyError: unknown style.
        pydantic.ValidationError: size out of range.
    """
    st = get_style(style)
    return RenderSpec(
        prompt=f"{st.prompt_prefix}, {prompt.strip().rstrip('.')}",
        negative_prompt=st.negative_prompt,
        seed=illustration_seed(story_id, segment_id),
        width=width,
        height=height,
        style=style,
        panel_id=segment_id,
        camera="wide shot",
        action=prompt.strip(),
        location=prompt.strip(),
        params=dict(params or {}),
    )
