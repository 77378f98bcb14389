"""A statement's content hash: where each form carries it, and checking a file against it (pure).

Markdown and CSV statements hash their own text above the hash line. A PDF statement is printed
from the hashed Markdown and carries, besides the hash on its last page, the hash in its
document information (``/GreenwireContentHash``) and the hashed Markdown itself as an embedded
file (``statement.md``). Checking a PDF therefore checks three things: the embedded Markdown
still matches its hash; the hash in the metadata and on the page are that hash; and the figures
printed on the pages are the Markdown's (every number, counted, in the pages' text).

:func:`check` answers any bytes with a :class:`Verdict`; a file that is not a statement it can
check raises :class:`NotAStatement`. Either way the reason is one sentence for a person.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Final

HASH_MD: Final = "\nContent hash (SHA-256 of everything above this line): `{}`\n"
HASH_CSV_ITEM: Final = "content_hash_sha256"
MD_HEADING: Final = "# Carbon statement"
CSV_HEADER: Final = "section,item,value,unit"
PDF_HASH_KEY: Final = "/GreenwireContentHash"
PDF_ATTACHMENT: Final = "statement.md"

_MD_HASH = re.compile(r"\nContent hash \(SHA-256[^`\n]*`([0-9a-f]{64})`\n?$")
_CSV_HASH = re.compile(rf"\nstatement,{HASH_CSV_ITEM},([0-9a-f]{{64}}),\n?$")
_ANY_HASH = re.compile(r"(?:Content hash \(SHA-256[^`]*`|statement,content_hash_sha256,)([0-9a-f]{64})")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


class NotAStatement(ValueError):
    """The input is not a statement this can check (empty, binary, another kind of file)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a statement matches its hash: ``reason`` says why not (one sentence), ``kind`` what it is."""

    ok: bool
    kind: str
    digest: str | None
    reason: str = ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(text: str) -> str:
    """The hash a statement's text carries (in any of its forms)."""
    found = _ANY_HASH.search(text)
    if found is None:
        raise ValueError("no content hash in this file: is it a greenwire carbon statement?")
    return found[1]


def check_text(text: str) -> Verdict:
    """A Markdown or CSV statement against the hash on its last line."""
    if text.startswith(CSV_HEADER):
        kind, pattern = "CSV statement", _CSV_HASH
    elif text.startswith(MD_HEADING):
        kind, pattern = "Markdown statement", _MD_HASH
    elif text.lstrip().lower().startswith(("<!doctype html", "<html")):
        raise NotAStatement("an HTML statement cannot be checked: check its Markdown, CSV or PDF form "
                            "(the page shows the same hash)")
    else:
        raise NotAStatement("this is not a greenwire carbon statement (it starts with neither "
                            f"{MD_HEADING!r} nor the CSV header {CSV_HEADER!r})")
    found = pattern.search(text)
    if found is None:
        return Verdict(False, kind, None, "its content hash line is missing or damaged, so it cannot be checked: "
                                          "it was cut short or edited")
    if sha256(text[: found.start() + 1 if kind == "CSV statement" else found.start()]) != found[1]:
        return Verdict(False, kind, found[1], "it was changed: its content no longer matches its hash")
    return Verdict(True, kind, found[1])


def numbers(text: str) -> Counter[str]:
    """Every number written in ``text``, counted (what a reader sees of the figures)."""
    return Counter(_NUMBER.findall(text))


def _pdf_parts(data: bytes) -> tuple[str | None, list[bytes], str]:
    """(metadata hash, embedded Markdown copies, pages' text) of a PDF; ValueError if it cannot be read."""
    from pypdf import PdfReader

    quiet = logging.getLogger("pypdf")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its repair notes ("EOF marker not found") are not for people
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        metadata = reader.metadata
        claimed = None if metadata is None else metadata.get(PDF_HASH_KEY)
        attached = list(reader.attachments.get(PDF_ATTACHMENT, []))
        pages = "\n".join(page.extract_text() or "" for page in reader.pages)
    # pypdf raises many kinds of error on a damaged file (its own, ValueError, KeyError, struct.error, ...):
    # each becomes the one sentence below.
    except Exception as exc:
        raise ValueError(f"the PDF cannot be read: it is damaged or cut short ({type(exc).__name__})") from None
    finally:
        quiet.setLevel(level)
    if not reader.pages:
        raise ValueError("the PDF has no pages: it is damaged or cut short")
    return (str(claimed) if claimed is not None else None), attached, pages


def check_pdf(data: bytes) -> Verdict:
    """A PDF statement: its embedded Markdown, the hash in its metadata and on its page, its printed figures."""
    kind = "PDF statement"
    try:
        claimed, attached, pages = _pdf_parts(data)
    except ValueError as exc:
        return Verdict(False, kind, None, str(exc))
    flat = re.sub(r"\s+", "", pages)
    shown = re.search(r"Contenthash\(SHA-256[^:]*:`?([0-9a-f]{64})", flat)
    if claimed is None and shown is None and not attached:
        raise NotAStatement("this PDF is not a greenwire carbon statement (no content hash in its metadata or text)")
    if not attached:
        return Verdict(False, kind, claimed or (shown[1] if shown else None),
                       "it carries no copy of the statement its hash covers, so it cannot be checked: "
                       "check the Markdown or CSV form it was printed from")
    try:
        markdown = attached[0].decode("utf-8")
        inner = check_text(markdown)
    except (UnicodeDecodeError, NotAStatement):
        return Verdict(False, kind, claimed, "its embedded statement is not a greenwire Markdown statement")
    if not inner.ok:
        return Verdict(False, kind, claimed, f"its embedded statement does not verify: {inner.reason}")
    if claimed != inner.digest:
        return Verdict(False, kind, claimed, "the hash in its document information is not the hash of its statement")
    if shown is None or shown[1] != inner.digest:
        return Verdict(False, kind, claimed, "the hash printed on its page is missing or not the hash of its statement")
    body = markdown[: _MD_HASH.search(markdown).start()]  # type: ignore[union-attr]  # checked above
    printed = pages[: pages.rfind("Content hash")] if "Content hash" in pages else pages
    if numbers(printed) != numbers(body):
        return Verdict(False, kind, claimed, "the figures printed on its pages differ from the statement its "
                                             "hash covers: the pages were changed")
    return Verdict(True, kind, claimed)


def check(data: bytes) -> Verdict:
    """Any file's bytes: a PDF, Markdown or CSV statement's verdict; NotAStatement for anything else."""
    if not data.strip():
        raise NotAStatement("the file is empty")
    if data.startswith(b"%PDF-"):
        return check_pdf(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAStatement("this is binary data, not a statement (a statement is Markdown, CSV or PDF)") from None
    if "\x00" in text:
        raise NotAStatement("this is binary data, not a statement (a statement is Markdown, CSV or PDF)")
    return check_text(text)
