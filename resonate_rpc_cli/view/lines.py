"""Styled lines and trees: the Rich-free form of what ``run``, ``tree`` and ``doctor`` print.

A :class:`Line` is Rich's ``Text`` reduced to what these views use: a base style
over the whole line, then pieces appended with or without a style of their own
(``Line("x", style="green").append("y", "bold")`` is ``Text("x",
style="green").append("y", "bold")``). A :class:`Node` is a ``Tree`` of lines.
``view/plain.py`` writes them byte for byte as Rich's console would, when it can
prove that (issue 21: printing a line must not cost an import of Rich);
``view/richlines.py`` turns them into Rich objects for everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Line:
    """One line of text: a base style and the pieces ``(text, style)`` in order ("" = none)."""

    __slots__ = ("parts", "style")

    def __init__(self, text: str = "", style: str = "") -> None:
        self.style = style
        self.parts: list[tuple[str, str]] = [(text, "")] if text else []

    def append(self, text: str, style: str = "") -> Line:
        """Add ``text`` (in ``style`` over the base style); empty text adds nothing, as in Rich."""
        if text:
            self.parts.append((text, style))
        return self

    @classmethod
    def assemble(cls, *parts: str | tuple[str, str]) -> Line:
        """``Text.assemble``: plain strings and ``(text, style)`` pairs, no base style."""
        line = cls()
        for part in parts:
            if isinstance(part, str):
                line.append(part)
            else:
                line.append(*part)
        return line

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.parts)


class Node:
    """A tree of lines (Rich's ``Tree``): a label and the children under it, in order."""

    __slots__ = ("children", "label")

    def __init__(self, label: Line) -> None:
        self.label = label
        self.children: list[Node] = []

    def add(self, label: Line) -> Node:
        child = Node(label)
        self.children.append(child)
        return child


class _Linked(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def parent(self) -> str | None: ...


def children_by_parent[R: _Linked](rows: Sequence[R]) -> dict[str | None, list[R]]:
    """A call graph's rows under their parent's id, in order; a row whose parent is not
    among ``rows`` goes under ``None`` (a root of the drawing). One rule for the Rich tree
    (``render.promise_tree``) and the plain one (``textviews.promise_tree``)."""
    ids = {r.id for r in rows}
    children: dict[str | None, list[R]] = {}
    for row in rows:
        children.setdefault(row.parent if row.parent in ids else None, []).append(row)
    return children
