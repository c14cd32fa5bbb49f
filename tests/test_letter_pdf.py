"""The GP letter's PDF as the GP and the patient read it: the patient's identifiers, the recipient, the body's
headings, bullets and paragraphs, the signature or the draft marking on every page, the correction note,
"Page X of Y" on every page, names in any Latin script, user text printed literally, reproducible bytes and a
barcode that scans.

Pure tests: ``LetterData`` is built from domain objects; no database, no Qt.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_careplan_pdf import make_data, tiny_png

from rmclinic.domain.patient import PatientData
from rmclinic.domain.visit import Letter, LetterStatus, Visit, VisitType
from rmclinic.reports.letter import Block, body_blocks, render_letter
from rmclinic.services.careplan import ClinicInfo
from rmclinic.services.letters import LetterData, draft_letter

PRINTED = dt.datetime(2026, 11, 25, 10, 0)  # local time
SIGNED_AT = dt.datetime(2026, 11, 24, 12, 30, tzinfo=dt.UTC)
OLD_SIGNED_AT = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
CLINIC = ClinicInfo(
    "St Elsewhere Recurrent Miscarriage Clinic",
    address="Women's Unit, Level 2\nSt Elsewhere Hospital, 1 Hospital Road\nManchester M13 9WL",
    phone="0161 555 0101",
)
ZOE = PatientData(
    "RM000077",
    "Nguyễn",
    "Zoë Łucja",
    dt.date(1986, 5, 9),
    nhs_number="9434765919",
    address="12 Acacia Avenue\nDidsbury\nManchester M20 2AB",
    gp_practice="Dr A Patel\nRiverside Medical Practice\n3 Elm Road\nManchester M2 2BB",
)
VISIT = Visit(
    dt.date(2026, 11, 23), VisitType.FOLLOW_UP, clinician="Dr Sarah Okafor", next_visit=dt.date(2026, 12, 21), id=5
)
BODY = """I saw Zoë Łucja Nguyễn in the recurrent miscarriage clinic on 23/11/2026 (follow-up).

## Diagnosis
- 3 pregnancy losses before 24 weeks, 3 consecutive; 0 live births.
- Antiphospholipid syndrome

## Current plan
- Aspirin 75 mg once a day from 05/10/2026
- Enoxaparin 40 mg once a day from a positive pregnancy test

Her next appointment in the clinic is on 21/12/2026.

