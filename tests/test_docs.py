"""The README is a front page under 8 kB, and every link in the docs resolves."""
from __future__ import annotations

import re

import pytest

from conftest import ROOT

PAGES = [ROOT / "README.md", ROOT / "data" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page) -> set:
    return {slug(m.group(1)) for m in re.finditer(r"(?m)^#+\s+(.*)$", page.read_text())}


def links(page) -> list:
    text = re.sub(r"(?s)```.*?```", "", page.read_text())      # code blocks hold no links
    return [m.group(1) for m in LINK.finditer(text)]


def test_the_front_page_is_short():
    assert (ROOT / "README.md").stat().st_size < 8 * 1024


def test_the_link_checker_catches_a_broken_link(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("# Top part\n[ok](x.md#top-part) [bad](missing.md) [anchor](#nowhere) [web](https://a.b)\n"
                    "```\n[not a link](in_code.md)\n```\n")
    assert links(page) == ["x.md#top-part", "missing.md", "#nowhere", "https://a.b"]
    assert broken(page) == ["missing.md", "#nowhere"]


def broken(page) -> list:
    bad = []
    for target in links(page):
        if re.match(r"^[a-z]+://|^mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(target)
    return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_a_file_in_the_repository_resolves(page):
    assert broken(page) == []


def test_every_docs_page_is_linked_from_the_front_page():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    for page in (ROOT / "docs").glob("*.md"):
        assert page.resolve() in linked, page.name
