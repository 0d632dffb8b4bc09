"""Shopify's search syntax (the ``query`` argument of Admin API connections), for the local server.

Grammar (https://shopify.dev/docs/api/usage/search-syntax)::

    Query      = Term { [ whitespace Connective ] whitespace Term }     (no connective: AND)
    Connective = "AND" | "OR"                                          (AND binds tighter)
    Term       = [ Modifier ] ( "(" Query ")" | [ name Comparator ] value )
    Modifier   = "-" (no whitespace after) | "NOT" whitespace
    value      = a name (``\\`` escapes one of the special characters ``: \\ ( )``), or a string in
                 single or double quotes (``\\`` escapes the quote or a backslash)

Unlike Shopify, which is lenient, a query that does not parse raises ``SearchSyntaxError``
here, so a test proves the client's query strings are well-formed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable

SPECIAL = set(':\\()')


class SearchSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Match:
    field: str | None           # None: a bare value (the default search)
    comparator: str
    value: str


@dataclass(frozen=True)
class Not:
    term: Any


@dataclass(frozen=True)
class Both:                     # AND
    terms: tuple


@dataclass(frozen=True)
class Either:                   # OR
    terms: tuple


def parse_search(text: str | None) -> Any:
    """The query's tree, or None for an empty query. Raises ``SearchSyntaxError``."""
    parser = _Parser(text or "")
    parser.skip_space()
    if parser.done():
        return None
    tree = parser.query()
    if not parser.done():
        raise SearchSyntaxError(f"unexpected {parser.text[parser.pos]!r} at {parser.pos}")
    return tree


def search_terms(text: str | None) -> list[Match]:
    """Every field:value term of a query, in order (tests read what a client really asked)."""
    found, stack = [], [parse_search(text)]
    while stack:
        node = stack.pop()
        if isinstance(node, Match):
            found.append(node)
        elif isinstance(node, Not):
            stack.append(node.term)
        elif isinstance(node, (Both, Either)):
            stack.extend(reversed(node.terms))
    return found


def matches(tree: Any, test: Callable[[Match], bool]) -> bool:
    if tree is None:
        return True
    if isinstance(tree, Match):
        return test(tree)
    if isinstance(tree, Not):
        return not matches(tree.term, test)
    combine = all if isinstance(tree, Both) else any
    return combine(matches(term, test) for term in tree.terms)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def done(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, size: int = 1) -> str:
        return self.text[self.pos:self.pos + size]

    def skip_space(self) -> None:
        while not self.done() and self.text[self.pos].isspace():
            self.pos += 1

    def keyword(self, word: str) -> bool:
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and end < len(self.text) and self.text[end].isspace():
            self.pos = end
            self.skip_space()
            return True
        return False

    def query(self) -> Any:
        alternatives, current = [], [self.term()]
        while True:
            self.skip_space()
            if self.done() or self.peek() == ")":
                break
            if self.keyword("OR"):
                alternatives.append(current)
                current = []
            else:
                self.keyword("AND")
            current.append(self.term())
        groups = [Both(tuple(g)) if len(g) > 1 else g[0] for g in alternatives + [current]]
        return Either(tuple(groups)) if len(groups) > 1 else groups[0]

    def term(self) -> Any:
        self.skip_space()
        if self.peek() == "-" and self.pos + 1 < len(self.text) and not self.text[self.pos + 1].isspace():
            self.pos += 1
            return Not(self.term())
        if self.keyword("NOT"):
            return Not(self.term())
        if self.peek() == "(":
            self.pos += 1
            inner = self.query()
            if self.peek() != ")":
                raise SearchSyntaxError("unbalanced parenthesis")
            self.pos += 1
            return inner
        return self.match()

    def match(self) -> Match:
        quoted, first = self.value()
        if quoted or self.peek() != ":":
            return Match(None, ":", first)
        self.pos += 1
        comparator = next((c for c in ("<=", ">=", "<", ">") if self.text.startswith(c, self.pos)), "")
        self.pos += len(comparator)
        return Match(first.lower(), ":" + comparator, self.value()[1])

    def value(self) -> tuple[bool, str]:
        if self.peek() in ("'", '"'):
            return True, self.quoted(self.text[self.pos])
        chars = []
        while not self.done() and not self.text[self.pos].isspace():
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1                   # an escaped special character is plain text
            elif self.text[self.pos] in SPECIAL:
                break
            chars.append(self.text[self.pos])
            self.pos += 1
        if not chars:
            raise SearchSyntaxError(f"a value was expected at {self.pos}")
        return False, "".join(chars)

    def quoted(self, quote: str) -> str:
        self.pos += 1
        chars = []
        while not self.done() and self.text[self.pos] != quote:
            if self.text[self.pos] == "\\":
                self.pos += 1
                if self.done():
                    break
            chars.append(self.text[self.pos])
            self.pos += 1
        if self.done():
            raise SearchSyntaxError("unterminated quoted value")
        self.pos += 1
        return "".join(chars)


def time_matches(indexed: str | None, term: Match) -> bool:
    """A ``created_at:>='2026-11-20T10:00:00Z'``-style term against an indexed ISO moment.

    A value without an offset is read as UTC (Shopify reads it in the shop's time zone; the
    local shops all live in UTC); a bare date compares by day. A value that is no date at all
    raises ``SearchSyntaxError`` here, so a client's malformed filter fails loudly.
    """
    wanted = _search_moment(term.value)
    if indexed is None:
        return False
    moment = datetime.fromisoformat(indexed.replace("Z", "+00:00"))
    if len(term.value) == 10:                       # a date: the day, not its first second
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    compare = TIME_COMPARATORS.get(term.comparator)
    if compare is None:
        raise SearchSyntaxError(f"unknown comparator {term.comparator!r}")
    return compare(moment, wanted)


TIME_COMPARATORS: dict[str, Callable[[datetime, datetime], bool]] = {
    ":": lambda a, b: a == b, ":<": lambda a, b: a < b, ":<=": lambda a, b: a <= b,
    ":>": lambda a, b: a > b, ":>=": lambda a, b: a >= b}


def _search_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchSyntaxError(f"not a date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
