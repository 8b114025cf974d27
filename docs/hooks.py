"""MkDocs hooks: CONTRIBUTING.md's ```` ```python file=PATH ```` fences (which its test writes out
as files) are shown as code blocks titled PATH once the page includes it."""

from __future__ import annotations

import re
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor

_FILE_FENCE = re.compile(r"^(?P<fence>\s*`{3,})(?P<lang>[\w-]+) file=(?P<path>\S+)\s*$")


class _FileFences(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        return [_FILE_FENCE.sub(r'\g<fence>\g<lang> title="\g<path>"', line) for line in lines]


class FileFences(Extension):
    """Rewrites ``file=PATH`` fence attributes to ``title="PATH"`` after snippets are included
    (priority 32) and before superfences reads the fences (25)."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.preprocessors.register(_FileFences(md), "ganforge_file_fences", 31.5)


def on_config(config: Any) -> Any:
    config.markdown_extensions.append(FileFences())
    return config
