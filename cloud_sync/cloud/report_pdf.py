"""The activity report as an A4 PDF (reportlab): summary, a chart of interactions per day,
and the detail tables."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from cloud_sync.cloud.reports import LOW_CONFIDENCE, ActivityReport

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def _fonts() -> tuple[str, str]:
    """DejaVu (covers ğ, ş, ı, İ) when installed, else the built-in Helvetica."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = _FONT_DIR / "DejaVuSans.ttf", _FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        if "ArmaSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("ArmaSans", str(regular)))
            pdfmetrics.registerFont(TTFont("ArmaSans-Bold", str(bold)))
        return "ArmaSans", "ArmaSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def render_pdf(report: ActivityReport) -> bytes:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font, bold = _fonts()
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = bold if style.name.startswith(("Heading", "Title")) else font
    money = f"{{:,.2f}} {report.currency}"

    def table(rows: list[list[object]], widths: list[float]) -> Table:
        t = Table([[str(c) for c in r] for r in rows], colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), font),
                    ("FONTNAME", (0, 0), (-1, 0), bold),
                    ("FONTSIZE", (0, 0), (-1, -1), 9),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ]
            )
        )
        return t

    story: list[object] = [
        Paragraph(f"{report.tenant_name} — activity report", styles["Title"]),
        Paragraph(
            f"{report.period_from} to {report.period_to} ({report.timezone}); generated "
            f"{report.generated_at:%Y-%m-%d %H:%M} UTC",
            styles["Normal"],
        ),
        Spacer(1, 0.4 * cm),
        table(
            [
                ["Summary", "Value"],
                ["Voice interactions", report.interactions],
                ["Mean recognition confidence", _pct(report.mean_confidence)],
                [f"Low confidence (< {LOW_CONFIDENCE:.0%})", _pct(report.low_confidence_share)],
                ["Orders (cancelled)", f"{report.orders} ({report.orders_cancelled})"],
                ["Revenue incl. tax and shipping", money.format(report.revenue)],
                [
                    "Appointments (cancelled)",
                    f"{report.appointments} ({report.appointments_cancelled})",
                ],
            ],
            [9 * cm, 6 * cm],
        ),
        Spacer(1, 0.5 * cm),
        Paragraph("Interactions per day", styles["Heading2"]),
    ]
    days = report.interactions_by_day
    drawing = Drawing(16 * cm, 6 * cm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 1.2 * cm, 1.2 * cm, 14 * cm, 4.3 * cm
    chart.data = [[d.count for d in days] or [0]]
    step = max(1, len(days) // 10)
    chart.categoryAxis.categoryNames = [
        d.key[5:] if i % step == 0 else "" for i, d in enumerate(days)
    ] or [""]
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#3b6ea5")
    drawing.add(chart)
    drawing.add(String(1.2 * cm, 0.2 * cm, "date (MM-DD)", fontName=font, fontSize=7))
    story.append(drawing)
    sections: list[tuple[str, list[list[Any]], list[float]]] = [
        (
            "By intent",
            [["Intent", "Count", "Mean confidence"]]
            + [[i.intent, i.count, _pct(i.mean_confidence)] for i in report.interactions_by_intent],
            [8 * cm, 3 * cm, 4 * cm],
        ),
        (
            "By device",
            [["Device", "Interactions"]]
            + [[c.key, c.count] for c in report.interactions_by_device],
            [9 * cm, 6 * cm],
        ),
        (
            "Products sold",
            [["Product", "Quantity", "Revenue excl. tax"]]
            + [[p.name, p.quantity, money.format(p.revenue)] for p in report.products],
            [7 * cm, 3 * cm, 5 * cm],
        ),
        (
            "Appointments by service",
            [["Service", "Appointments"]]
            + [[c.key, c.count] for c in report.appointments_by_service],
            [9 * cm, 6 * cm],
        ),
        (
            "Voice requests that could not be honoured",
            [["Request: reason", "Count"]]
            + [[c.key, c.count] for c in report.voice_requests_rejected],
            [9 * cm, 6 * cm],
        ),
        (
            "Device health",
            [["Device", "Samples", "Online", "Battery now", "Battery min"]]
            + [
                [
                    d.device_id,
                    d.samples,
                    _pct(d.online_share),
                    _opt(d.last_battery_pct, "%"),
                    _opt(d.min_battery_pct, "%"),
                ]
                for d in report.devices
            ],
            [5 * cm, 2.5 * cm, 2.5 * cm, 2.5 * cm, 2.5 * cm],
        ),
    ]
    for title, rows, widths in sections:
        if len(rows) > 1:
            story += [
                Spacer(1, 0.4 * cm),
                Paragraph(title, styles["Heading2"]),
                table(rows, widths),
            ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{report.tenant_name} activity",
        author="ARMA Cloud",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
    )
    doc.build(story)
    return buffer.getvalue()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _opt(value: int | None, unit: str) -> str:
    return "—" if value is None else f"{value}{unit}"
