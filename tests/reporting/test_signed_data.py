"""Signed meter data end to end: a charger over a real websocket sends MeterValues and a
StopTransaction's transactionData with ``format: SignedData`` (OCMF); the values are kept
verbatim, attached to the session, shown with a "signed" badge in the history, and downloadable
by the driver and the owner (text and the transparency software's XML) but not by another
tenant. Plus the pure parts: parsing, the files."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from auth_access.models import ChargeCard
from chargers.models import ChargeSession, MeterValue
from chargers.models.session import SignedMeterValue
from ocpp_bridge.meter_buffer import MAX_SIGNED_CHARS, parse_meter_values
from ocpp_bridge.persistence import SignedRow
from reporting.signed import signed_format, signed_text, signed_xml
from tests.conftest import World, api_as
from tests.ocpp.conftest import Chargers, eventually

T0 = datetime(2026, 2, 1, 18, 0, tzinfo=UTC)
BEGIN = (
    'OCMF|{"FV":"1.0","GI":"FUSEBOX-TEST","GS":"123","PG":"T1","IS":true,"IT":"ISO14443",'
    '"ID":"DORA-1","RD":[{"TM":"2026-02-01T18:00:00,000+0000 S","TX":"B","RV":1.000,"RI":'
    '"1-b:1.8.0","RU":"kWh","ST":"G"}]}|{"SD":"3045022100ab<&>"}'
)
END = BEGIN.replace('"TX":"B","RV":1.000', '"TX":"E","RV":5.000').replace("18:00:00", "19:00:00")
SAMPLE = BEGIN.replace('"TX":"B"', '"TX":"T"').replace("18:00:00", "18:30:00")


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def signed(value: str, context: str) -> dict[str, str]:
    return {"value": value, "context": context, "format": "SignedData"}


@pytest.fixture(autouse=True)
def _committed(transactional_db: None) -> None:
    """Transactional, as in tests/ocpp: the bridge's threads must see what the test wrote."""


@pytest.fixture
def dora_card(world: World) -> ChargeCard:
    return ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")


def charge_with_signed_values(world: World, chargers: Chargers) -> ChargeSession:
    """Dora charges on A1; the charger signs the begin (MeterValues), a sample without a
    transactionId, and the end (StopTransaction's transactionData, and again in MeterValues)."""
    a1 = chargers.connect(world.charger_a1)
    start = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 1000, "timestamp": at(0)}
    tx = a1.result("StartTransaction", start)["transactionId"]
    a1.result(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [
                {
                    "timestamp": at(0),
                    "sampledValue": [
                        {"value": "1000", "context": "Transaction.Begin"},
                        signed(BEGIN, "Transaction.Begin"),
                    ],
                }
            ],
        },
    )
    a1.result(
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [{"timestamp": at(30), "sampledValue": [signed(SAMPLE, "Sample.Clock")]}],
        },
    )
    end_values = [
        {
            "timestamp": at(60),
            "sampledValue": [
                {"value": "5000", "context": "Transaction.End"},
                signed(END, "Transaction.End"),
            ],
        }
    ]
    a1.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": end_values})
    a1.result(
        "StopTransaction",
        {
            "transactionId": tx,
            "meterStop": 5000,
            "timestamp": at(60),
            "transactionData": end_values,
        },
    )
    chargers.bridge.flush()
    eventually(lambda: SignedMeterValue.objects.count() == 3)
    return ChargeSession.objects.get(pk=tx)


