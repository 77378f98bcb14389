"""`greenwire cbam report` against a real InfluxDB: the worked example of docs/cbam.md stored as
counter readings, reported in every format; the JSON equals the hand computation."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.servers import InfluxDB1
from greenwire.shared.lineprotocol import SeriesPrefix
from tests.unit.test_cbam import _example, _hand, _rising

pytestmark = pytest.mark.integration

FIELD = {"main": "energy_import_kwh", "pv": "energy_generated_kwh", "line-a": "energy_import_kwh",
         "line-b": "energy_import_kwh", "compressors": "energy_import_kwh", "furnace": "gas_volume_m3",
         "bolts-count": "production_count_pcs", "fittings-mass": "production_mass_t"}


def test_cbam_report_from_influxdb_in_every_format(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    yaml, rises, _ = _example()
    lines = []
    for device, total in rises.items():
        prefix = SeriesPrefix("readings", {"site": "park", "gateway": "gw-works", "device": device})
        lines += [prefix.line({FIELD[device]: value, "quality": q}, int(ts.timestamp()) * 10**9)
                  for ts, value, q in _rising(total)]
    influxdb.write(influx_db, lines)
    (tmp_path / "sites.yaml").write_text(yaml)
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n")
    args = ["cbam", "report", "--sites", str(tmp_path / "sites.yaml"), "--installation", "works",
            "--from", "2026-11-01", "--to", "2026-11-02", "--config", str(tmp_path / "ingest.yaml")]
    runner = CliRunner()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    hand = _hand(rises)
    for entry in document["products"]:
        for key, value in hand[entry["process"]].items():
            assert entry[key] == pytest.approx(value, rel=1e-9), key

    csv_file = tmp_path / "works.csv"
    assert runner.invoke(app, [*args, "--format", "csv", "--output", str(csv_file)]).exit_code == 0
    verified = runner.invoke(app, ["carbon", "verify", str(csv_file)])
    assert verified.exit_code == 0, verified.output
    assert document["content_hash_sha256"] in csv_file.read_text()

    xlsx = tmp_path / "works.xlsx"
    written = runner.invoke(app, [*args, "--format", "xlsx", "--output", str(xlsx)])
    assert written.exit_code == 0, written.output
    openpyxl = pytest.importorskip("openpyxl")
    sheet = openpyxl.load_workbook(xlsx)["Summary_Products"]
    assert [row[0] for row in sheet.iter_rows(min_row=3, values_only=True)] == ["7318 15", "7307 99"]

    if shutil.which("chromium"):  # installed by make test (scripts/install-system-deps.sh)
        pdf = tmp_path / "works.pdf"
        printed = runner.invoke(app, [*args, "--format", "pdf", "--output", str(pdf)])
        assert printed.exit_code == 0, printed.output
        assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 2000
        if shutil.which("pdftotext"):
            import subprocess

            text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                                  check=True).stdout
            assert "7318 15" in text and f"{document['products'][0]['see_total']:,.4f}" in text


def test_cbam_report_says_what_is_wrong(tmp_path: Path) -> None:
    yaml, _, _ = _example()
    (tmp_path / "sites.yaml").write_text(yaml)
    result = CliRunner().invoke(app, ["cbam", "report", "--sites", str(tmp_path / "sites.yaml"), "--installation",
                                      "plant", "--from", "2026-11-01", "--to", "2026-11-02"])
    assert result.exit_code == 2
    assert "installation 'plant' is not in the site model (installations: park/works)" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.replace("kg_per_piece: 0.05", "kg_per_piece: -1"))
    result = CliRunner().invoke(app, ["cbam", "report", "--sites", str(bad), "--installation", "works",
                                      "--from", "2026-11-01", "--to", "2026-11-02"])
    assert result.exit_code == 2 and f"{bad}:" in result.output and "greater than 0" in result.output
    assert "Traceback" not in result.output


def _qr_text(pdf: Path, tmp_path: Path) -> str:
    """The certificate's QR code read back by an independent decoder (zbar) from the printed page."""
    import subprocess

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / pdf.stem)], check=True)
    done = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / f"{pdf.stem}.png")], capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


@pytest.mark.skipif(not all(shutil.which(t) for t in ("chromium", "pdftoppm", "zbarimg")),
                    reason="needs chromium, poppler-utils and zbar-tools (scripts/install-system-deps.sh)")
