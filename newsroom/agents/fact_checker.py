"""The fact-checker: every claim against the sources it cites — numbers, dates, entities,
attribution, negation and wording — with a verdict and its reasons."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from newsroom.methods.text import (
    canonical_entity,
    claim_parts,
    coverage,
    dates,
    entities,
    is_cjk,
    mentions,
    negations,
    quantities,
    sentences,
    stem,
)
from newsroom.models import Claim, Label, SourceItem, Verdict

_ATTRIBUTION = re.compile(
    r"据(?P<a>[^，,。；]{2,20}?)(?:报道|消息|援引|披露|透露)|(?P<b>[^，,。；\s]{2,20}?)报道称"
)
SUPPORT_COVERAGE = 0.5
ALIGN_COVERAGE = 0.4
_CLAUSE = re.compile(r"[，,；;。]")
CROSS_LANGUAGE_ANCHORS = 2


@dataclass
class SourceJudgement:
    item_id: str
    supports: bool
    against: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    thin_wording: str | None = None

    @property
    def only_wording(self) -> bool:
        """Every number, date and name is there; only the wording could not be matched."""
        return not self.supports and not self.against and not self.missing


def _attribution(text: str) -> str | None:
    match = _ATTRIBUTION.search(text)
    if match is None:
        return None
    return (match.group("a") or match.group("b") or "").strip()


class _Fact(Protocol):
    """A number or a date: found in a source, or rivalled there by another value."""

    @property
    def text(self) -> str: ...

    def matches(self, other: Any) -> bool: ...

    def rivals(self, other: Any) -> bool: ...


def _aligned(claim: str, source: SourceItem) -> tuple[str, float]:
    best, score = "", 0.0
    for sentence in sentences(source.text) or [source.text]:
        value = coverage(claim, sentence)
        if value > score:
            best, score = sentence, value
    return best, score


class OfflineFactChecker:
    """Deterministic checks (the LLM engine adds entailment for what they cannot settle)."""

    def judge_source(self, claim: str, source: SourceItem) -> SourceJudgement:
        text = source.text
        judgement = SourceJudgement(item_id=source.id, supports=False)
        claim_q, claim_d = quantities(claim), dates(claim)
        claim_e = entities(claim)
        source_q, source_d = quantities(text), dates(text)
        same_language = is_cjk(claim) == is_cjk(text)
        source_sentences = sentences(text) or [text]

        def aligned(fact: str) -> list[str]:
            """Source sentences saying what the claim (or the clause holding `fact`) says:
            where a rival figure means conflict rather than another detail."""
            if not same_language:
                return []
            clause = next((c for c in _CLAUSE.split(claim) if fact in c), claim)
            return [
                s
                for s in source_sentences
                if max(coverage(claim, s), coverage(clause, s)) >= ALIGN_COVERAGE
            ]

        checks: list[tuple[Sequence[_Fact], Sequence[_Fact], Callable[[str], Sequence[_Fact]]]]
        checks = [(claim_q, source_q, quantities), (claim_d, source_d, dates)]
        for claimed, found, extract in checks:
            for fact in claimed:
                if any(fact.matches(other) for other in found):
                    continue
                rivals = [o for s in aligned(fact.text) for o in extract(s) if fact.rivals(o)]
                if rivals:
                    judgement.against.append(
                        f"claim says {fact.text}, {source.source} says {rivals[0].text}"
                    )
                else:
                    judgement.missing.append(f"{fact.text} is not in {source.source}")
        for name in claim_e:
            if mentions(text, name):
                continue
            siblings = [
                other
                for other in entities(text)
                if stem(other) == stem(name)
                and canonical_entity(other) != canonical_entity(name)
                and stem(name) != name.lower()
            ]
            if siblings:
                judgement.against.append(f"claim names {name}, {source.source} names {siblings[0]}")
            else:
                judgement.missing.append(f"{name} is not in {source.source}")
        for part in claim_parts(claim):
            sentence, score = _aligned(part, source)
            if (
                score >= ALIGN_COVERAGE
                and same_language
                and negations(part) % 2 != negations(sentence) % 2
            ):
                judgement.against.append(f"claim and {source.source} differ in negation")
                break
        wording = coverage(claim, text)
        if same_language:
            covered = wording >= SUPPORT_COVERAGE
        else:
            # Across languages only names and figures can be compared: ask for two of them.
            covered = (
                len(claim_e) + len(claim_q) + len(claim_d) >= CROSS_LANGUAGE_ANCHORS
                and not judgement.missing
            )
        judgement.supports = covered and not judgement.missing and not judgement.against
        if not covered:
            judgement.thin_wording = (
                f"only {wording:.0%} of the claim's wording is in {source.source}"
                if same_language
                else f"{source.source} is in another language and shares too few names or figures"
            )
        return judgement

    async def check_all(
        self, claims: Sequence[Claim], sources: Mapping[str, SourceItem]
    ) -> dict[str, Verdict]:
        return {claim.id: self.check(claim, sources) for claim in claims}

    def check(self, claim: Claim, sources: Mapping[str, SourceItem]) -> Verdict:
        cited = [sources[i] for i in claim.cites if i in sources]
        unknown = [i for i in claim.cites if i not in sources]
        reasons = [f"cites unknown source {i}" for i in unknown]
        if not cited:
            return Verdict(
                claim_id=claim.id, label="unsupported", reasons=[*reasons, "cites no known source"]
            )
        judged = [self.judge_source(claim.text, source) for source in cited]
        support = [j.item_id for j in judged if j.supports]
        against = [j.item_id for j in judged if j.against]
        label: Label
        attributed = _attribution(claim.text)
        if attributed and not any(
            mentions(source.source, attributed) or mentions(attributed, source.source)
            for source in cited
        ):
            reasons.append(f"attributed to {attributed}, which no cited source is")
            label = "contradicted"
        elif against:
            label = "contradicted"
        elif support:
            label = "supported"
        else:
            label = "unsupported"
        for j in judged:
            reasons.extend(j.against)
            if label == "unsupported":
                reasons.extend(j.missing)
                reasons.extend([j.thin_wording] if j.thin_wording else [])
        unsettled = label == "unsupported" and any(j.only_wording for j in judged)
        return Verdict(
            claim_id=claim.id,
            label=label,
            reasons=reasons,
            support=support,
            against=against,
            unsettled=unsettled,
        )
