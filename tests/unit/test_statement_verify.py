"""`greenwire carbon verify` on every kind of input, and the PDF statement read back as a reader sees it.

The PDF is printed by the real Chromium (as ``carbon statement --format pdf`` does) and read back
with pypdf: its paper, the chart's image, the warnings' text, the hash in its metadata and the
statement embedded in it. Every bad input gets one sentence on stderr and exit 1 (a statement
that does not match) or 2 (not a statement that can be checked), never a traceback.
"""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.carbon.pdf import html_to_pdf, seal
from greenwire.cloud.carbon.regional import PAGE_SIZES_MM
from greenwire.cloud.carbon.report import Account
from greenwire.cloud.carbon.statement import Day, Header, render
from greenwire.cloud.carbon.statement_page import page
from greenwire.cloud.sites import Building, MeterRef

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("matplotlib")

START, END = datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 3, 31, 23, tzinfo=UTC)
BUILDING = Building(id="b2", floor_area_m2=10000, zone="GB", timezone="Europe/London", annual_budget_kgco2e=10000,
                    meters=(MeterRef(gateway="gw-c", device="b2-main", role="grid_import"),))
ACCOUNT = Account("b2", START, END, grid_import_kwh=40_000.0, estimated_kwh=3_000.0, excluded_kwh=500.0,
                  scope2_location_kgco2e=8_000.0, floor_area_m2=10000, budget_kgco2e=BUILDING.budget_between(START, END),
                  factors={"NESO carbon intensity (neso-gb-2022-hourly.csv)"}, factor_table_version="t1")
HEADER = Header("cambridge", "b2", START, END, datetime(2026, 12, 2, 9, 0, tzinfo=UTC), "0.1.0")
DAYS = [Day(START + timedelta(days=i), 200.0 + 15 * (i % 7), BUILDING.budget_between(
    START + timedelta(days=i), min(END, START + timedelta(days=i + 1)))) for i in range(31)]
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is installed by make install")


def _pdf(path: Path, markdown: str, digest: str, *, paper: str = "A4", shown: str | None = None) -> Path:
    """Print ``shown`` (default: the statement itself) and seal it with ``markdown``'s hash, as the command does."""
    html_to_pdf(page(shown or markdown, title="t", days=DAYS, paper=paper, timezone=BUILDING.timezone), path)
    seal(path, markdown, digest, title="t")
    return path


@pytest.fixture(scope="module")
def statement_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    if shutil.which("chromium") is None:
        pytest.skip("chromium is installed by make install")
    markdown, digest = render("md", HEADER, BUILDING, ACCOUNT)
    return _pdf(tmp_path_factory.mktemp("pdf") / "statement.pdf", markdown, digest), markdown, digest


def _verify(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["carbon", "verify", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@needs_chromium
def test_the_pdf_reads_back_on_a4_with_its_chart_warnings_and_hash(statement_pdf: tuple[Path, str, str]) -> None:
    path, markdown, digest = statement_pdf
    reader = pypdf.PdfReader(path)
    first = reader.pages[0]
    width_mm, height_mm = (float(v) / 72 * 25.4 for v in (first.mediabox.width, first.mediabox.height))
    assert (round(width_mm), round(height_mm)) == tuple(round(v) for v in PAGE_SIZES_MM["A4"])
    assert len(first.images) == 1 and first.images[0].image.width > 1000  # the chart, at print resolution
    text = first.extract_text()
    assert text.index("Warning, over budget:") < text.index("Warning, data quality:") < text.index("Method:")
    assert "941.94 % of the period's budget used" in " ".join(text.split())
    assert "Period: March 2022 (Europe/London time)" in text
    assert reader.metadata["/GreenwireContentHash"] == digest
    assert reader.attachments["statement.md"] == [markdown.encode()]
    code, output = _verify(path)
    assert code == 0 and f"unchanged PDF statement (SHA-256 {digest})" in output


@needs_chromium
def test_a_us_building_prints_on_letter(tmp_path: Path) -> None:
    from greenwire.cloud.carbon.regional import paper_for, place_of

    paper = paper_for(place_of("US-CAMX", "America/Los_Angeles").country)
    markdown, digest = render("md", HEADER, BUILDING, ACCOUNT)
    box = pypdf.PdfReader(_pdf(tmp_path / "us.pdf", markdown, digest, paper=paper)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # 8.5 x 11 in


@needs_chromium
def test_a_pdf_whose_pages_were_changed_does_not_verify(tmp_path: Path, statement_pdf: tuple[Path, str, str]) -> None:
    _, markdown, digest = statement_pdf
    forged = _pdf(tmp_path / "forged.pdf", markdown, digest, shown=markdown.replace("40,000.0", "4,000.0"))
    code, output = _verify(forged)
    assert code == 1 and "the figures printed on its pages differ" in output


@needs_chromium
@pytest.mark.parametrize(("change", "reason"), [
    ("attachment", "its embedded statement does not verify: it was changed"),
    ("metadata", "the hash in its document information is not the hash of its statement"),
    ("stripped", "carries no copy of the statement its hash covers"),
])
def test_a_pdf_whose_seal_was_changed_does_not_verify(tmp_path: Path, statement_pdf: tuple[Path, str, str],
                                                      change: str, reason: str) -> None:
    path, markdown, _ = statement_pdf
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(path))
    if change == "metadata":
        writer.add_metadata({"/GreenwireContentHash": "0" * 64})
    else:
        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(path))
        writer._root_object.pop("/Names", None)  # drop the embedded file
        if change == "attachment":
            writer.add_attachment("statement.md", markdown.replace("40,000.0", "4,000.0").encode())
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "changed.pdf").write_bytes(buffer.getvalue())
    code, output = _verify(tmp_path / "changed.pdf")
    assert code == 1 and reason in output, output


