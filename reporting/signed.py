"""Signed meter values of a session as files a driver can check in transparency software
(e.g. S.A.F.E.'s Transparenzsoftware): the values verbatim, one per line (``.txt``), or the
XML container that software reads (``.xml``: ``<values><value transactionId context>
<signedData format encoding>...``). The values themselves are never changed. Pure.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

OCMF_HEADER = "OCMF|"


class Signed(Protocol):
    transaction_id: int | None
    context: str
    signed_data: str


def signed_format(data: str) -> tuple[str, str]:
    """(format, encoding) of a signed value: OCMF as plain text or base64; else unknown ("")."""
    text = data.strip()
    if text.startswith(OCMF_HEADER):
        return "OCMF", "plain"
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "", ""
    if decoded.startswith(OCMF_HEADER.encode()):
        return "OCMF", "base64"
    return "", ""


def one_line(data: str) -> str:
    """A signed value on one line. Base64 split by line breaks (MIME style) is the same value
    without them (base64 ignores whitespace); any other text keeps its characters, its line
    breaks written as the two characters ``\\n`` (the XML file has it verbatim)."""
    if "\n" not in data and "\r" not in data:
        return data
    joined = "".join(data.split())
    try:
        base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError):
        return data.replace("\r", "\\r").replace("\n", "\\n")
    return joined


def signed_text(values: Sequence[Signed]) -> str:
    """Each value on a line of its own (begin first), verbatim unless it held line breaks
    (``one_line``), so a line is always one whole value."""
    return "".join(f"{one_line(value.signed_data)}\n" for value in values)


def signed_xml(values: Sequence[Signed], transaction_id: int) -> str:
    """The transparency software's XML container of the values."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<values>\n']
    for value in values:
        fmt, encoding = signed_format(value.signed_data)
        attributes = f' format="{fmt}" encoding="{encoding}"' if fmt else ""
        parts.append(
            f"  <value transactionId={quoteattr(str(value.transaction_id or transaction_id))}"
            f" context={quoteattr(value.context)}>\n"
            f"    <signedData{attributes}>{escape(value.signed_data)}</signedData>\n"
            "  </value>\n"
        )
    parts.append("</values>\n")
    return "".join(parts)
