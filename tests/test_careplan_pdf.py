"""Care plan PDFs as a patient and a clinician read them: identifiers, medicines and dates in the text, "Page X
of Y" right on every page and per patient in a batch, a barcode that scans, names in any Latin script, long
free text that wraps instead of overflowing, user text printed literally, no antenatal wording after a loss,
reproducible bytes, the clinic logo, and the timeline's black-and-white marks.

Pure tests: ``CarePlanData`` is built from domain objects; no database, no Qt.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from rmclinic.domain.dating import DatingMethod, date_at, date_entry
from rmclinic.domain.followup import FollowUp, FollowUpKind, FollowUpStatus, SwabResult
from rmclinic.domain.medication import Anchor, DoseStep, Frequency, Indication, MedicationPlan
from rmclinic.domain.obstetric import Outcome, PreviousPregnancy, TissueGenetics, summarise
from rmclinic.domain.patient import CervicalExcision, PatientData, RiskHistory
from rmclinic.domain.pregnancy import CurrentPregnancy, IupMethod
from rmclinic.domain.timeline import AlertMark, Prim, Shape, build_timeline
from rmclinic.domain.workup import ResultValue, Status, WorkupItem, assess
from rmclinic.reports.careplan import render_care_plan, render_care_plans
from rmclinic.reports.fonts import register_fonts
from rmclinic.reports.timeline import fit_labels, hatch_lines, timeline_flowable
from rmclinic.rules.engine import evaluate
from rmclinic.rules.lifecycle import Status as AlertStatus
from rmclinic.rules.snapshot import Snapshot
from rmclinic.services.alerts import AlertView, shipped_rule_set
from rmclinic.services.careplan import CarePlanData, ClinicInfo, ResultLine, Variant, record_hash
from rmclinic.services.catalogue import merged_catalogue
from rmclinic.services.dto import SignatureInfo

TODAY = dt.date(2026, 11, 23)  # a Monday
PRINTED = dt.datetime(2026, 11, 23, 14, 5)
CAT = merged_catalogue()
CLINIC = ClinicInfo(
    "St Elsewhere Recurrent Miscarriage Clinic",
    address="Level 2, Women's Unit, 1 Hospital Road",
    phone="0161 555 0101",
    urgent_phone="0161 555 0199",
)
HISTORY = (
    PreviousPregnancy(2022, Outcome.EARLY_MISCARRIAGE, dt.date(2022, 3, 1), 8 * 7),
    PreviousPregnancy(
        2023, Outcome.EARLY_MISCARRIAGE, dt.date(2023, 6, 10), 7 * 7, tissue_genetics=TissueGenetics.NORMAL
    ),
    PreviousPregnancy(2025, Outcome.LATE_MISCARRIAGE, dt.date(2025, 2, 2), 17 * 7, fetuses=2),
)
ZOE = PatientData(
    "RM000077",
    "Łukasiewicz-Nguyễn",
    "Zoë",
    dt.date(1986, 5, 9),
    nhs_number="9434765919",
    risk=RiskHistory(
        cervical_excisions=(CervicalExcision(year=2019, depth_mm=12),),
        smoking="former",
        height_cm=165,
        weight_kg=70,
        drug_allergies=("Penicillin",),
    ),
    pregnancies=HISTORY,
)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    """Text with line breaks and runs of spaces made single spaces (wrapping moves line breaks)."""
    return " ".join(text.split())


def result_item(item_id: int, iid: str, sample: dt.date, value: ResultValue) -> WorkupItem:
    normalised, interpretation = assess(CAT.get(iid), value)
    return WorkupItem(
        item_id,
        iid,
        Status.RESULTED,
        1,
        requested_on=sample,
        sample_date=sample,
        value=value,
        normalised=normalised,
        interpretation=interpretation,
    )


def lines_of(items: Sequence[WorkupItem]) -> tuple[ResultLine, ...]:
    out = []
    for i in items:
        assert i.value is not None and i.interpretation is not None
        inv = CAT.get(i.investigation_id)
        v = i.value
        value = f"{v.numeric:g} {v.unit}".strip() if v.numeric is not None else v.describe()
        out.append(
            ResultLine(
                inv.domain, inv.name, value, i.interpretation.value, i.interpretation.flagged, i.sample_date, False
            )
        )
    return tuple(sorted(out, key=lambda r: (not r.flagged, r.domain, r.name)))


def make_data(
    variant: str = Variant.CLINICIAN,
    *,
    patient: PatientData = ZOE,
    results: tuple[ResultLine, ...] | None = None,
    clinic: ClinicInfo = CLINIC,
    sensitive: bool = False,
    plans: Sequence[MedicationPlan] | None = None,
    signed: SignatureInfo | None = None,
) -> CarePlanData:
    """Zoë: three losses, a positive lupus anticoagulant, 12+0 today, vaginal progesterone 400 mg twice a day to
    16+0 with a two-step taper, aspirin, a negative swab done, swabs and cervical-length scans due.
    ``sensitive``: the pregnancy ended last week in a miscarriage instead."""
    lmp = TODAY - dt.timedelta(days=12 * 7)
    p = CurrentPregnancy(
        1,
        (date_entry(DatingMethod.LMP, lmp + dt.timedelta(days=40), "booking", lmp=lmp),),
        iup_confirmed_on=lmp + dt.timedelta(days=49),
        iup_method=IupMethod.TRANSVAGINAL,
        heartbeat_on=lmp + dt.timedelta(days=49),
        high_risk_care=True,
    )
    edd = p.edd
    workup = (
        result_item(1, "la", TODAY - dt.timedelta(days=200), ResultValue(text="positive")),
        result_item(2, "tsh", TODAY - dt.timedelta(days=200), ResultValue(2.1, "mIU/L", lab_low=0.4, lab_high=4.0)),
        result_item(3, "acl_igg", TODAY - dt.timedelta(days=200), ResultValue(8.0, "GPL U/mL")),
    )
    if plans is None:
        plans = (
            MedicationPlan(
                "progesterone_vaginal",
                400.0,
                Frequency.TWICE_DAILY,
                date_at(edd, 6 * 7),
                Indication.THREATENED_MISCARRIAGE,
                stop=Anchor(gestation_days=16 * 7),
                taper=(
                    DoseStep(Anchor(gestation_days=14 * 7), 200.0, Frequency.TWICE_DAILY),
                    DoseStep(Anchor(gestation_days=15 * 7), 200.0, Frequency.ONCE_DAILY),
                ),
                pregnancy_id=1,
                id=11,
            ),
            MedicationPlan(
                "aspirin",
                75.0,
                Frequency.ONCE_DAILY,
                date_at(edd, 5 * 7),
                Indication.APS,
                stop=Anchor(gestation_days=36 * 7),
                pregnancy_id=1,
                id=12,
            ),
        )
    follow_ups: tuple[FollowUp, ...] = (
        FollowUp(
            FollowUpKind.SWAB,
            date_at(edd, 11 * 7),
            status=FollowUpStatus.DONE,
            result_date=date_at(edd, 11 * 7),
            swab_result=SwabResult.NEGATIVE,
            pregnancy_id=1,
            id=21,
        ),
        FollowUp(FollowUpKind.SWAB, date_at(edd, 16 * 7), window_days=3, pregnancy_id=1, id=22),
        FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, date_at(edd, 16 * 7), pregnancy_id=1, id=23),
        FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, date_at(edd, 18 * 7), pregnancy_id=1, id=24),
        FollowUp(FollowUpKind.BLOOD_TEST, TODAY + dt.timedelta(days=10), title="Full blood count", id=25),
    )
    ended: tuple[CurrentPregnancy, ...] = ()
    pregnancy: CurrentPregnancy | None = p
    if sensitive:
        ended = (replace(p, ended_on=TODAY - dt.timedelta(days=7), outcome=Outcome.EARLY_MISCARRIAGE, sensitive=True),)
        pregnancy = None
        plans = ()
        follow_ups = (FollowUp(FollowUpKind.APPOINTMENT, TODAY + dt.timedelta(days=14), title="Follow-up", id=26),)
    snapshot = Snapshot(
        patient.hospital_number,
        patient.pregnancies,
        patient.risk,
        workup,
        CAT,
        pregnancy,
        ended,
        tuple(plans),
        follow_ups,
    )
    alerts = [AlertView(a, AlertStatus.ACTIVE, None, ()) for a in evaluate(shipped_rule_set(), snapshot, TODAY)]
    refs: list[Any] = []
    for v in alerts:
        refs += [c for c in v.alert.rule.citations if all(r.key != c.key for r in refs)]
    timeline = build_timeline(
        today=TODAY,
        history=patient.pregnancies,
        workup=workup,
        investigation_names={k: i.name for k, i in CAT.investigations.items()},
        pregnancy=pregnancy,
        ended=ended,
        plans=plans,
        follow_ups=follow_ups,
        alerts=[AlertMark(v.alert.rule.id, v.alert.rule.title, v.alert.severity.value, TODAY) for v in alerts],
    )
    return CarePlanData(
        variant=variant,
        patient=patient,
        printed_at=PRINTED,
        today=TODAY,
        gestation=pregnancy.gestation_on(TODAY) if pregnancy else None,
        pregnancy=pregnancy,
        last_ended=ended[-1] if ended else None,
        sensitive=sensitive,
        history=patient.pregnancies,
        summary=summarise(patient.pregnancies),
        risk=patient.risk,
        diagnoses=("Recurrent pregnancy loss, primary (ESHRE 2022: two or more pregnancy losses)",),
        results=lines_of(workup) if results is None else results,
        outstanding=("Parental karyotype (woman) (requested 01/11/2026)",),
        plans=tuple(plans),
        past_plans=(),
        edds={1: edd},
        follow_ups=tuple(f for f in follow_ups if f.status is FollowUpStatus.DUE),
        done_follow_ups=tuple(f for f in follow_ups if f.status is FollowUpStatus.DONE),
        alerts=tuple(alerts),
        references=tuple(refs),
        timeline=timeline,
        clinic=clinic,
        rule_set_version=shipped_rule_set().version,
        record_hash=record_hash({"patient": patient.hospital_number, "sensitive": sensitive}),
        signed=signed,
    )


@pytest.fixture(scope="module")
def clinician() -> tuple[CarePlanData, bytes]:
    data = make_data(Variant.CLINICIAN)
    return data, render_care_plan(data)


@pytest.fixture(scope="module")
def patient() -> tuple[CarePlanData, bytes]:
    data = make_data(Variant.PATIENT)
    return data, render_care_plan(data)


def test_both_variants_name_the_patient_medicines_and_dates(
    clinician: tuple[CarePlanData, bytes], patient: tuple[CarePlanData, bytes]
) -> None:
    data, _ = clinician
    edd = data.edds[1]
    stop = date_at(edd, 16 * 7).strftime("%d/%m/%Y")
    last = date_at(edd, 16 * 7 - 1).strftime("%d/%m/%Y")
    taper = date_at(edd, 14 * 7).strftime("%d/%m/%Y")
    due = [f.due_date.strftime("%d/%m/%Y") for f in data.follow_ups]
    for _, pdf in (clinician, patient):
        text = flat(text_of(pdf))
        for expected in (
            "Zoë",
            "Łukasiewicz-Nguyễn",
            "09/05/1986",
            "RM000077",
            "943 476 5919",
            stop,
            last,
            taper,
            *due,
        ):
            assert expected in text
        assert "Not signed" in text and f"Record {data.short_hash}" in text and f"Rules {data.rule_set_version}" in text
        assert "Printed 23/11/2026 14:05" in text and "12+0 weeks" in text
        assert "congratulat" not in text.lower()
    ctext = flat(text_of(clinician[1]))
    assert "Care plan — clinician copy" in ctext
    assert "Micronised progesterone (vaginal)" in ctext and "Aspirin, low dose" in ctext
    assert "ABNORMAL" in ctext and "Lupus anticoagulant" in ctext
    assert f"{stop} (16+0) last dose {last} (15+6) planned at 16+0" in ctext
    assert "References" in ctext and data.references
    for i, ref in enumerate(data.references, 1):
        assert f"[{i}] {flat(ref.label)}" in ctext
    first = data.alerts[0].alert
    assert flat(first.rule.title) in ctext
    cites = "".join(f"[{data.citation_number(c.key)}]" for c in first.rule.citations)
    assert cites in ctext

    ptext = flat(text_of(patient[1]))
    assert "Your care plan" in ptext and "Progesterone" in ptext and "Aspirin" in ptext
    assert "vaginal pessary, put into the vagina" in ptext and "tablet by mouth" in ptext
    assert "Take your last dose on" in ptext and f"{last} (15+6). Stop on" in ptext and f"{stop} (16+0)" in ptext
    assert "Scan to measure the length of the neck of the womb (cervix)" in ptext and "Vaginal swab" in ptext
    assert "0161 555 0101" in ptext and "0161 555 0199" in ptext
    assert "If you have any bleeding, pain or other worries, please call us." in ptext
    for ref in data.references:
        assert flat(ref.label) not in ptext
    for alert in data.alerts:
        assert flat(alert.alert.rule.title) not in ptext
    for jargon in ("RPL", "LMWH", "EDD", "ESHRE", "RCOG", "ABNORMAL", "[1]", "Micronised", "References"):
        assert jargon not in ptext


def test_patient_dose_calendar_marks_taper_days_and_the_stop(patient: tuple[CarePlanData, bytes]) -> None:
    data, pdf = patient
    text = flat(text_of(pdf))
    assert "Your dose calendar" in text
    edd = data.edds[1]
    full, halved, once, stop = (date_at(edd, w * 7) for w in (13, 14, 15, 16))
    assert f"{full.day} 400 mg ×2" in text
    assert f"{halved.day} T 200 mg ×2" in text and f"{once.day} T 200 mg {once.day + 1} T 200 mg" in text
    assert f"{stop.day} Stop no dose" in text
    assert "Lowering the dose step by step before stopping" in text


def test_every_page_of_a_long_history_says_page_x_of_y() -> None:
    long_value = " ".join(f"word{i:03d}" for i in range(40))  # ~300 characters
    results = tuple(
        ResultLine(
            "thrombophilia" if i % 2 else "endocrine",
            f"Investigation {i:03d}",
            long_value if i == 50 else f"{i}.5 U/mL",
            "abnormal" if i % 7 == 0 else "normal",
            i % 7 == 0,
            TODAY - dt.timedelta(days=i),
            i % 3 == 0,
            lab_range="0.0–1.0 U/mL",
        )
        for i in range(100)
    )
    pdf = render_care_plan(make_data(results=results))
    pages = pages_of(pdf)
    n = len(pages)
    assert n >= 4
    for i, page in enumerate(pages, 1):
        assert f"Page {i} of {n}" in page
        assert "Łukasiewicz-Nguyễn" in page and "RM000077" in page  # the header is on every page
    text = flat("\n".join(pages))
    assert all(f"Investigation {i:03d}" in text for i in range(100))
    assert all(f"word{i:03d}" in text for i in range(40))  # the 300-character value wrapped, nothing cut
    # the results table's header row repeats on each page it continues on
    assert sum("Investigation Value" in flat(p) for p in pages) >= 2


def test_a_batch_numbers_each_patient_on_its_own() -> None:
    people = [
        replace(ZOE, hospital_number="RM000001", family_name="Ağaoğlu", given_name="Ayşe"),
        replace(ZOE, hospital_number="RM000002", family_name="Kowalska", given_name="Łucja"),
        replace(ZOE, hospital_number="RM000003", family_name="O'Brien", given_name="Siobhán"),
    ]
    seen: list[tuple[int, int]] = []
    pdf = render_care_plans([make_data(Variant.PATIENT, patient=p) for p in people], lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    pages = pages_of(pdf)
    numbers = [re.search(r"Page (\d+) of (\d+)", p) for p in pages]
    assert all(numbers)
    owner = [next(p.hospital_number for p in people if p.hospital_number in page) for page in pages]
    for person in people:
        mine = [m for m, o in zip(numbers, owner, strict=True) if o == person.hospital_number]
        assert mine and [(int(m.group(1)), int(m.group(2))) for m in mine if m] == [
            (i, len(mine)) for i in range(1, len(mine) + 1)
        ]
        name = f"{person.given_name} {person.family_name}"
        assert all(name in page for page, o in zip(pages, owner, strict=True) if o == person.hospital_number)
    assert owner == sorted(owner)  # each care plan is whole, in order


def test_the_barcode_scans_to_the_hospital_number(clinician: tuple[CarePlanData, bytes], tmp_path: Path) -> None:
    if shutil.which("zbarimg") is None or shutil.which("pdftoppm") is None:
        if os.environ.get("RMCLINIC_REQUIRE_POSTGRES") == "1":
            pytest.fail("zbarimg and pdftoppm are required (apt-get install zbar-tools poppler-utils)")
        pytest.skip("zbarimg or pdftoppm is not installed")
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(clinician[1])
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    [png] = sorted(tmp_path.glob("p*.png"))
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["RM000077"]


def test_user_text_is_printed_literally() -> None:
    tricky = replace(
        ZOE,
        family_name="Smith & <b>Jones</b>",
        risk=replace(ZOE.risk, drug_allergies=("<i>latex</i> & plasters",)),
        pregnancies=(replace(HISTORY[0], notes="Seen at A&E <script>x</script>"), *HISTORY[1:]),
    )
    clinic = replace(CLINIC, urgent_advice="Ring <b>triage</b> & say you are under the RM clinic.")
    for variant in Variant.ALL:
        text = flat(text_of(render_care_plan(make_data(variant, patient=tricky, clinic=clinic))))
        assert "Zoë Smith & <b>Jones</b>" in text
        if variant == Variant.CLINICIAN:
            assert "<i>latex</i> & plasters" in text and "Seen at A&E <script>x</script>" in text
        else:
            assert "Ring <b>triage</b> & say you are under the RM clinic." in text


def test_long_free_text_wraps_inside_its_cell() -> None:
    note = "Long note " + " ".join(f"n{i:04d}" for i in range(700))  # ~4000 characters: taller than a page
    unbroken = "X" * 300  # no spaces at all
    person = replace(ZOE, pregnancies=(replace(HISTORY[0], notes=note + " " + unbroken), *HISTORY[1:]))
    pdf = render_care_plan(make_data(patient=person))  # raises LayoutError if a row cannot be placed
    text = flat(text_of(pdf))
    assert all(f"n{i:04d}" in text for i in range(700))
    assert text.replace(" ", "").count("X" * 30) >= 10


def test_after_a_loss_the_patient_copy_has_no_antenatal_wording() -> None:
    data = make_data(Variant.PATIENT, sensitive=True)
    text = flat(text_of(render_care_plan(data))).lower()
    for banned in ("weeks pregnant", "congratulat", "your pregnancy", "due date", "week of pregnancy", "weeks of"):
        assert banned not in text
    assert not re.search(r"\b\d{1,2}\+\d\b", text)  # no gestation written anywhere, footer included
    assert "we are sorry for your loss." in text
    assert "follow-up" in text  # what happens next is still there
    clinician = flat(text_of(render_care_plan(make_data(Variant.CLINICIAN, sensitive=True))))
    assert "Sensitive communication" in clinician and "No open pregnancy." in clinician


def test_the_clinics_own_advice_replaces_the_generic_sentence() -> None:
    clinic = replace(CLINIC, urgent_advice="Call the early pregnancy unit on the number below.", urgent_phone="")
    text = flat(text_of(render_care_plan(make_data(Variant.PATIENT, clinic=clinic))))
    assert "Call the early pregnancy unit on the number below." in text
    assert "please call us." not in text.split("If you have bleeding or pain")[1]
    assert "Out of hours: ____" in text  # a line to write the number on, never nothing


def test_with_no_numbers_set_the_patient_copy_has_lines_to_write_them_on() -> None:
    clinic = replace(CLINIC, phone="", urgent_phone="")
    text = flat(text_of(render_care_plan(make_data(Variant.PATIENT, clinic=clinic))))
    assert "The clinic: ____" in text and "Out of hours: ____" in text


def test_signed_versions_say_so_on_every_page() -> None:
    sig = SignatureInfo(
        1, 1, "clinician", 3, "drlee", "Dr Amal Lee", dt.datetime(2026, 11, 23, 9, 0), "h" * 64, "r", ""
    )
    pages = pages_of(render_care_plan(make_data(signed=sig)))
    assert len(pages) > 1
    assert all("Signed by Dr Amal Lee (drlee) on 23/11/2026, version 3" in flat(p) for p in pages)
    assert not any("Not signed" in p for p in pages)


def test_same_data_gives_the_same_bytes(patient: tuple[CarePlanData, bytes]) -> None:
    data, pdf = patient
    assert render_care_plan(data) == pdf
    assert render_care_plan(replace(data, printed_at=PRINTED + dt.timedelta(minutes=1))) != pdf


def tiny_png(width: int = 8, height: int = 4) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + bytes((30, 90, 160)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_the_logo_is_drawn_on_every_page_when_given() -> None:
    without = PdfReader(io.BytesIO(render_care_plan(make_data(Variant.PATIENT))))
    assert all(len(p.images) == 0 for p in without.pages)
    with_logo = PdfReader(
        io.BytesIO(render_care_plan(make_data(Variant.PATIENT, clinic=replace(CLINIC, logo=tiny_png()))))
    )
    assert all(len(p.images) == 1 for p in with_logo.pages)
    # a damaged logo is left out rather than stopping the printout
    broken = replace(CLINIC, logo=b"\x89PNG\r\n\x1a\nnot really")
    assert "Your care plan" in text_of(render_care_plan(make_data(Variant.PATIENT, clinic=broken)))


def test_an_open_ended_plan_shows_eight_weeks_and_says_it_continues() -> None:
    plan = MedicationPlan("levothyroxine", 50.0, Frequency.ONCE_DAILY, TODAY - dt.timedelta(days=30), Indication.OTHER)
    text = flat(text_of(render_care_plan(make_data(Variant.PATIENT, plans=(plan,)))))
    assert "There is no planned stop date" in text and "continues after these dates" in text
    assert "50 micrograms" in text
    # eight weekly rows from this week's Monday
    last_sunday = TODAY + dt.timedelta(weeks=8, days=-1)
    assert f"{last_sunday.day:02d}/{last_sunday.month:02d}" in text
    after = last_sunday + dt.timedelta(days=1)
    assert f"{after.day:02d}/{after.month:02d}–" not in text


def test_hatching_stays_inside_the_bar() -> None:
    segs = hatch_lines(10.0, 20.0, 30.0, 8.0)
    assert len(segs) > 5
    for x1, y1, x2, y2 in segs:
        for x, y in ((x1, y1), (x2, y2)):
            assert 10.0 - 1e-9 <= x <= 40.0 + 1e-9 and 20.0 - 1e-9 <= y <= 28.0 + 1e-9
        assert abs((x2 - x1) - (y2 - y1)) < 1e-9  # 45 degrees


def test_the_timeline_drawing_fills_the_width(clinician: tuple[CarePlanData, bytes]) -> None:
    data, pdf = clinician
    drawing = timeline_flowable(data.timeline, 500.0)
    assert drawing.width == 500.0 and drawing.height > 100
    text = flat(text_of(pdf))
    assert "Timeline" in text and "This pregnancy (weeks of gestation)" in text and "Today 12+0" in text


def test_the_bytes_do_not_depend_on_the_process(patient: tuple[CarePlanData, bytes], tmp_path: Path) -> None:
    """A signed version is compared by its SHA-256: another process (another hash seed) prints the same bytes."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from test_careplan_pdf import make_data\n"
        "from rmclinic.reports.careplan import render_care_plan\n"
        "sys.stdout.buffer.write(render_care_plan(make_data('patient')))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)], capture_output=True, env=env, check=True
    )
    assert out.stdout == patient[1]