def test_signed_values_are_kept_attached_shown_and_downloadable(
    world: World, chargers: Chargers, dora_card: ChargeCard, client_as
) -> None:
    session = charge_with_signed_values(world, chargers)
    values = list(SignedMeterValue.objects.order_by("timestamp"))
    assert [(v.context, v.signed_data, v.session_id) for v in values] == [
        ("Transaction.Begin", BEGIN, session.pk),
        ("Sample.Clock", SAMPLE, session.pk),  # no transactionId: by connector and time
        ("Transaction.End", END, session.pk),  # sent twice, kept once
    ]
    # The numbers still go to the meter values; nothing signed among them.
    assert MeterValue.objects.filter(transaction_id=session.pk).count() == 3
    assert not MeterValue.objects.filter(value__isnull=True).exists()

    owner, driver = client_as(world.alice), client_as(world.dora)
    history = owner.get(reverse("reporting:history", args=[world.site_a.pk])).content.decode()
    assert "data-signed-badge" in history
    page_url = reverse("reporting:session", args=[world.site_a.pk, session.pk])
    html = owner.get(page_url).content.decode()
    assert html.count('class="signed-value mono"') == 3
    assert "&lt;&amp;&gt;" in html  # shown verbatim, escaped

    my_url = reverse("reporting:my_session", args=[session.pk])
    for client, url in ((owner, page_url), (driver, my_url)):
        text = client.get(url + "signed.txt")
        assert text.status_code == 200 and text["Content-Type"].startswith("text/plain")
        assert text.content.decode() == f"{BEGIN}\n{SAMPLE}\n{END}\n"
        xml = client.get(url + "signed.xml")
        root = ElementTree.fromstring(xml.content)
        found = [
            (v.get("context"), v.get("transactionId"), v[0].get("format"), v[0].text) for v in root
        ]
        assert found[0] == ("Transaction.Begin", str(session.pk), "OCMF", BEGIN)
        assert found[2][3] == END

    api = api_as(world.dora).get(f"/api/v1/sessions/{session.pk}/signed-data/").json()
    assert (api[0]["context"], api[0]["format"], api[0]["signed_data"]) == (
        "Transaction.Begin",
        "OCMF",
        BEGIN,
    )
    txt = api_as(world.alice).get(f"/api/v1/sessions/{session.pk}/signed-data/", {"format": "txt"})
    assert txt.content.decode().splitlines() == [BEGIN, SAMPLE, END]

    # Another tenant, another driver: 404 everywhere.
    for outsider in (world.oscar, world.dave):
        client = client_as(outsider)
        assert client.get(page_url + "signed.txt").status_code == 404
        assert client.get(my_url + "signed.xml").status_code == 404
        response = api_as(outsider).get(f"/api/v1/sessions/{session.pk}/signed-data/")
        assert response.status_code == 404


def test_a_begin_value_sent_before_the_start_transaction_is_attached_to_its_session(
    world: World, chargers: Chargers, dora_card: ChargeCard
) -> None:
    """Chargers sign the begin value at authorisation and may send it (without a transactionId,
    which does not exist yet) before StartTransaction, timed a little before the start. It
    belongs to the session that follows; a signed value of an earlier session does not."""
    a1 = chargers.connect(world.charger_a1)
    old = BEGIN.replace("DORA-1", "OLD")

    def send(value: str, context: str, minutes: float) -> None:
        a1.result(
            "MeterValues",
            {
                "connectorId": 1,
                "meterValue": [
                    {"timestamp": at(minutes), "sampledValue": [signed(value, context)]}
                ],
            },
        )

    send(old, "Sample.Clock", -30)  # long before: nobody's
    send(BEGIN, "Transaction.Begin", -0.5)  # before the StartTransaction, in both senses
    chargers.bridge.flush()
    eventually(lambda: SignedMeterValue.objects.count() == 2)
    start = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 1000, "timestamp": at(0)}
    tx = a1.result("StartTransaction", start)["transactionId"]
    # A begin value timed before the start but sent after it finds the session too.
    late_begin = BEGIN.replace('"RV":1.000', '"RV":1.001')
    send(late_begin, "Transaction.Begin", -0.2)
    chargers.bridge.flush()
    eventually(lambda: SignedMeterValue.objects.count() == 3)
    attached = SignedMeterValue.objects.filter(session_id=tx).order_by("timestamp")
    assert [v.signed_data for v in attached] == [BEGIN, late_begin]
    assert SignedMeterValue.objects.get(signed_data=old).session_id is None