She will call us if she has any bleeding.
Her partner will come to the next visit.
"""


def signed_letter(**changes: object) -> Letter:
    letter = Letter(
        5,
        BODY,
        version=2,
        status=LetterStatus.SIGNED,
        recipient=ZOE.gp_practice,
        signed_by="sokafor",
        signed_by_name="Dr Sarah Okafor",
        signed_at=SIGNED_AT,
        supersedes_id=8,
        id=9,
    )
    return replace(letter, **changes)  # type: ignore[arg-type]


def draft_of(letter: Letter) -> Letter:
    return replace(letter, status=LetterStatus.DRAFT, signed_by="", signed_by_name="", signed_at=None)


def letter_data(letter: Letter | None = None, **changes: object) -> LetterData:
    data = LetterData(letter or signed_letter(), ZOE, VISIT, CLINIC, PRINTED, hospital_contact="0161 555 0101")
    return replace(data, **changes)  # type: ignore[arg-type]


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    """Text with line breaks and runs of spaces made single spaces (wrapping moves line breaks)."""
    return " ".join(text.split())


def long_body(paragraphs: int) -> str:
    text = (
        "We talked through the results of the investigations and what they mean for a future pregnancy, "
        "and agreed the plan below; she had time to ask questions and was given our written information."
    )
    return "\n\n".join(f"Paragraph {i}. {text}" for i in range(1, paragraphs + 1))


@pytest.fixture(scope="module")
def signed() -> list[str]:
    return pages_of(render_letter(letter_data()))


@pytest.fixture(scope="module")
def draft() -> list[str]:
    return pages_of(render_letter(letter_data(draft_of(signed_letter(body=long_body(30))))))


def test_a_signed_letter_names_the_patient_the_gp_and_says_what_was_agreed(signed: list[str]) -> None:
    text = flat("\n".join(signed))
    for expected in (
        "Zoë Łucja Nguyễn",
        "date of birth 09/05/1986",
        "Hospital number RM000077",
        "NHS number 943 476 5919",
        "12 Acacia Avenue, Didsbury, Manchester M20 2AB",
        "Dr A Patel Riverside Medical Practice 3 Elm Road Manchester M2 2BB",
        "Dear Doctor,",
        "Re:",
        "Clinic date 23/11/2026",
        f"Date {SIGNED_AT.astimezone().strftime('%d/%m/%Y')}",
        "Diagnosis",
        "Current plan",
        "• Antiphospholipid syndrome",
        "• Aspirin 75 mg once a day from 05/10/2026",
        "Her next appointment in the clinic is on 21/12/2026.",
        "She will call us if she has any bleeding. Her partner will come to the next visit.",
        "Yours sincerely,",
        "Dr Sarah Okafor",
        f"Electronically signed on {SIGNED_AT.astimezone().strftime('%d/%m/%Y %H:%M')}",
        "cc: the patient, 12 Acacia Avenue, Didsbury, Manchester M20 2AB",
        "Letter version 2",
        "please contact the clinic on 0161 555 0101",
    ):
        assert expected in text, expected
    assert all("DRAFT" not in page and "draft" not in page for page in signed)
    assert "This letter corrects" not in text


def test_a_single_line_break_inside_a_paragraph_is_kept(signed: list[str]) -> None:
    lines = "\n".join(signed).splitlines()
    i = lines.index("She will call us if she has any bleeding.")
    assert lines[i + 1] == "Her partner will come to the next visit."


def test_a_draft_says_so_on_every_page_and_is_dated_the_day_it_is_printed(draft: list[str]) -> None:
    assert len(draft) >= 2
    for page in draft:
        assert "DRAFT — not signed, not for sending" in page
        assert page.count("DRAFT") >= 2  # the line at the top and the watermark behind the text
    text = flat("\n".join(draft))
    assert "Electronically signed" not in text
    assert "Dr Sarah Okafor" not in text.split("Yours sincerely,")[1]
    assert "Date 25/11/2026" in text


def test_every_page_of_a_long_letter_says_page_x_of_y_and_names_the_patient() -> None:
    pages = pages_of(render_letter(letter_data(signed_letter(body=long_body(26)))))
    assert len(pages) == 3
    for i, page in enumerate(pages, 1):
        assert f"Page {i} of 3" in page
        for expected in ("Zoë Łucja Nguyễn", "Hospital number RM000077", "Date of birth 09/05/1986"):
            assert expected in page, (i, expected)
        assert "Letter version 2" in page
    text = flat("\n".join(pages))
    assert all(f"Paragraph {n}. We talked" in text for n in range(1, 27))  # nothing lost between pages


def test_a_correction_names_the_letter_it_replaces() -> None:
    old = signed_letter(version=1, signed_at=OLD_SIGNED_AT, id=8, supersedes_id=None)
    pages = pages_of(render_letter(letter_data(supersedes=old)))
    text = flat("\n".join(pages))
    old_day = OLD_SIGNED_AT.astimezone().strftime("%d/%m/%Y")
    note = f"This letter corrects the letter of {old_day} (version 1), which should be disregarded."
    assert note in text
    assert text.index(note) < text.index("I saw Zoë")  # at the top of the body


def test_typed_markup_and_ampersands_print_literally() -> None:
    body = "She & her partner <b>asked</b> about <i>tests</i> & scans.\n\n## Results & <plans>\n- TSH < 2.5 & TPO > 35"
    patient = replace(ZOE, family_name="O'Brien & <b>Nguyễn</b>", address="")
    letter = signed_letter(body=body, recipient="Smith & Jones <Surgery>")
    text = flat("\n".join(pages_of(render_letter(letter_data(letter, patient=patient)))))
    for expected in (
        "She & her partner <b>asked</b> about <i>tests</i> & scans.",
        "Results & <plans>",
        "• TSH < 2.5 & TPO > 35",
        "Smith & Jones <Surgery>",
        "Zoë Łucja O'Brien & <b>Nguyễn</b>",
        "cc: the patient",
    ):
        assert expected in text, expected
    assert "cc: the patient," not in text  # no address to send a copy to


def test_no_recipient_goes_to_the_patients_gp_and_no_copy_means_no_cc() -> None:
    letter = signed_letter(recipient="  ", copy_to_patient=False)
    text = flat("\n".join(pages_of(render_letter(letter_data(letter)))))
    assert "The patient's GP" in text
    assert "cc:" not in text


def test_a_letter_drafted_from_the_record_prints_its_headings_bullets_and_next_visit() -> None:
    from rmclinic.domain.visit import Visit, VisitStatus

    booked = (Visit(dt.date(2026, 12, 21), status=VisitStatus.BOOKED),)  # the next visit comes from the diary
    body = draft_letter(replace(make_data(), booked_visits=booked), VISIT, "We discussed the plan.")
    pages = pages_of(render_letter(letter_data(draft_of(signed_letter(body=body)))))
    text = flat("\n".join(pages))
    for expected in (
        "Diagnosis",
        "Investigations",
        "• Abnormal: Lupus anticoagulant",
        "Her next appointment in the clinic is on 21/12/2026.",
        "We discussed the plan.",
    ):
        assert expected in text, expected
    assert not any(line.startswith(("## ", "- ")) for line in "\n".join(pages).splitlines())  # no raw markers


def test_the_same_letter_gives_the_same_bytes() -> None:
    old = signed_letter(version=1, signed_at=OLD_SIGNED_AT)
    data = letter_data(supersedes=old, clinic=replace(CLINIC, logo=tiny_png()))
    first = render_letter(data)
    assert render_letter(data) == first
    assert render_letter(replace(data, printed_at=PRINTED + dt.timedelta(days=1))) == first  # signed: dated when signed
    assert render_letter(replace(data, letter=draft_of(data.letter))) != first


def test_the_logo_heads_the_first_page_only_and_a_damaged_one_is_left_out() -> None:
    def images(pdf: bytes) -> list[int]:
        out = []
        for page in PdfReader(io.BytesIO(pdf)).pages:
            xobjects = page["/Resources"].get("/XObject", {})
            out.append(sum(1 for x in xobjects.values() if x.get_object()["/Subtype"] == "/Image"))
        return out

    body = long_body(30)
    with_logo = render_letter(letter_data(signed_letter(body=body), clinic=replace(CLINIC, logo=tiny_png(60, 20))))
    assert images(with_logo)[0] == 1
    assert images(with_logo)[1:] == [0] * (len(images(with_logo)) - 1)
    damaged = render_letter(letter_data(signed_letter(body=body), clinic=replace(CLINIC, logo=b"not an image")))
    assert images(damaged) == [0] * len(images(damaged))


def test_the_body_is_split_into_headings_bullets_and_paragraphs() -> None:
    body = (
        "First line\nsecond line\n\n\n## Heading\n- one\n  continued\n- two\nAfter the list\n\n##no space\n-dash\n"
        "## \n\r\nLast"
    )
    assert body_blocks(body) == [
        Block("paragraph", "First line\nsecond line"),
        Block("heading", "Heading"),
        Block("bullet", "one\ncontinued"),
        Block("bullet", "two"),
        Block("paragraph", "After the list"),
        Block("paragraph", "##no space\n-dash\n##"),
        Block("paragraph", "Last"),
    ]


def test_the_barcode_scans_to_the_hospital_number(tmp_path: Path) -> None:
    if shutil.which("zbarimg") is None or shutil.which("pdftoppm") is None:
        if os.environ.get("RMCLINIC_REQUIRE_POSTGRES") == "1":
            pytest.fail("zbarimg and pdftoppm are required (apt-get install zbar-tools poppler-utils)")
        pytest.skip("zbarimg or pdftoppm is not installed")
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(render_letter(letter_data(draft_of(signed_letter()))))  # under the watermark, too
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    [png] = sorted(tmp_path.glob("p*.png"))
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["RM000077"]
