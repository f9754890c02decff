"""`xstilts data fetch`: download every declared source (tasks/*.py DOWNLOADS) into the layout the
readers read, and record it in MANIFEST.json.

Hub sources go through `datasets` (load_dataset_builder -> download_and_prepare -> as_dataset, the
steps of load_dataset, keeping the builder's resolved commit). A mirror root (`--mirror DIR` or
$XSTILTS_HUB_MIRROR) replaces the Hub and the web: repo `owner/name` is read from DIR/owner/name
(laid out as the Hub repo) and `https://host/path` from DIR/host/path.

Each part (one config or URL at one language) is recorded when its files are written, so an
interrupted fetch resumes with the next part; a task whose files all check is marked complete
and skipped next time.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from rich.console import Console
from rich.progress import Progress

from ..errors import XstiltsError
from .check import check_task
from .features import file_sha256
from .manifest import read_manifest, write_manifest
from .sources import Hub, Manual, Part, parts

MIRROR_ENV = "XSTILTS_HUB_MIRROR"


def mirror_root(mirror: str | Path | None = None) -> Path | None:
    root = mirror or os.environ.get(MIRROR_ENV)
    return Path(root) if root else None


def _fetch_hub(part: Part, out: Path, mirror: Path | None, console: Console) -> tuple[str, list[Path]]:
    """Write the part's splits; returns the commit (or local fingerprint) `datasets` resolved, and the files."""
    import datasets

    source = part.source
    repo = str(mirror / source.repo) if mirror else source.repo
    config = part.fmt(source.config) if source.config else None
    try:  # a missing repo, config, revision or split is the user's (or the Hub's) error, named in one line
        builder = datasets.load_dataset_builder(repo, config, revision=source.revision)
        builder.download_and_prepare()
        splits = {split: builder.as_dataset(split=split) for split in part.outputs}
    except (FileNotFoundError, ConnectionError, ValueError, datasets.exceptions.DatasetNotFoundError) as err:
        raise XstiltsError(f"{part.origin}: {err}") from None
    written = [path for split, relative in part.outputs.items()
               for path in source.write(splits[split], out / relative, part.lang)]
    return builder.hash, written


def _download(url: str, mirror: Path | None, into: Path) -> Path:
    target = into / Path(urlparse(url).path).name
    if mirror:
        parsed = urlparse(url)
        local = mirror / parsed.netloc / parsed.path.lstrip("/")
        if not local.is_file():
            raise XstiltsError(f"{url}: not in the mirror (expected {local})")
        shutil.copyfile(local, target)
    else:
        try:
            urllib.request.urlretrieve(url, target)
        except OSError as err:
            raise XstiltsError(f"{url}: download failed ({err})") from None
    return target


def _fetch_url(part: Part, out: Path, mirror: Path | None, console: Console) -> tuple[str, list[Path]]:
    """Download, verify the declared sha256, extract the declared members; returns the sha256 and the files."""
    url = part.origin
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        archive = _download(url, mirror, Path(tmp))
        sha256 = file_sha256(archive)
        expected = part.source.sha256.get(url)
        if expected and expected != sha256:
            raise XstiltsError(f"{url}: sha256 {sha256} differs from the declared {expected}")
        if not expected:
            console.print(f"[yellow]note:[/] {url} has no declared sha256; fetched {sha256}")
        with tarfile.open(archive) as tar:
            for member, relative in part.outputs.items():
                try:
                    data = tar.extractfile(member)
                except KeyError:
                    raise XstiltsError(f"{url}: archive lacks {member}") from None
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                (out / relative).write_bytes(data.read())
    return sha256, [out / relative for relative in part.outputs.values()]


def _record(out: Path, resolved: str, paths: list[Path]) -> dict:
    return {"resolved": resolved, "files": {str(p.relative_to(out)): file_sha256(p) for p in paths}}


def _files_intact(out: Path, record: dict | None) -> bool:
    """The record's files are all on disk with the recorded contents."""
    if not record:
        return False
    paths = [out / rel for rel in record["files"]]
    return all(p.is_file() for p in paths) and [file_sha256(p) for p in paths] == list(record["files"].values())


def fetch(tasks: list[str], out: str | Path, mirror: str | Path | None = None, console: Console | None = None) -> dict:
    """Fetch `tasks` into `out`; returns the manifest. Manual (licensed) tasks print where to get them."""
    from ..tasks.registry import DOWNLOADS, get_task

    console = console or Console()
    out, mirror = Path(out), mirror_root(mirror)
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out)
    for name in tasks:
        spec, declarations = get_task(name), DOWNLOADS[name]
        manual = [d.message for d in declarations if isinstance(d, Manual)]
        if manual:
            console.print(f"{name}: [yellow]not downloadable[/]: " + " ".join(manual), soft_wrap=True)
            continue
        if manifest["tasks"].get(name, {}).get("complete") and _files_intact(out, manifest["tasks"][name]):
            console.print(f"{name}: already fetched, skipped")
            continue
        todo = parts(declarations)
        with Progress(console=console, transient=False) as progress:
            bar = progress.add_task(f"{name}", total=len(todo))
            for part in todo:
                if not _files_intact(out, manifest["parts"].get(part.key)):
                    fetch_part = _fetch_hub if isinstance(part.source, Hub) else _fetch_url
                    manifest["parts"][part.key] = _record(out, *fetch_part(part, out, mirror, console))
                    write_manifest(out, manifest)
                progress.advance(bar)
        report = check_task(out, spec, list(spec.languages))
        if report.problems:
            raise XstiltsError(f"{name}: fetched files do not check:\n" + "\n".join(report.problems))
        records = [(part, manifest["parts"][part.key]) for part in todo]
        manifest["tasks"][name] = {
            "complete": True, "layout": report.layout, "counts": report.counts,
            "sources": {part.origin: r["resolved"] for part, r in records},
            "files": {rel: sha for _, r in records for rel, sha in r["files"].items()}}
        write_manifest(out, manifest)
        console.print(f"{name}: {len(todo)} part(s); examples per split: "
                      + ", ".join(f"{split} {sum(c.values())}" for split, c in report.counts.items()))
    return manifest
