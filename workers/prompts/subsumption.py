"""When one list item says all another says and more, the shorter one can go.

"Do not speculate about unreleased products." is implied by "Do not speculate about
unreleased products or roadmaps.", and "Cite your sources." by "Cite your sources with a
URL.". Item A is implied by item B when B's dedupe key starts with A's and B's extra words
hold no negation or modal and keep A's force: after a negation only a widening "or ..."
("do not X or Y"), otherwise anything but a condition or an alternative ("cite sources if
asked" and "use X or Y" do not imply "cite sources" and "use X"). Other protected spans
(names, numbers) may be among the extra words: B, which keeps them, is the item that stays.
"""

from __future__ import annotations

from workers.prompts.phrasebook import Phrasebook

#: Dedupe keys mark protected spans with this prefix (see ``similarity.key``).
_SPAN = "\x00"


def implied(short: tuple[str, ...], long: tuple[str, ...], book: Phrasebook) -> bool:
    """True if an instruction with key ``long`` also says everything ``short`` says."""
    if len(long) <= len(short) or long[: len(short)] != short:
        return False
    extra = long[len(short) :]
    if any(_is_modal(word, book) for word in extra):
        return False
    joint = extra[0]
    if any(_is_negation(word, book) for word in short):
        return joint in book.widening_joints
    return not any(extra[: len(words)] == words for words in book.narrowing_joints)


def _is_negation(word: str, book: Phrasebook) -> bool:
    return word.startswith(_SPAN) and (word[1:] in book.negations or word.endswith("n't"))


def _is_modal(word: str, book: Phrasebook) -> bool:
    """A protected negation or modal word ("not", "only", "must"), as keys spell them."""
    return word.startswith(_SPAN) and (word[1:] in book.protected_words or word.endswith("n't"))
