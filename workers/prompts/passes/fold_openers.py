"""Fold a run of sentences or list items that repeat an opener into one list.

"The email must include X. The email must include Y. The email must not use Z." becomes
"The email: must include X; must include Y; must not use Z." Three or more consecutive
units sharing at least two opening words are folded. The shared prefix stops before the
first protected word, so every negation and modal stays with its own clause.
"""

from __future__ import annotations

import re

from workers.prompts.doc import SENTINEL_RE, Doc
from workers.prompts.edits import Edit, apply_edits
from workers.prompts.passes.base import PassContext
from workers.prompts.segments import Line, LineKind, Sentence, doc_lines, doc_sentences

#: Fewer repetitions save less than the ":" and ";" cost.
MIN_RUN = 3
#: A one-word opener ("Always") is usually a meaningful adverb, not boilerplate.
MIN_PREFIX_WORDS = 2
_WORD = re.compile(r"\S+")


class FoldOpenersPass:
    name = "fold_openers"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        edits = _fold_sentences(doc, doc_sentences(doc)) + _fold_items(doc, doc_lines(doc))
        return doc.with_text(apply_edits(doc.text, edits)) if edits else doc


def _words(doc: Doc, start: int, end: int) -> list[tuple[int, int, str]]:
    """(start, end, comparable form) of each whitespace-separated word."""
    out = []
    for match in _WORD.finditer(doc.text, start, end):
        token = match.group()
        form = doc.canonical(token) if SENTINEL_RE.search(token) else token
        out.append((match.start(), match.end(), form))
    return out


def _opening(doc: Doc, start: int, end: int) -> str:
    """The first two words in comparable form: a cheap filter before a full comparison."""
    head = " ".join(doc.text[start:end].split(None, 2)[:2])
    return doc.canonical(head) if SENTINEL_RE.search(head) else head


def _foldable(doc: Doc, start: int, end: int) -> bool:
    body = doc.text[start:end]
    return body.endswith(".") and ";" not in body and ":" not in body and "\n" not in body


def _common_prefix(doc: Doc, runs: list[list[tuple[int, int, str]]]) -> int:
    """Leading words shared by every unit, up to the first protected one.

    Each unit keeps at least one word, and a protected word ("must", "not", a number)
    never joins the shared prefix: it stays inside every folded item.
    """
    shortest = min(len(words) for words in runs) - 1
    count = 0
    while count < shortest and len({words[count][2] for words in runs}) == 1:
        first = runs[0][count]
        if SENTINEL_RE.search(doc.text, first[0], first[1]):
            break
        count += 1
    return count


def _runs(items: list, same_group) -> list[list]:
    runs: list[list] = []
    for item in items:
        if runs and same_group(runs[-1][-1], item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _fold_sentences(doc: Doc, found: list[Sentence]) -> list[Edit]:
    prose = [s for s in found if s.kind is LineKind.PROSE and _foldable(doc, s.start, s.end)]
    edits: list[Edit] = []
    for run in _runs(prose, lambda a, b: a.group == b.group and doc.text[a.end : b.start] == " "):
        edits.extend(_fold_sentence_run(doc, run))
    return edits


def _fold_sentence_run(doc: Doc, run: list[Sentence]) -> list[Edit]:
    edits: list[Edit] = []
    i = 0
    while i + MIN_RUN <= len(run):
        j, prefix = _longest_run(doc, [(s.start, s.end) for s in run], i)
        if j - i >= MIN_RUN:
            words = [_words(doc, s.start, s.end) for s in run[i:j]]
            head = doc.text[run[i].start : words[0][prefix - 1][1]]
            rests = [
                doc.text[w[prefix][0] : s.end - 1] for w, s in zip(words, run[i:j], strict=True)
            ]
            edits.append(Edit(run[i].start, run[j - 1].end, f"{head}: {'; '.join(rests)}."))
            i = j
        else:
            i += 1
    return edits


def _longest_run(doc: Doc, units: list[tuple[int, int]], i: int) -> tuple[int, int]:
    """End (exclusive) and prefix length of the longest foldable run starting at ``i``."""
    best_j, best_prefix = i, 0
    opening = _opening(doc, *units[i])
    if any(_opening(doc, *unit) != opening for unit in units[i + 1 : i + MIN_RUN]):
        return best_j, best_prefix
    words = [_words(doc, s, e) for s, e in units[i : i + MIN_RUN]]
    j = i + MIN_RUN
    while j <= len(units):
        if len(words) < j - i:
            words.append(_words(doc, *units[j - 1]))
        prefix = _common_prefix(doc, words)
        if prefix < MIN_PREFIX_WORDS:
            break
        best_j, best_prefix = j, prefix
        j += 1
    return best_j, best_prefix


def _fold_items(doc: Doc, lines: list[Line]) -> list[Edit]:
    bullets = [
        line
        for line in lines
        if line.kind is LineKind.BULLET and not {";", ":"} & set(doc.text[line.body : line.end])
    ]
    marker = lambda line: doc.text[line.start : line.body]  # noqa: E731
    edits: list[Edit] = []
    for run in _runs(bullets, lambda a, b: b.start == a.end + 1 and marker(a) == marker(b)):
        i = 0
        while i + MIN_RUN <= len(run):
            j, prefix = _longest_run(doc, [(ln.body, ln.end) for ln in run], i)
            if j - i < MIN_RUN:
                i += 1
                continue
            words = [_words(doc, ln.body, ln.end) for ln in run[i:j]]
            head = doc.text[run[i].body : words[0][prefix - 1][1]]
            indent = marker(run[i])[: len(marker(run[i])) - len(marker(run[i]).lstrip())]
            items = [
                marker(ln) + doc.text[w[prefix][0] : ln.end]
                for w, ln in zip(words, run[i:j], strict=True)
            ]
            edits.append(
                Edit(run[i].start, run[j - 1].end, f"{indent}{head}:\n" + "\n".join(items))
            )
            i = j
    return edits
