"""Every stage's --help teaches: one sentence of what it is for, two example commands, its defaults."""
from __future__ import annotations

import argparse
import importlib
import re

import pytest

from test_layout import project_modules, stage_scripts

STAGES = sorted(stage_scripts(project_modules()))


def _help(name: str, capsys) -> str:
    mod = importlib.import_module(name)
    with pytest.raises(SystemExit) as exc:
        mod.main(["--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", STAGES)
def test_help_opens_with_a_sentence_and_two_examples(name, capsys):
    text = _help(name, capsys)
    paras = text.split("\n\n")
    assert paras[0].startswith("usage: ") and paras[0].rstrip().endswith("[options]"), paras[0]
    sentence = paras[1].strip()
    # one sentence: ends with a full stop and has no other sentence end inside
    assert sentence.endswith(".") and not re.search(r"[.!?] [A-Z]", sentence), sentence
    assert "\n" not in sentence and len(sentence) <= 120, sentence
    lines = paras[2].splitlines()
    assert lines[0] == "examples:"
    examples = [ln.strip() for ln in lines[1:] if re.search(rf"\bpython {name}\.py\b", ln)]
    assert len(examples) >= 2, lines


@pytest.mark.parametrize("name", STAGES)
def test_help_states_every_default(name):
    ap = _parser(importlib.import_module(name))
    fmt = ap._get_formatter()
    for action in ap._actions:
        if not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
            continue
        shown = fmt._expand_help(action)
        assert "default" in shown, (action.option_strings, shown)
        if "default" not in (action.help or ""):
            assert f"(default: {action.default})" in shown, (action.option_strings, shown)


def _parser(mod) -> argparse.ArgumentParser:
    """The parser a stage's ``main`` builds, caught as it parses."""
    seen = {}
    real = argparse.ArgumentParser.parse_args

    def grab(self, args=None, namespace=None):
        seen["ap"] = self
        raise SystemExit(0)
    argparse.ArgumentParser.parse_args = grab
    try:
        with pytest.raises(SystemExit):
            mod.main(["--help"])
    finally:
        argparse.ArgumentParser.parse_args = real
    return seen["ap"]


def test_the_help_layout_is_built_from_the_docstring():
    from va_cli import parser, split_doc
    doc = """Do one thing well.

    Reads X; writes Y.

    Examples:
      python tool.py a
      python tool.py b --fast

    More details.
    """
    summary, examples, details = split_doc(doc)
    assert summary == "Do one thing well."
    assert examples == ["python tool.py a", "python tool.py b --fast"]
    assert "Reads X; writes Y." in details and "More details." in details and "Examples" not in details
    ap = parser(doc)
    ap.add_argument("--level", type=int, default=3, help="how hard")
    ap.add_argument("--name", help="a name (default: the file's)")
    ap.add_argument("--flag", action="store_true", help="a switch")
    text = ap.format_help()
    assert "how hard (default: 3)" in text
    assert "a name (default: the file's)" in text and "(default: None)" not in text and "(default: False)" not in text
    assert text.index("Do one thing well.") < text.index("examples:") < text.index("Reads X") < text.index("options:")