def test_certificates_carry_a_qr_code_that_verify_checks(influxdb: InfluxDB1, influx_db: str,
                                                         tmp_path: Path) -> None:
    pytest.importorskip("segno")
    yaml, rises, _ = _example()
    lines = []
    for device, total in rises.items():
        prefix = SeriesPrefix("readings", {"site": "park", "gateway": "gw-works", "device": device})
        lines += [prefix.line({FIELD[device]: value, "quality": q}, int(ts.timestamp()) * 10**9)
                  for ts, value, q in _rising(total)]
    influxdb.write(influx_db, lines)
    (tmp_path / "sites.yaml").write_text(yaml)
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n")
    common = ["--sites", str(tmp_path / "sites.yaml"), "--from", "2026-11-01", "--to", "2026-11-02",
              "--config", str(tmp_path / "ingest.yaml")]
    runner = CliRunner()
    bolts = tmp_path / "bolts.pdf"
    made = runner.invoke(app, ["cbam", "certificate", *common, "--installation", "works", "--product", "7318 15",
                               "--output", str(bolts)])
    assert made.exit_code == 0, made.output
    hall = tmp_path / "hall.pdf"
    made = runner.invoke(app, ["cbam", "certificate", *common, "--building", "hall", "--output", str(hall)])
    assert made.exit_code == 0, made.output

    works = tmp_path / "works.pdf"
    made = runner.invoke(app, ["cbam", "certificate", *common, "--enterprise", "park", "--output", str(works)])
    assert made.exit_code == 0, made.output
    works_qr = _qr_text(works, tmp_path)
    assert "kind=enterprise" in works_qr and "subject=all%2Fpark" in works_qr
    ok = runner.invoke(app, ["carbon", "verify", str(tmp_path / "works.csv"), "--qr", works_qr])
    assert ok.exit_code == 0, ok.output
    assert "30.000" in subprocess_text(works)  # the plant's output, t
    bolts_qr, hall_qr = _qr_text(bolts, tmp_path), _qr_text(hall, tmp_path)
    assert "kind=product" in bolts_qr and "kind=building" in hall_qr
    ok = runner.invoke(app, ["carbon", "verify", str(tmp_path / "bolts.csv"), "--qr", bolts_qr])
    assert ok.exit_code == 0 and "names this statement" in ok.output, ok.output
    ok = runner.invoke(app, ["carbon", "verify", str(tmp_path / "hall.csv"), "--qr", hall_qr])
    assert ok.exit_code == 0, ok.output
    other = runner.invoke(app, ["carbon", "verify", str(tmp_path / "bolts.csv"), "--qr", hall_qr])
    assert other.exit_code == 1 and "names another statement" in other.output
    statement = tmp_path / "bolts.csv"
    statement.write_text(statement.read_text().replace("3.31", "2.31", 1))
    changed = runner.invoke(app, ["carbon", "verify", str(statement), "--qr", bolts_qr])
    assert changed.exit_code == 1 and "was changed" in changed.output
    text = subprocess_text(bolts)
    assert "Screws and bolts" in text and "3.6601" in text and "tCO2e/t" in text


def subprocess_text(pdf: Path) -> str:
    import subprocess

    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("extra", "words"), [
    (["--from", "2026-11-02", "--to", "2026-11-01"], "--to must be after --from"),
    (["--from", "2026-11-01", "--to", "2026-11-02", "--format", "xlsx"], "--format xlsx needs --output FILE.xlsx"),
    (["--from", "yesterday", "--to", "2026-11-02"], "expected an ISO 8601 time"),
])
def test_cbam_report_refuses_bad_options_in_one_line(tmp_path: Path, extra: list[str], words: str) -> None:
    yaml, _, _ = _example()
    (tmp_path / "sites.yaml").write_text(yaml)
    result = CliRunner().invoke(app, ["cbam", "report", "--sites", str(tmp_path / "sites.yaml"), "--installation",
                                      "works", *extra])
    assert result.exit_code == 2 and words in result.output, result.output
    assert "Traceback" not in result.output


def test_certificate_needs_exactly_one_subject(tmp_path: Path) -> None:
    yaml, _, _ = _example()
    (tmp_path / "sites.yaml").write_text(yaml)
    result = CliRunner().invoke(app, ["cbam", "certificate", "--sites", str(tmp_path / "sites.yaml"), "--building",
                                      "hall", "--installation", "works", "--from", "2026-11-01", "--to",
                                      "2026-11-02", "--output", str(tmp_path / "c.pdf")])
    assert result.exit_code == 2 and "give --building B, --enterprise E, or --installation I" in result.output
