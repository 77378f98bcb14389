"""One-page certificates for a building or a product and period, with a QR code (pure but for segno).

A certificate prints the figures of a statement (a building's carbon statement, or a product's
CBAM report), the factor sets they rest on, the statement's SHA-256 content hash, and a QR code
whose text names the certificate's subject, its period and that hash::

    greenwire-certificate:v1?kind=product&subject=park%2Fworks%2F7318+15&from=...&to=...&sha256=<hex>

``greenwire carbon verify STATEMENT.csv --qr TEXT`` checks that the statement is unchanged and is
the one the certificate names. The certificate itself is HTML printed to PDF by the statements'
Chromium printer (:mod:`greenwire.cloud.carbon.pdf`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qs, urlencode

PREFIX = "greenwire-certificate:v1?"
Kind = Literal["building", "product", "enterprise"]


@dataclass(frozen=True, slots=True)
class Payload:
    """What a certificate's QR code says."""

    kind: Kind
    subject: str
    start: str
    end: str
    sha256: str

    def text(self) -> str:
        return PREFIX + urlencode({"kind": self.kind, "subject": self.subject, "from": self.start,
                                   "to": self.end, "sha256": self.sha256})


def parse_payload(text: str) -> Payload:
    """The QR code's text as a :class:`Payload`; ValueError saying what is wrong otherwise."""
    if not text.startswith(PREFIX):
        raise ValueError(f"not a greenwire certificate code (it starts {text[:30]!r}, expected {PREFIX!r})")
    fields = {k: v[0] for k, v in parse_qs(text[len(PREFIX):], strict_parsing=True).items()}
    missing = [k for k in ("kind", "subject", "from", "to", "sha256") if k not in fields]
    if missing:
        raise ValueError(f"the certificate code lacks {', '.join(missing)}")
    digest = fields["sha256"]
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("the certificate code's sha256 is not a SHA-256 hex digest")
    if fields["kind"] not in ("building", "product", "enterprise"):
        raise ValueError(f"unknown certificate kind {fields['kind']!r}")
    return Payload(fields["kind"], fields["subject"], fields["from"], fields["to"], digest)  # type: ignore[arg-type]


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as inline SVG (error correction M)."""
    import segno

    return str(segno.make(text, error="m", micro=False).svg_inline(scale=3, border=2))


@dataclass(frozen=True, slots=True)
class Certificate:
    title: str
    subject: str
    payload: Payload
    figures: list[tuple[str, str, str]]
    """(label, value as printed, unit)."""
    factor_sets: list[str]
    issued: datetime
    version: str
    statement_name: str


_STYLE = ("@page{size:A4;margin:14mm}body{font-family:sans-serif;font-size:10.5pt;color:#123}"
          "h1{font-size:20pt;margin:0 0 .2em}h2{font-size:12pt;margin:1.1em 0 .3em}.sub{color:#456}"
          "table{border-collapse:collapse;width:100%}td{padding:.25em .6em;border-bottom:1px solid #ddd}"
          "td.v{text-align:right;font-weight:bold}.qr{float:right;margin:0 0 1em 1em;text-align:center}"
          "code{font-size:8.5pt;word-break:break-all}li{font-size:9pt}")


def certificate_html(cert: Certificate) -> str:
    """The certificate as one A4 page of HTML (QR code as inline SVG)."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(label)}</td><td class=v>{e(value)}</td><td>{e(unit)}</td></tr>"
                   for label, value, unit in cert.figures)
    sets = "".join(f"<li>{e(s)}</li>" for s in cert.factor_sets) or "<li>none</li>"
    p = cert.payload
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{e(cert.title)}</title><style>{_STYLE}</style>"
            f"<body><div class=qr>{qr_svg(p.text())}<br><small>scan to verify</small></div>"
            f"<h1>{e(cert.title)}</h1><p class=sub>{e(cert.subject)}<br>Period {e(p.start)} to {e(p.end)} "
            "(UTC; end exclusive)</p>"
            f"<h2>Figures</h2><table>{rows}</table><h2>Factor sets</h2><ul>{sets}</ul>"
            f"<h2>Statement</h2><p>These figures are those of <b>{e(cert.statement_name)}</b>, content hash "
            f"(SHA-256) <code>{e(p.sha256)}</code>. Check it: <code>greenwire carbon verify "
            f"{e(cert.statement_name)} --qr '&lt;the QR code's text&gt;'</code></p>"
            f"<p class=sub>Issued {cert.issued:%Y-%m-%d %H:%M} UTC by greenwire {e(cert.version)}.</p>"
            "</body></html>\n")
