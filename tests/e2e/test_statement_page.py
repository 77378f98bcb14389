"""A carbon statement as a person sees it: the HTML page in headless Chromium at a laptop's and a
phone's width, and the PDF's pages rendered to pictures with pdftoppm (poppler-utils).

The statement is of Cambridge University building b2 (Europe/London) over the first eight days
of March 2022, from its recorded electricity (simulators/data/cambridge-2022, MIT) read back as a
counter every 15 minutes, against a budget it exceeds. The page must not overflow at 390 or
1,400 px, its chart must be a loaded picture with coloured bars, and the PDF's first page must
be A4 and show the red warning and the chart. Screenshots go to
``$GREENWIRE_ARTIFACTS/statement/`` when that is set (to be looked at), else the test's directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenwire.cloud.carbon.pdf import html_to_pdf, seal
from greenwire.cloud.carbon.report import Readings, account_of
from greenwire.cloud.carbon.seal import check
from greenwire.cloud.carbon.statement import Header, render
from greenwire.cloud.carbon.statement_chart import days_of
from greenwire.cloud.carbon.statement_page import page
from greenwire.cloud.sites import Building, MeterRef
from greenwire.simulators.series import builtin_series
from tests.e2e.browser import MEASURE, WIDTHS, Browser, _coloured

pytestmark = pytest.mark.e2e

B2 = Building(id="b2", floor_area_m2=11500, zone="GB", timezone="Europe/London", annual_budget_kgco2e=250_000,
              meters=(MeterRef(gateway="gw-c", device="b2-main", role="grid_import"),))
START = datetime(2022, 3, 1, tzinfo=UTC)
END = START + timedelta(days=8)


def _statement() -> tuple[str, str, list]:  # type: ignore[type-arg]
    series = builtin_series("b2")
    offset = (START - series.start).total_seconds()
    readings = Readings({"b2-main": [(START + timedelta(minutes=15 * q), 80_000 + series.energy_kwh_at(offset + 900 * q),
                                      "good") for q in range(8 * 96 + 9)]}, {}, None)
    account = account_of(B2, readings, START, END)
    assert account.budget_used_pct is not None and account.budget_used_pct > 100  # the world this test is about
    markdown, digest = render("md", Header("cambridge", "b2", START, END, END, "test"), B2, account)
    return markdown, digest, days_of(B2, readings, START, END)


def test_the_statement_page_and_pdf_as_people_see_them(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    markdown, digest, days = _statement()
    artifacts = Path(os.environ.get("GREENWIRE_ARTIFACTS") or tmp_path) / "statement"
    artifacts.mkdir(parents=True, exist_ok=True)
    html = tmp_path / "statement.html"
    html.write_text(page(markdown, title="b2", days=days, paper="A4", timezone=B2.timezone), encoding="utf-8")
    with Browser(tmp_path / "chromium-profile") as browser:
        for width in WIDTHS:
            phone = width < 640
            browser.open(html.as_uri(), width, 2400, mobile=phone)
            layout = browser.evaluate(MEASURE)
            assert layout["scrollWidth"] <= width, f"statement at {width} px: the page is {layout['scrollWidth']} px wide"
            browser.resize(width, max(int(layout["height"]), 2400), mobile=phone)
            shot = artifacts / f"statement-{width}.png"
            browser.screenshot(shot)
            [chart] = layout["charts"]
            assert chart["loaded"] and not chart["empty"] and chart["right"] <= width + 0.5
            assert chart["w"] > 0.8 * min(width, 700) - 40, f"chart {chart['w']} px wide at {width} px"
            image = Image.open(shot).convert("RGB")
            box = (int(chart["x"]), int(chart["y"]), int(chart["x"] + chart["w"]), int(chart["y"] + chart["h"]))
            assert _coloured(image, box) > 300, f"no coloured bars in the chart at {width} px"
            warning_y = browser.evaluate('document.querySelector(".warning").getBoundingClientRect().top')
            assert warning_y < chart["y"], "the warning is not above the chart"

    if shutil.which("pdftoppm") is None or shutil.which("chromium") is None:
        pytest.skip("pdftoppm (poppler-utils) and chromium are installed by make install")
    pdf = tmp_path / "statement.pdf"
    html_to_pdf(html.read_text(encoding="utf-8"), pdf)
    seal(pdf, markdown, digest, title="b2")
    verdict = check(pdf.read_bytes())  # real data's figures, as pypdf reads them off the printed pages
    assert verdict.ok and verdict.digest == digest, verdict.reason
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(artifacts / "statement-pdf")],
                   check=True, timeout=60)
    [first] = sorted(artifacts.glob("statement-pdf*.png"))
    picture = Image.open(first).convert("RGB")
    assert abs(picture.width / picture.height - 210 / 297) < 0.01  # A4's proportions
    assert _coloured(picture, (0, 0, picture.width, picture.height)) > 500  # the warning's bar and the chart's bars
