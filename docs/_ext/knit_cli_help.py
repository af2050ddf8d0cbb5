"""``.. knit-cli-help::``: the ``--help`` of every ``knit`` command, from argparse.

The CLI reference is generated from :func:`knit.cli._parser` at build time,
so it always shows what ``knit COMMAND --help`` prints (at 80 columns).
"""
import argparse
import os

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

WIDTH = "80"


def _commands(parser, words):
    """Yield ``(words, help text)`` for a parser and all its sub-commands."""
    yield words, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, words + [name])


def command_helps():
    """``[(words, help text), ...]`` for ``knit`` and every sub-command."""
    from knit.cli import _parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH    # argparse wraps to the terminal width
    try:
        return list(_commands(_parser(), ["knit"]))
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


class KnitCliHelp(SphinxDirective):
    has_content = False

    def run(self):
        lines = []
        for words, text in command_helps():
            title = " ".join(words)
            lines += [title, "-" * len(title), "", ".. code-block:: text", ""]
            lines += [f"   {line}".rstrip() for line in text.splitlines()]
            lines.append("")
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, "knit-cli-help"), container)
        return container.children


def setup(app):
    app.add_directive("knit-cli-help", KnitCliHelp)
    return {"version": "1", "parallel_read_safe": True}
