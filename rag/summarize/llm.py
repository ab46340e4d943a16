"""LLM summaries: map over passages, reduce, check the citations."""

from __future__ import annotations

from rag.components import Components
from rag.llm.chat import ChatLLM
from rag.llm.errors import LLMError
from rag.models import Passage
from rag.summarize.extractive import most_central


class LLMSummarizer:
    """Summaries through the configured chat model, map-reduce when the input is too long."""

    def __init__(self, components: Components, llm: ChatLLM | None = None):
        llm = llm or components.llm
        if llm is None:
            raise LLMError("no LLM is configured")
        self.c = components
        self.settings = components.settings
        self.llm = llm

    def _budget(self) -> int:
        return self.llm.input_budget

    def _cost(self, texts: list[str]) -> int:
        return int(1.3 * sum(self.c.tokenizer.count(texts)))

    def _run(self, template: str, values: dict) -> str:
        return self.llm.run(template, values, system_file="summary_system.md",
                            empty="the LLM returned an empty summary")

    def summarize(self, task: str, passages: list[Passage]) -> tuple[str, list[str], set[int]]:
        """(summary with [n] markers into `passages`, warnings, the numbers of the passages
        sent). Raises LLMError.

        Input longer than the context window is map-reduced. Map-reduce over g parts takes at
        most 2g - 1 calls, so when that would exceed `llm_max_calls` only the passages most
        central to the input are sent (the first always), in their order, under their own
        numbers, and a warning says so.
        """
        import prompts
        from rag.llm.passages import format_passages

        fixed = self._cost([prompts.load("summary_system.md"), prompts.load("summary_user.md"), task])
        budget = self._budget() - fixed
        blocks = [format_passages([p], first=n) for n, p in enumerate(passages, 1)]
        costs = [int(1.3 * n) for n in self.c.tokenizer.count(blocks)]
        if any(cost > budget for cost in costs):
            raise LLMError("a single passage does not fit the model's context window")
        warnings: list[str] = []
        keep = list(range(len(passages)))
        groups = _pack(blocks, costs, budget)
        max_parts = max(1, (self.settings.llm_max_calls + 1) // 2)
        if len(groups) > max_parts:
            keep = most_central(passages, lambda idx: len(_pack([blocks[i] for i in idx],
                                                                [costs[i] for i in idx], budget)) <= max_parts)
            groups = _pack([blocks[i] for i in keep], [costs[i] for i in keep], budget)
            warnings.append(f"the input needed more than NEWSDESK_LLM_MAX_CALLS="
                            f"{self.settings.llm_max_calls} model calls: only its {len(keep)} most "
                            f"central passages of {len(passages)} were summarized")
        sent = {i + 1 for i in keep}
        if len(groups) == 1:
            return self._run("summary_user.md", {"task": task, "passages": "\n\n".join(groups[0])}), warnings, sent
        partials = [self._run("summary_user.md", {"task": task, "passages": "\n\n".join(g)}) for g in groups]
        rounds = 1
        while len(partials) > 1:
            partials = self._combine(task, partials)
            rounds += 1
        warnings.append(f"the input was longer than the model's {self.llm.context_tokens}-token "
                        f"context: summarized in {len(groups)} parts, then combined (map-reduce, {rounds} rounds)")
        return partials[0], warnings, sent

    def _combine(self, task: str, partials: list[str]) -> list[str]:
        import prompts

        budget = self._budget() - self._cost([prompts.load("summary_system.md"),
                                              prompts.load("combine_user.md"), task])
        groups = _pack(partials, [int(1.3 * n) for n in self.c.tokenizer.count(partials)], budget)
        if len(groups) == len(partials) and len(groups) > 1:
            # Every partial needs a call of its own: pair them so the rounds still converge.
            groups = [partials[i:i + 2] for i in range(0, len(partials), 2)]
        # A group of one passes through: a call then always merges two or more partials into
        # one, so combining g partials takes at most g - 1 calls.
        return [g[0] if len(g) == 1 else self._run("combine_user.md", {"task": task, "partials": "\n\n".join(
            f"<partial>\n{p}\n</partial>" for p in g)}) for g in groups]


def _pack(blocks: list[str], costs: list[int], budget: int) -> list[list[str]]:
    """Blocks in order, packed greedily into groups of at most `budget` tokens."""
    groups: list[list[str]] = [[]]
    used = 0
    for block, cost in zip(blocks, costs):
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(block)
        used += cost
    return groups