@needs_chromium
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_pdf_is_a_sentence(tmp_path: Path, statement_pdf: tuple[Path, str, str], keep: float) -> None:
    data = statement_pdf[0].read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: int(len(data) * keep)])
    code, output = _verify(tmp_path / "cut.pdf")
    assert code == 1 and output.startswith(f"error: {tmp_path / 'cut.pdf'} does not verify: ")
    assert len(output.strip().splitlines()) == 1


def test_markdown_and_csv_statements_verify_until_changed_cut_or_stripped(tmp_path: Path) -> None:
    for fmt in ("md", "csv"):
        text, digest = render(fmt, HEADER, BUILDING, ACCOUNT)  # type: ignore[arg-type]
        good = tmp_path / f"s.{fmt}"
        good.write_text(text)
        code, output = _verify(good)
        assert code == 0 and digest in output
        good.write_text(text.replace("40,000.0" if fmt == "md" else "40000.0", "41,000.0", 1))
        assert _verify(good)[0] == 1 and "no longer matches its hash" in _verify(good)[1]
        good.write_text(text[: len(text) // 2])  # cut short: no hash line left
        code, output = _verify(good)
        assert code == 1 and "its content hash line is missing or damaged" in output
        good.write_text(text.rsplit("\n", 2)[0] + "\n")  # the hash line removed
        assert _verify(good)[0] == 1


@pytest.mark.parametrize(("content", "sentence"), [
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (bytes(range(256)) * 8, "this is binary data, not a statement"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "this is binary data, not a statement"),
    (b"%PDF-1.7\n" + bytes(range(256)) * 4, "does not verify: the PDF cannot be read"),
    (b'{"grid_import_kwh": 1}\n', "this is not a greenwire carbon statement"),
    (b"<!doctype html><html><body>statement</body></html>", "an HTML statement cannot be checked"),
])
def test_every_bad_input_is_one_sentence(tmp_path: Path, content: bytes, sentence: str) -> None:
    target = tmp_path / "input"
    target.write_bytes(content)
    code, output = _verify(target)
    assert code in (1, 2) and sentence in output and output.startswith("error: ")
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output


def test_a_pdf_that_is_not_a_statement_and_a_missing_file(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    other = tmp_path / "other.pdf"
    with other.open("wb") as out:
        writer.write(out)
    code, output = _verify(other)
    assert code == 2 and "this PDF is not a greenwire carbon statement" in output
    code, output = _verify(tmp_path / "absent.md")
    assert code == 2 and "cannot be read: No such file or directory" in output
    code, output = _verify(tmp_path)
    assert code == 2 and "cannot be read: Is a directory" in output


@needs_chromium
def test_the_command_prints_one_line_for_a_damaged_pdf(tmp_path: Path, statement_pdf: tuple[Path, str, str]) -> None:
    """Through the installed entry point, where no test harness catches the PDF library's own log lines."""
    import subprocess
    import sys

    data = statement_pdf[0].read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    code = "import sys; sys.argv = ['greenwire', 'carbon', 'verify', 'cut.pdf']; from greenwire.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == ["error: cut.pdf does not verify: the PDF cannot be read: it is damaged or "
                                        "cut short (PdfStreamError)"]


def test_verifying_a_pdf_without_the_report_extra_names_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "s.pdf").write_bytes(b"%PDF-1.7\n%%EOF\n")
    code = ("import sys; sys.modules['pypdf'] = None; sys.argv = ['greenwire', 'carbon', 'verify', 's.pdf']; "
            "from greenwire.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: this command needs greenwire's 'report' extra (pypdf is not installed): "
                                        "pip install 'greenwire[report]'"]
