"""The evidence pack's pages printed to PDF with WeasyPrint, CJK font embedded.

WeasyPrint needs pango (libpango-1.0-0, libpangoft2-1.0-0) and harfbuzz's subsetter
(libharfbuzz-subset0) from the system, and a CJK font for Chinese (Debian's fonts-noto-cjk,
found through fontconfig): .ci/run and README's set-up install them. Fonts are subset and
embedded, so the PDF reads the same on a machine without them.

The drift reports (Evidently HTML, ~4 MB each) are not printed: each is attached once to the
PDF as an embedded file, which WeasyPrint stores Flate-compressed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from mlgov.i18n import Translator

# WeasyPrint logs every CSS property it does not support (the page is also for browsers).
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs are missing."""


def _attachment_note(t: Translator, names: Sequence[str]) -> str:
    from html import escape

    items = "".join(f"<li><code>{escape(n)}</code></li>" for n in names)
    return (
        f'<section id="attachments"><h2>{escape(t("Attachments"))}</h2><p>'
        + escape(
            t(
                "The drift reports (Evidently HTML) are attached to this PDF once each, "
                "compressed; open them from the PDF reader's attachments panel."
            )
        )
        + f"</p><ul>{items}</ul></section>"
    )


def render_pdf(html: str, t: Translator, pack: Path, attach: Sequence[str]) -> bytes:
    """`html` (a pack page) as PDF; `attach` are paths inside `pack` to embed once each."""
    try:
        import weasyprint
    except (ImportError, OSError) as e:  # OSError: a system library (pango) is missing
        raise PdfUnavailable(
            f"PDF output needs WeasyPrint and its system libraries (pango): {e}"
        ) from None
    if attach:
        html = html.replace("</body>", _attachment_note(t, attach) + "</body>")
    attachments = [
        weasyprint.Attachment(filename=str(pack / rel), name=rel.replace("/", "-"))
        for rel in attach
    ]
    document = weasyprint.HTML(string=html, base_url=str(pack) + "/")
    pdf = document.write_pdf(attachments=attachments)
    assert isinstance(pdf, bytes)
    return pdf
