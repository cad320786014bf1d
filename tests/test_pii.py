"""PII detection and redaction at write time (issue #17): the detectors, the per-store policy, and that every
write path (add, add_many, update, import, chat learning) goes through it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from persona import InvalidInputError, Persona
from persona.pii import PiiPolicy, Span, detect
from persona.pii.checksums import dni_letter_ok, iban_ok, luhn_ok, ssn_ok
from persona.testing import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
MOCK = "gpt-4o-mini"


def found(text: str) -> list[tuple[str, str]]:
    return [(s.detector, text[s.start : s.end]) for s in detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail bob.smith+x@example.co.uk today", [("email", "bob.smith+x@example.co.uk")]),
        ("card 4111 1111 1111 1111 thanks", [("card", "4111 1111 1111 1111")]),
        ("amex 3782-822463-10005", [("card", "3782-822463-10005")]),
        ("IBAN DE89 3704 0044 0532 0130 00 please", [("iban", "DE89 3704 0044 0532 0130 00")]),
        ("GB82WEST12345698765432", [("iban", "GB82WEST12345698765432")]),
        ("ssn 536-22-1234", [("national_id", "536-22-1234")]),
        ("my social security number is 536 22 1234", [("national_id", "536 22 1234")]),
        ("NI number AB 12 34 56 C", [("national_id", "AB 12 34 56 C")]),
        ("DNI 12345678Z", [("national_id", "12345678Z")]),
        ("server at 192.168.1.20.", [("ip", "192.168.1.20")]),
        ("ipv6 2001:db8::8a2e:370:7334 ok", [("ip", "2001:db8::8a2e:370:7334")]),
        ("call +44 20 7946 0958", [("phone", "+44 20 7946 0958")]),
        ("(415) 555-2671 is the office", [("phone", "(415) 555-2671")]),
        ("mobile 07700 900123", [("phone", "07700 900123")]),
        ("tel 06 12 34 56 78", [("phone", "06 12 34 56 78")]),
        ("call me on 07700900123", [("phone", "07700900123")]),
        ("I live at 221B Baker Street", [("address", "221B Baker Street")]),
        ("Hauptstraße 5 in Berlin", [("address", "Hauptstraße 5")]),
        ("12 rue de la Paix", [("address", "12 rue de la Paix")]),
    ],
)
def test_the_detectors_find_each_format(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # invalid Luhn
        "IBAN DE88 3704 0044 0532 0130 00",  # invalid mod-97
        "part 000-12-3456 and 666-12-3456 and 900-45-6789",  # impossible SSNs
        "DNI 12345678A",  # wrong check letter
        "version 1.2.3.4",
        "meet at 12:30:45",
        "on 2024-05-01 at 10:30, or 01.02.2024, or 12/05/2023",
        "it cost $1,299.99 and €84.20",
        "order #123456789 and order number 40021378",
        "the year 1999 and 2000, 1990-2000",
        "ISBN 978-3-16-148410-0",
        "the score was 3-2, the ratio 16:9",
        "IMEI 35 209900 176148 1",
        "I walked 12,345 steps and ran 10 km in 52:13",
    ],
)
def test_numbers_dates_times_prices_and_versions_are_not_pii(text: str) -> None:
    assert found(text) == []


def test_the_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert not iban_ok("DE8937040044053201300")  # one short for Germany
    assert ssn_ok("536", "22", "1234") and not ssn_ok("000", "22", "1234") and not ssn_ok("536", "00", "1234")
    assert dni_letter_ok("12345678", "Z") and dni_letter_ok("X1234567", "L") and not dni_letter_ok("12345678", "A")


def test_the_labelled_set_is_large_varied_and_honest() -> None:
    lines = (ROOT / "eval" / "data" / "pii.jsonl").read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    assert len(rows) >= 300
    with_pii = [r for r in rows if r["pii"]]
    assert 100 <= len(with_pii) <= len(rows) - 100
    assert {p["detector"] for r in with_pii for p in r["pii"]} == {
        "email", "iban", "card", "national_id", "ip", "phone", "address"
    }  # fmt: skip
    for r in rows:
        for p in r["pii"]:
            assert p["value"] in r["text"]


# -- the policy on every write path ------------------------------------------------------------------------


def test_label_is_the_default_and_sets_the_sensitivity(p: Persona) -> None:
    card = p.add("u", "My card is 4111 1111 1111 1111")
    mail = p.add("u", "My email is bob@example.com")
    ssn = p.add("u", "SSN 536-22-1234")
    plain = p.add("u", "I paid $45.99 on 2024-05-01")
    chosen = p.add("u", "My other card is 5500 0000 0000 0004", sensitivity="secret")
    assert [m.sensitivity for m in (card, mail, ssn, plain, chosen)] == [
        "financial", "personal", "secret", "normal", "secret"
    ]  # fmt: skip
    assert card.text == "My card is 4111 1111 1111 1111"  # labelled, kept as written
    r = p.prompt("u", "what do you know about my card and email?", strategy="full", model="gpt-4o")
    assert "4111" not in r.system and "bob@example.com" in r.system  # personal goes to any model


def test_mask_replaces_the_spans_and_search_runs_on_the_masked_text(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), pii="mask") as p:
        m = p.add("u", "Call me on +44 20 7946 0958 or mail bob@example.com about the card 4111 1111 1111 1111")
        assert m.text == "Call me on [PHONE] or mail [EMAIL] about the card [CARD]"
        assert m.sensitivity == "normal"  # nothing left to protect
        assert [h.memory.id for h in p.search("u", "call mail card", k=3)] == [m.id]
        assert p.search("u", "bob@example.com", k=3)[0].memory.text == m.text
        exported = json.dumps(p.export_user("u"))  # not in history or anywhere else (a timestamp may hold "7946")
        assert "7946 0958" not in exported and "bob@example" not in exported and "4111 1111" not in exported
        with_meta = p.add("u", "contact details", metadata={"value": "bob@example.com", "n": 3})
        assert with_meta.metadata == {"value": "[EMAIL]", "n": 3}


def test_reject_names_the_detector_and_position_never_the_value(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), pii="reject") as p:
        with pytest.raises(InvalidInputError) as caught:
            p.add("u", "my IBAN is GB82WEST12345698765432")
        message = str(caught.value)
        assert "'iban'" in message and "characters 11-33" in message and "GB82" not in message
        with pytest.raises(InvalidInputError, match=r"item 1: .*'email'"):
            p.add_many("u", ["fine", "write to ana@example.org"])
        assert p.count("u") == 0
        p.add("u", "I paid 1,299.99 on 2024-05-01 at 10:30")  # never PII
        with pytest.raises(InvalidInputError, match="'phone'"):
            p.update(p.list("u")[0].id, text="ring 07700 900123")


def test_a_dict_sets_actions_per_detector(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), pii={"email": "mask", "card": "reject", "*": "label"}) as p:
        m = p.add("u", "bob@example.com, 07700 900123")
        assert m.text == "[EMAIL], 07700 900123" and m.sensitivity == "personal"
        with pytest.raises(InvalidInputError, match="'card'"):
            p.add("u", "4111 1111 1111 1111")
    with pytest.raises(InvalidInputError, match="unknown detector"):
        Persona(tmp_path / "t", embedder=FakeEmbedder(), pii={"passport": "mask"})
    with pytest.raises(InvalidInputError, match="must be one of keep, label, mask, reject"):
        Persona(tmp_path / "t", embedder=FakeEmbedder(), pii="redact")


def test_keep_stores_as_written(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), pii="keep") as p:
        m = p.add("u", "My card is 4111 1111 1111 1111")
        assert m.text.endswith("1111") and m.sensitivity == "normal"


def test_update_import_and_chat_learning_are_screened(tmp_path: Path) -> None:
    with Persona(tmp_path / "a", embedder=FakeEmbedder(), pii="keep") as raw:
        raw.add("u", "My card is 4111 1111 1111 1111")
        data = raw.export_user("u")
    with Persona(tmp_path / "b", embedder=FakeEmbedder(), pii="mask") as p:
        (imported,) = p.import_user(data)
        assert imported.text == "My card is [CARD]"
        m = p.add("u", "I like tea")
        assert p.update(m.id, text="I like tea, mail me at ana@example.org").text.endswith("[EMAIL]")
        p.chat("u", "My phone is +1 415 555 2671, remember it", model=MOCK, mock_response="Sure, +1 415 555 2671.")
        p.learning.wait("u")
        texts = " ".join(x.text for x in p.list("u"))
        assert "2671" not in texts and "[PHONE]" in texts
    with Persona(tmp_path / "c", embedder=FakeEmbedder()) as p:  # label: an update of the text raises the label
        m = p.add("u", "I like tea")
        assert p.update(m.id, text="My card is 4111 1111 1111 1111").sensitivity == "financial"


@dataclass(frozen=True)
class Passport:
    """An operator's own detector: anything after the word passport."""

    name: str = "passport"

    def detect(self, text: str) -> Sequence[Span]:
        at = text.find("passport ")
        if at < 0:
            return []
        start = at + len("passport ")
        return [Span(start, len(text), self.name, "PASSPORT", "secret")]


def test_an_operator_adds_a_detector(tmp_path: Path) -> None:
    policy = PiiPolicy({"passport": "label", "email": "mask"}, extra_detectors=[Passport()])
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), pii=policy) as p:
        m = p.add("u", "my passport X1234567")
        assert m.sensitivity == "secret" and p.pii_policy is policy
        assert p.add("u", "x@example.com").text == "[EMAIL]"
    with pytest.raises(InvalidInputError, match="a PII detector needs"):
        PiiPolicy("mask", extra_detectors=[object()])  # type: ignore[list-item]
