"""Where each task's data comes from: Hub datasets (loaded with `datasets`) or official release URLs.

Each task module declares a `DOWNLOADS` table next to its TaskSpecs; `xstilts data fetch` expands
every declaration into parts (one Hub config or one URL per language) and writes each part's
files at the paths the TaskSpec reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Hub:
    """One Hub dataset config per language; `files` maps the Hub split to our path template.

    `config` and the paths may use {lang} and {name} (`names[lang]`, e.g. udpos.English, tatoeba.afr).
    `revision` is a branch, tag or commit; the commit it resolves to is recorded in MANIFEST.json.
    """

    repo: str
    config: str | None
    files: dict[str, str]
    write: Callable
    langs: tuple[str, ...] = ("en",)
    names: dict[str, str] = field(default_factory=dict)
    revision: str = "main"


@dataclass(frozen=True)
class Url:
    """An official release archive per language: `files` maps archive members to our paths.

    sha256 maps each formatted URL to its checksum; a URL without one is fetched, its checksum
    printed and recorded (pin it here once verified).
    """

    url: str
    files: dict[str, str]
    langs: tuple[str, ...] = ("en",)
    sha256: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Manual:
    """Data that cannot be downloaded (licence): where to get it and what to place where."""

    message: str


@dataclass(frozen=True)
class Part:
    """One unit of fetching: a declaration at one language."""

    source: Hub | Url
    lang: str

    def fmt(self, template: str) -> str:
        return template.format(lang=self.lang, name=getattr(self.source, "names", {}).get(self.lang, self.lang))

    @property
    def origin(self) -> str:
        if isinstance(self.source, Hub):
            return f"hf://{self.source.repo}/{self.fmt(self.source.config or 'default')}@{self.source.revision}"
        return self.fmt(self.source.url)

    @property
    def key(self) -> str:
        """Identity of the part's output for resuming: origin plus the files it writes."""
        return f"{self.origin} -> {','.join(sorted(self.outputs.values()))}"

    @property
    def outputs(self) -> dict[str, str]:
        """Hub split or archive member -> relative output path."""
        return {self.fmt(k): self.fmt(v) for k, v in self.source.files.items()}


def parts(declarations) -> list[Part]:
    return [Part(d, lang) for d in declarations if not isinstance(d, Manual) for lang in d.langs]
