"""Printing an HTML carbon statement to PDF with headless Chromium (Debian package ``chromium``).

The browser runs with a throw-away profile in a temporary directory, no network services of its
own and no page header or footer, on the paper the page's ``@page`` rule names (A4 or US Letter,
from the building's country). A missing browser, a failed print or one taking longer than
``timeout_s`` is a ``PdfError`` that says which.

:func:`seal` then writes what ``greenwire carbon verify`` checks into the printed file (with pypdf,
the ``report`` extra): the content hash in the document information and the hashed Markdown as
an embedded file (:mod:`greenwire.cloud.carbon.seal`).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from greenwire.cloud.carbon.seal import PDF_ATTACHMENT, PDF_HASH_KEY

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class PdfError(RuntimeError):
    """The statement could not be printed (the message says why, in one line)."""


def find_browser() -> str | None:
    """The first Chromium found on PATH, or None."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def html_to_pdf(page: str, output: Path, *, timeout_s: float = 120.0) -> None:
    """Print the HTML ``page`` to ``output`` (a PDF file)."""
    browser = find_browser()
    if browser is None:
        raise PdfError("--format pdf needs Chromium (apt install chromium); --format html or csv need nothing")
    with tempfile.TemporaryDirectory(prefix="greenwire-pdf-") as tmp:
        source = Path(tmp) / "statement.html"
        source.write_text(page, encoding="utf-8")
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
                   f"--print-to-pdf={output.resolve()}", source.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing the PDF within {timeout_s:g} s") from None
    if done.returncode != 0 or not output.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PdfError(f"Chromium could not print the PDF: {last}")


def seal(pdf: Path, markdown: str, digest: str, *, title: str) -> None:
    """Write the content hash (document information) and the hashed ``markdown`` (embedded file) into ``pdf``."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf.read_bytes())))
    writer.add_metadata({"/Title": title, "/Subject": f"greenwire carbon statement, content hash {digest}",
                         PDF_HASH_KEY: digest})
    writer.add_attachment(PDF_ATTACHMENT, markdown.encode("utf-8"))
    with pdf.open("wb") as out:
        writer.write(out)