def test_a_session_without_signed_values_has_no_download(world: World, client_as) -> None:
    from tests.reporting.conftest import make_session

    session = make_session(world.charger_a1, T0, user=world.dora)
    url = reverse("reporting:session", args=[world.site_a.pk, session.pk])
    client = client_as(world.alice)
    assert "sent no signed meter values" in client.get(url).content.decode()
    assert client.get(url + "signed.txt").status_code == 404
    assert client.get(url + "signed.pdf").status_code == 404
    response = api_as(world.alice).get(
        f"/api/v1/sessions/{session.pk}/signed-data/", {"format": "pdf"}
    )
    assert response.status_code == 400 and "format" in response.json()["error"]["fields"]


class TestPure:
    def test_parse_keeps_signed_values_verbatim_and_drops_unusable_ones(self) -> None:
        entry = {
            "timestamp": at(0),
            "sampled_value": [
                {"value": "1000"},
                {"value": BEGIN, "format": "SignedData", "context": "Transaction.Begin"},
                {"value": "x" * (MAX_SIGNED_CHARS + 1), "format": "SignedData"},
                {"value": "a\x00b", "format": "SignedData"},
                {"value": "OCMF|{}|\x1b[31m", "format": "SignedData"},  # no XML could hold it
                {"value": "OCMF|{}|\ud800", "format": "SignedData"},
                {"value": "", "format": "SignedData"},
                {"value": "not a number"},
            ],
        }
        rows, readings = parse_meter_values(7, 1, 42, [entry])
        signed_rows = [r for r in rows if isinstance(r, SignedRow)]
        assert signed_rows == [
            SignedRow(7, 1, 42, T0, "Transaction.Begin", "Energy.Active.Import.Register", BEGIN)
        ]
        assert len(rows) == 2 and readings[0].register_wh == 1000
        tabbed = {**entry, "sampled_value": [{"value": "OCMF|a\tb\r\n", "format": "SignedData"}]}
        kept = parse_meter_values(7, 1, 42, [tabbed])[0]
        assert [r.signed_data for r in kept] == ["OCMF|a\tb\r\n"]  # what XML allows is kept

    def test_format_of_plain_and_base64_ocmf(self) -> None:
        assert signed_format(BEGIN) == ("OCMF", "plain")
        assert signed_format(base64.b64encode(BEGIN.encode()).decode()) == ("OCMF", "base64")
        assert signed_format("<signedMeterValue/>") == ("", "")

    def test_files_hold_the_values_unchanged(self) -> None:
        class Value:
            def __init__(self, data: str, context: str) -> None:
                self.signed_data, self.context, self.transaction_id = data, context, None

        values = [Value(BEGIN, "Transaction.Begin"), Value("EDL<x>", "Transaction.End")]
        assert signed_text(values) == f"{BEGIN}\nEDL<x>\n"
        root = ElementTree.fromstring(signed_xml(values, 9))
        assert [(v.get("transactionId"), v[0].text, v[0].get("format")) for v in root] == [
            ("9", BEGIN, "OCMF"),
            ("9", "EDL<x>", None),
        ]

    def test_a_value_with_line_breaks_stays_one_line_of_the_text_file(self) -> None:
        class Value:
            def __init__(self, data: str) -> None:
                self.signed_data, self.context, self.transaction_id = data, "", None

        encoded = base64.b64encode(BEGIN.encode()).decode()
        mime = "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        assert "\n" in mime
        text = signed_text([Value(mime), Value("line one\nline two"), Value(END)])
        lines = text.splitlines()
        assert len(lines) == 3
        assert lines[0] == encoded  # the same base64 value, without its line breaks
        assert base64.b64decode(lines[0]).decode() == BEGIN
        assert lines[1] == "line one\\nline two"
        assert lines[2] == END
        root = ElementTree.fromstring(signed_xml([Value(mime)], 9))
        assert root[0][0].text == mime.replace("\r\n", "\n")  # XML keeps it (normalised EOL)
