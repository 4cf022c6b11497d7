"""Drop repeated sentences and list items (exact, or equal once fillers are ignored).

The first occurrence stays. A sentence that only joins earlier sentences with "and"
("A, and B." after "A." and "B.") goes too, and so does "A." after "A, because B.".
Label lines (``Category: OOM``) and sentences inside few-shot examples are never dropped
here: the same value recurs across records; a list item is dropped only as a repeat
within its own list.
"""

from __future__ import annotations

import re

from workers.prompts.doc import Doc
from workers.prompts.edits import Edit, apply_edits, remove_sentence
from workers.prompts.examples import example_lines
from workers.prompts.numbering import renumber_lists
from workers.prompts.passes.base import PassContext
from workers.prompts.segments import Line, LineKind, doc_lines, doc_sentences
from workers.prompts.similarity import key
from workers.prompts.subsumption import implied

#: A list item this short ("Use JSON.") may still repeat within its own list.
MIN_KEY_WORDS = 3
#: Short prose sentences ("The answer is yes.") recur as data in parallel passages; only
#: longer ones are taken for repeated instructions.
MIN_PROSE_KEY_WORDS = 5


class DedupeSentencesPass:
    name = "dedupe_sentences"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        lines = doc_lines(doc)
        in_examples = example_lines(doc)
        lists = _list_ids(lines)
        seen: set[tuple[str, ...]] = set()
        seen_words: set[str] = set()  # every word of a key in ``seen``: a cheap first check
        in_list: dict[int, set[tuple[str, ...]]] = {}
        edits: list[Edit] = []
        removed_lines: set[int] = set()
        implied_items = _implied_items(doc, lists, in_examples, ctx)
        for sentence in doc_sentences(doc):
            if sentence.kind is LineKind.LABEL:
                continue
            line_start = doc.text.rfind("\n", 0, sentence.start) + 1
            if line_start in in_examples:
                continue
            if sentence.start in implied_items:
                edits.append(remove_sentence(doc.text, sentence.start, sentence.end))
                removed_lines.add(line_start)
                continue
            body = doc.text[sentence.start : sentence.end]
            words = key(doc, body, ctx.book, ctx.keys)
            if len(words) < MIN_KEY_WORDS:
                continue
            if sentence.kind is not LineKind.BULLET and len(words) < MIN_PROSE_KEY_WORDS:
                seen.add(words)
                seen_words.update(words)
                continue
            if sentence.kind is LineKind.BULLET:
                scope = in_list.setdefault(lists[line_start], set())
                if words not in scope:
                    scope.add(words)
                    seen.add(words)
                    seen_words.update(words)
                    continue
            elif words not in seen and not (
                seen_words.issuperset(w for w in words if w != _AND)
                and _restates(doc, body, seen, ctx)
            ):
                seen.add(words)
                seen_words.update(words)
                seen.update(_main_clause(doc, body, ctx))
                continue
            edit = remove_sentence(doc.text, sentence.start, sentence.end)
            edits.append(edit)
            if edit.start == line_start and sentence.kind is LineKind.BULLET:
                removed_lines.add(line_start)
        if not edits:
            return doc
        edits.extend(renumber_lists(doc.text, lines, removed_lines))
        return doc.with_text(apply_edits(doc.text, edits))


def _implied_items(
    doc: Doc, lists: dict[int, int], in_examples: frozenset[int], ctx: PassContext
) -> set[int]:
    """Starts of one-sentence list items that another item of their list implies."""
    items: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
    for sentence in doc_sentences(doc):
        if sentence.kind is LineKind.BULLET and sentence.first and sentence.last:
            line_start = doc.text.rfind("\n", 0, sentence.start) + 1
            if line_start not in in_examples:
                words = key(doc, doc.text[sentence.start : sentence.end], ctx.book, ctx.keys)
                if len(words) >= MIN_KEY_WORDS:
                    items.setdefault(lists[line_start], []).append((sentence.start, words))
    found: set[int] = set()
    for group in items.values():
        ordered = sorted(group, key=lambda item: item[1])  # a key's extensions follow it
        for n, (start, words) in enumerate(ordered):
            for _, other in ordered[n + 1 :]:
                if other[: len(words)] != words:
                    break
                if implied(words, other, ctx.book):
                    found.add(start)
                    break
    return found


def _list_ids(lines: list[Line]) -> dict[int, int]:
    """Line start → number of the list a bullet line belongs to.

    A list runs over bullet and blank lines; any other line ends it. A bullet repeated in
    another list ("Before:" and "After:" rule sets) is data, not a repetition.
    """
    ids: dict[int, int] = {}
    current = 0
    for line in lines:
        if line.kind is LineKind.BULLET:
            ids[line.start] = current
        elif line.kind is not LineKind.BLANK:
            current += 1
    return ids


#: The joining word of clauses, as keys spell it: "A, and B." can restate "A." and "B."
_AND = "and"
_CLAUSES = re.compile(r",?[ \t]+and[ \t]+|;[ \t]+")


def _main_clause(doc: Doc, body: str, ctx: PassContext) -> list[tuple[str, ...]]:
    """Key of the clause before ", because ..." — stated by the sentence as well."""
    if ", " not in body:
        return []
    reason = ctx.book.reasons.search(body)
    if reason is None or not body[: reason.start()].rstrip().endswith(","):
        return []
    head = key(doc, body[: reason.start()].rstrip().rstrip(","), ctx.book, ctx.keys)
    return [head] if len(head) >= MIN_KEY_WORDS else []


def _restates(doc: Doc, body: str, seen: set[tuple[str, ...]], ctx: PassContext) -> bool:
    """True if ``body`` is two or more earlier sentences joined by "and" or ";"."""
    if " and " not in body and "; " not in body:
        return False
    parts = _CLAUSES.split(body.rstrip(".!"))
    if len(parts) < 2:
        return False
    keys = (key(doc, part, ctx.book, ctx.keys) for part in parts)
    return all(len(k) >= MIN_KEY_WORDS and k in seen for k in keys)