def test_results_of_this_pregnancy_are_flagged_in_words() -> None:
    base = make_data()
    edd = base.edds[1]
    done = (
        FollowUp(
            FollowUpKind.CERVICAL_LENGTH_SCAN,
            date_at(edd, 18 * 7),
            status=FollowUpStatus.DONE,
            result_date=date_at(edd, 18 * 7),
            cervical_length_mm=24,
            funnelling=True,
            pregnancy_id=1,
        ),
        FollowUp(
            FollowUpKind.SWAB,
            date_at(edd, 16 * 7),
            status=FollowUpStatus.DONE,
            result_date=date_at(edd, 16 * 7),
            swab_result=SwabResult.ORGANISM,
            organism="Group B streptococcus",
            pregnancy_id=1,
        ),
        FollowUp(FollowUpKind.SWAB, date_at(edd, 12 * 7), status=FollowUpStatus.MISSED, pregnancy_id=1),
    )
    text = flat(text_of(render_care_plan(replace(base, done_follow_ups=done))))
    assert "SHORT — 24 mm, funnelling" in text
    assert "ABNORMAL — Organism found: Group B streptococcus" in text
    assert "MISSED" in text


def test_after_a_loss_scans_and_swabs_of_that_pregnancy_are_not_listed_for_the_patient() -> None:
    data = make_data(Variant.PATIENT, sensitive=True)
    leftover = FollowUp(FollowUpKind.CERVICAL_LENGTH_SCAN, TODAY + dt.timedelta(days=20), pregnancy_id=1)
    text = flat(text_of(render_care_plan(replace(data, follow_ups=(*data.follow_ups, leftover)))))
    assert "cervix" not in text and "Follow-up" in text
    clinician = replace(data, variant=Variant.CLINICIAN, follow_ups=(*data.follow_ups, leftover))
    assert "Cervical-length scan" in flat(text_of(render_care_plan(clinician)))  # staff still see it


def test_labels_stay_on_the_paper_and_never_overprint() -> None:
    prims = (
        Prim("marker", 495.0, 20.0, 7.0, shape=Shape.CIRCLE, mark=0),
        Prim("text", 501.0, 22.5, text="A label far too long for the edge", size=6.5, mark=0),
        Prim("text", 120.0, 40.0, text="first label", size=6.5, mark=1),
        Prim("text", 125.0, 40.0, text="second label", size=6.5, mark=2),
        Prim("text", 130.0, 41.0, text="a caption", size=6.5),
        Prim("text", 2.0, 60.0, text="Lane", size=7.5, bold=True),
    )
    register_fonts()
    out = fit_labels(prims, 500.0)
    texts = {p.text: p for p in out if p.op == "text"}
    moved = texts["A label far too long for the edge"]
    assert moved.anchor == "start" and moved.x + stringWidth(moved.text, "DejaVuSans", 6.5) <= 495.0 - 3.5
    assert "first label" in texts and "second label" not in texts and "a caption" not in texts
    assert "Lane" in texts
