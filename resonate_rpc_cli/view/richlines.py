"""Styled lines and trees (``view/lines.py``) as Rich objects, for Rich and the live view."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from resonate_rpc_cli.view.lines import Line, Node


def to_text(line: Line) -> Text:
    text = Text(style=line.style)
    for piece, style in line.parts:
        text.append(piece, style=style or None)
    return text


def to_group(lines: Sequence[Line]) -> Group:
    return Group(*(to_text(line) for line in lines))


def to_tree(node: Node) -> Tree:
    tree = Tree(to_text(node.label))

    def add(into: Tree, children: list[Node]) -> None:
        for child in children:
            add(into.add(to_text(child.label)), child.children)

    add(tree, node.children)
    return tree
