"""The parts of access control that need no database: virtual idTags, signatures, list diffs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from auth_access import external, local_list, virtual_tags
from auth_access.choices import AuthorizationStatus

SECRET = "a-shared-secret-of-32-characters"


class TestVirtualTags:
    def test_stable_reversible_and_within_ocpp_limits(self) -> None:
        tag = virtual_tags.virtual_id_tag(42)
        assert tag == virtual_tags.virtual_id_tag(42)
        assert tag.startswith("FB") and len(tag) == 18 and tag.isalnum() and tag.isupper()
        assert virtual_tags.user_of_virtual_tag(tag) == 42
        assert virtual_tags.user_of_virtual_tag(tag.lower()) == 42  # idTags are case-insensitive
        assert virtual_tags.virtual_id_tag(43) != tag

    def test_a_made_up_tag_names_nobody(self) -> None:
        tag = virtual_tags.virtual_id_tag(42)
        forged = tag[:-1] + ("A" if tag[-1] != "A" else "B")
        assert virtual_tags.looks_virtual(forged)
        assert virtual_tags.user_of_virtual_tag(forged) is None
        for other in ["DORA-1", "FB", "FB" + "1" * 16, "XX" + tag[2:]]:
            assert virtual_tags.user_of_virtual_tag(other) is None


def _request(body: dict | None = None, timestamp: int | None = None) -> external.ExternalRequest:
    now = datetime.fromtimestamp(timestamp or time.time(), UTC)
    return external.build_request(
        url="https://auth.example.com/",
        secret=SECRET,
        deadline_ms=2000,
        fields=body or {"type": "authorize", "id_tag": "DORA-1"},
        now=now,
    )


class TestSignatures:
    def test_the_reference_verifier_accepts_our_request(self) -> None:
        request = _request()
        payload = external.verify_request(
            SECRET, request.headers(), request.body, nonces=external.NonceCache()
        )
        assert payload["id_tag"] == "DORA-1" and payload["nonce"] == request.nonce
        assert len(payload["nonce"]) == 32 and payload["timestamp"].endswith("Z")

    def test_the_signature_covers_timestamp_and_body(self) -> None:
        request = _request()
        expected = external.sign(SECRET, request.timestamp, request.body)
        assert request.headers()[external.SIGNATURE_HEADER] == f"v1={expected}"
        assert (
            expected
            == __import__("hmac")
            .new(SECRET.encode(), f"{request.timestamp}.".encode() + request.body, "sha256")
            .hexdigest()
        )

    def test_a_tampered_body_is_rejected(self) -> None:
        request = _request()
        tampered = request.body.replace(b"DORA-1", b"DORA-2")
        with pytest.raises(external.SignatureError, match="signature"):
            external.verify_request(SECRET, request.headers(), tampered)

    def test_another_secret_is_rejected(self) -> None:
        request = _request()
        with pytest.raises(external.SignatureError, match="signature"):
            external.verify_request("another-secret-entirely", request.headers(), request.body)

    def test_an_old_timestamp_is_rejected_even_with_a_valid_signature(self) -> None:
        request = _request(timestamp=int(time.time()) - external.TOLERANCE_S - 5)
        with pytest.raises(external.SignatureError, match="timestamp"):
            external.verify_request(SECRET, request.headers(), request.body)

    def test_a_replayed_request_is_rejected(self) -> None:
        request = _request()
        nonces = external.NonceCache()
        external.verify_request(SECRET, request.headers(), request.body, nonces=nonces)
        with pytest.raises(external.SignatureError, match="replayed"):
            external.verify_request(SECRET, request.headers(), request.body, nonces=nonces)

    def test_a_missing_timestamp_is_rejected(self) -> None:
        request = _request()
        headers = {k: v for k, v in request.headers().items() if k != external.TIMESTAMP_HEADER}
        with pytest.raises(external.SignatureError, match="timestamp"):
            external.verify_request(SECRET, headers, request.body)

    def test_headers_are_case_insensitive_and_rotated_keys_accepted(self) -> None:
        request = _request()
        headers = {k.lower(): v for k, v in request.headers().items()}
        headers["x-fusebox-signature"] = "v1=deadbeef, " + headers["x-fusebox-signature"]
        assert external.verify_request(SECRET, headers, request.body)["id_tag"] == "DORA-1"


class TestAnswers:
    def parse(self, body: object, headers: dict | None = None, **options: object) -> object:
        request = external.ExternalRequest("https://x/", SECRET, 2, b"{}", "n" * 32, 0, **options)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return external.parse_answer(request, headers or {}, raw)

    def test_a_status_and_an_expiry(self) -> None:
        answer = self.parse({"status": "Accepted", "expiry": "2030-01-01T00:00:00Z"})
        assert answer.status == AuthorizationStatus.ACCEPTED
        assert answer.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
        assert self.parse({"status": "Blocked"}).status == AuthorizationStatus.BLOCKED

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            (b"not json", "answer is not JSON"),
            (["Accepted"], "answer is not a JSON object"),
            ({"status": "Maybe"}, "unknown status 'Maybe'"),
            ({}, "unknown status 'None'"),
            ({"status": "Accepted", "expiry": "soon"}, "bad expiry"),
            ({"status": "Accepted", "expiry": "2030-01-01T00:00:00"}, "expiry without a time zone"),
            (b"{" + b" " * external.MAX_ANSWER_BYTES + b"}", "answer too large"),
        ],
    )
    def test_a_bad_answer_is_a_failure(self, body: object, error: str) -> None:
        answer = self.parse(body)
        assert (answer.status, answer.error) == (None, error)

    def test_a_signed_answer_is_checked_against_our_nonce(self) -> None:
        body = json.dumps({"status": "Accepted"}).encode()
        good = external.sign_reply(SECRET, "n" * 32, body)
        assert self.parse(body, good).status == AuthorizationStatus.ACCEPTED
        other_request = external.sign_reply(SECRET, "m" * 32, body)
        assert self.parse(body, other_request).error == "bad answer signature"
        assert self.parse({"status": "Accepted"}, require_signed_reply=True).error == (
            "bad answer signature"
        )


class TestLocalListDifference:
    def test_added_changed_and_removed_cards(self) -> None:
        old = {"A": None, "B": "2030-01-01T00:00:00Z", "C": None}
        new = {"A": None, "B": None, "D": "2031-01-01T00:00:00Z"}
        assert local_list.difference(old, new) == [
            {"idTag": "B", "idTagInfo": {"status": "Accepted"}},
            {
                "idTag": "D",
                "idTagInfo": {"status": "Accepted", "expiryDate": "2031-01-01T00:00:00Z"},
            },
            {"idTag": "C"},
        ]
        assert local_list.difference(new, new) == []
