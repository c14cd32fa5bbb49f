"""Command line: ``rmclinic`` opens the window; subcommands work on the database without a GUI.

Every error is one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__

log = logging.getLogger("rmclinic.cli")

DEMO_ALERT_HISTORY_DAYS = 28
EXIT_ERROR = 1
EXIT_USAGE = 2


class _LoginRoles:
    """The roles an account can have, as argparse choices read only when used: importing the accounts
    module costs every start (and the window) time it mostly does not need."""

    @staticmethod
    def _values() -> list[str]:
        from .domain.accounts import LOGIN_ROLES

        return [r.value for r in LOGIN_ROLES]

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())


class CliError(Exception):
    """A user-facing failure: the message is printed as is."""


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line too (argparse would print the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="rmclinic", description="rmclinic: records and decision support for recurrent-miscarriage clinics."
    )
    p.add_argument("--version", action="version", version=f"rmclinic {__version__}")
    p.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy database URL (default: $RMCLINIC_DATABASE_URL, else an SQLite file in the user data folder)",
    )
    p.add_argument(
        "--user",
        metavar="NAME",
        help="log in as NAME (default: $RMCLINIC_USER); the password comes from $RMCLINIC_PASSWORD or a prompt",
    )
    p.add_argument("--self-test", action="store_true", help="open, migrate, build the main window offscreen, exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    db = sub.add_parser("db", help="database schema")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    dbsub.add_parser("upgrade", help="migrate the schema to this version (backs up an SQLite file first)")
    dbsub.add_parser("current", help="print the schema revision of the database")

    demo = sub.add_parser("demo-data", help="fill the database with synthetic patients")
    demo.add_argument("--patients", type=int, required=True, metavar="N")
    demo.add_argument("--seed", type=int, default=1, metavar="S")
    demo.add_argument("--today", type=_iso_date, metavar="YYYY-MM-DD", help="date the data is relative to")
    demo.add_argument("--force", action="store_true", help="replace the patients already in the database")

    ex = sub.add_parser("export", help="export complete patient records as JSON")
    ex.add_argument("--patient", action="append", metavar="HOSPNO", help="only this patient (repeatable)")
    ex.add_argument("-o", "--output", required=True, metavar="FILE.json")

    fx = sub.add_parser(
        "export-fhir",
        help="export patient records as an HL7 FHIR R4 Bundle (JSON)",
        description="A collection Bundle: Patient, RelatedPerson, Condition, Observation, MedicationRequest, "
        "CarePlan, ServiceRequest, Appointment, DetectedIssue and Provenance (docs/fhir-export.md). Consultant or "
        "admin; audited per patient.",
    )
    fx.add_argument("--patient", action="append", metavar="HOSPNO", help="only this patient (repeatable)")
    fx.add_argument("-o", "--output", required=True, metavar="FILE.json")

    wl = sub.add_parser("worklist", help="what is due: follow-ups, taper steps, stops, milestones, reviews")
    wl.add_argument("--date", type=_iso_date, metavar="YYYY-MM-DD", help="first day (default: today)")
    wl.add_argument("--days", type=int, default=1, metavar="N", help="number of days from the date (default 1)")
    wl.add_argument("--json", action="store_true", help="print a JSON list of objects instead of a table")

    al = sub.add_parser("alerts", help="evidence-linked alerts for one or every patient")
    al.add_argument("--patient", action="append", metavar="HOSPNO", help="only this patient (repeatable)")
    al.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD", help="evaluate as of this date (default: today)")
    al.add_argument("--json", action="store_true", help="print a JSON list of objects instead of a table")
    al.add_argument(
        "--refresh",
        action="store_true",
        help="re-evaluate every patient now and record the results for the worklist (e.g. nightly); prints a summary",
    )

    cp = sub.add_parser(
        "careplan",
        help="print a care plan to PDF: one patient's, or every patient's on a day's worklist",
        description="Needs a nurse or consultant; every care plan printed is audited.",
    )
    cp.add_argument("hospital_number", nargs="?", metavar="HOSPNO", help="the patient (or use --worklist-date)")
    cp.add_argument(
        "--variant",
        choices=["patient", "clinician"],
        default="patient",
        help="patient: plain words and large type (default); clinician: full workup, alerts and references",
    )
    cp.add_argument(
        "--worklist-date", type=_iso_date, metavar="YYYY-MM-DD", help="every patient on this day's worklist, one PDF"
    )
    cp.add_argument("-o", "--output", required=True, metavar="FILE.pdf")

    lt = sub.add_parser(
        "letter",
        help="the GP letter of the patient's latest (or given) visit as PDF",
        description="The latest signed version, else the draft (made from the record if there is none yet, "
        "and marked DRAFT). Needs a nurse or consultant; audited.",
    )
    lt.add_argument("hospital_number", metavar="HOSPNO")
    lt.add_argument("--visit", type=_iso_date, metavar="YYYY-MM-DD", help="the attended visit on this date")
    lt.add_argument("-o", "--output", required=True, metavar="FILE.pdf")

    ru = sub.add_parser("rules", help="the alert rules with their sources (the evidence library)")
    ru.add_argument("--json", action="store_true", help="print a JSON list of objects instead of a table")

    im = sub.add_parser("import", help="import patient records from an export file (all or nothing)")
    im.add_argument("file", metavar="FILE.json")

    users = sub.add_parser("users", help="user accounts")
    usub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    ua = usub.add_parser("add", help="add an account (the first one, an admin, needs no login)")
    ua.add_argument("name", metavar="NAME")
    # A metavar, or argparse lists the choices (importing the accounts module) while the parser is built.
    ua.add_argument("--role", required=True, choices=_LoginRoles(), metavar="ROLE", help="one of: %(choices)s")
    ua.add_argument("--display-name", default="", metavar="TEXT")
    usub.add_parser("list", help="list the accounts")

    audit = sub.add_parser("audit", help="the audit trail")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    asub.add_parser("verify", help="check the hash chain; exit 0 when intact, 1 naming the first bad entry")
    ae = asub.add_parser("export", help="export audit entries as CSV")
    ae.add_argument("-o", "--output", required=True, metavar="FILE.csv")
    ae.add_argument("--from", dest="since", type=_iso_date, metavar="YYYY-MM-DD")
    ae.add_argument("--to", dest="until", type=_iso_date, metavar="YYYY-MM-DD", help="up to and including")
    ae.add_argument("--by", dest="username", default="", metavar="USER")
    ae.add_argument("--action", default="", metavar="ACTION")

    bk = sub.add_parser("backup", help="write a consistent copy of the SQLite database to FILE")
    bk.add_argument("file", metavar="FILE")
    rs = sub.add_parser("restore", help="replace the database with a backup (needs an admin of the backup)")
    rs.add_argument("file", metavar="FILE")
    sub.add_parser(
        "encrypt",
        help="encrypt the SQLite database with SQLCipher (key from $RMCLINIC_NEW_DB_KEY "
        "or a prompt); a copy of the old file is kept",
    )
    sub.add_parser("decrypt", help="turn an encrypted database (key in $RMCLINIC_DB_KEY) back into plain SQLite")

    rep = sub.add_parser("report", help="clinic reports (consultant or admin; audited)")
    repsub = rep.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    ro = repsub.add_parser(
        "outcomes",
        help="the clinic outcomes audit for a period, as PDF or CSV",
        description="Outcomes of the pregnancies conceived in the period, workup completeness, scans and swabs on "
        "time, loss to follow-up and alert analytics (docs/outcomes-audit.md). The format follows the file's "
        "extension: .pdf or .csv. Consultant or admin; audited; written atomically, owner-only.",
    )
    ro.add_argument("--from", dest="since", required=True, type=_iso_date, metavar="YYYY-MM-DD", help="first day")
    ro.add_argument("--to", dest="until", required=True, type=_iso_date, metavar="YYYY-MM-DD", help="last day")
    ro.add_argument("-o", "--output", required=True, metavar="FILE.pdf|FILE.csv")

    csv_ = sub.add_parser(
        "export-csv",
        help="the patient list, the worklist or the alert analytics as CSV for Excel or LibreOffice (audited)",
        description="UTF-8 with a byte-order mark, ISO dates, cells that could run as formulas made inert. "
        "patients needs the export permission (consultant, admin); alert-analytics an administrator.",
    )
    csv_.add_argument("what", choices=["patients", "worklist", "alert-analytics"])
    csv_.add_argument("-o", "--output", required=True, metavar="FILE.csv")
    csv_.add_argument(
        "--columns",
        metavar="A,B,...",
        help="patients: the columns, comma-separated (default hospital_number,nhs_number,family_name,given_name,"
        "date_of_birth; also age, archived, phone, email, gp_practice, pregnancy_losses, live_births)",
    )
    csv_.add_argument("--search", default="", metavar="TEXT", help="patients: as typed in the list's search box")
    csv_.add_argument("--include-archived", action="store_true", help="patients: archived patients too")
    csv_.add_argument("--date", type=_iso_date, metavar="YYYY-MM-DD", help="worklist: first day (default: today)")
    csv_.add_argument("--days", type=int, default=1, metavar="N", help="worklist: number of days (default 1)")
    return p


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _services(args: argparse.Namespace) -> Any:
    from .app import build_services

    return build_services(args.database)


def _password(prompt: str = "Password: ") -> str:
    """From RMCLINIC_PASSWORD, else a terminal prompt; never an argument (it would show in ps)."""
    env = os.environ.get("RMCLINIC_PASSWORD")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise CliError("no password: set RMCLINIC_PASSWORD or run in a terminal")
    import getpass

    return getpass.getpass(prompt)


def _login(args: argparse.Namespace, svc: Any) -> None:
    """Commands that touch patient data log in like the window does (audited, throttled)."""
    name = args.user or os.environ.get("RMCLINIC_USER")
    if not name:
        raise CliError("this command needs a user: --user NAME or RMCLINIC_USER (and RMCLINIC_PASSWORD)")
    svc.auth.login(name, _password(f"Password for {name}: "))


class _LoggedIn:
    """Build the services, log in, and always log out and close."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def __enter__(self) -> Any:
        self.svc = _services(self.args)
        try:
            _login(self.args, self.svc)
        except BaseException:
            self.svc.close()
            raise
        return self.svc

    def __exit__(self, *exc: object) -> None:
        try:
            self.svc.auth.logout()
        finally:
            self.svc.close()


def cmd_db(args: argparse.Namespace) -> int:
    from .persistence.db import describe, make_engine, resolve_url
    from .persistence.migrate import HEAD_REVISION, current_revision, upgrade

    url = resolve_url(args.database)
    if args.db_command == "upgrade":
        backup = upgrade(url)
        print(f"database at revision {HEAD_REVISION} (head)" + (f"; backup written to {backup}" if backup else ""))
        return 0
    engine = make_engine(url)
    try:
        rev = current_revision(engine)
    finally:
        engine.dispose()
    state = "head" if rev == HEAD_REVISION else ("empty" if rev is None else f"head is {HEAD_REVISION}")
    print(f"{rev or 'none'} ({state}) {describe(url)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    svc = _services(args)
    try:
        result = svc.demo.create(args.patients, seed=args.seed, force=args.force, today=args.today)
        # An alert history as if the clinic's nightly job had been running: evaluated four weeks back, so the
        # next refresh fires only what became due since (not every demo alert on one day's worklist).
        svc.session.actor = svc.session.system("demo-data")
        day = args.today or svc.alerts.today()
        svc.alerts.refresh_all(backdate=min(day, svc.alerts.today()) - dt.timedelta(days=DEMO_ALERT_HISTORY_DAYS))
    finally:
        svc.close()
    extra = f" (replaced {result.replaced})" if result.replaced else ""
    print(f"created {result.patients} demo patients{extra}")
    return 0


def _check_output(out: Path) -> None:
    """Refuse an output path that cannot be written before anything is made (and audited)."""
    if out.is_dir():
        raise CliError(f"cannot write {out}: it is a folder; give a file name")
    if not out.parent.exists():
        raise CliError(f"cannot write {out}: folder {out.parent} does not exist")


def cmd_export(args: argparse.Namespace) -> int:
    import json

    from .fileio import write_private_atomically

    out = Path(args.output)
    _check_output(out)
    with _LoggedIn(args) as svc:
        doc = svc.transfer.export(args.patient)
    write_private_atomically(out, json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    print(f"exported {len(doc['patients'])} patients to {out}")
    return 0


def cmd_export_csv(args: argparse.Namespace) -> int:
    from .fileio import write_private_atomically

    out = Path(args.output)
    _check_output(out)
    with _LoggedIn(args) as svc:
        if args.what == "patients":
            from .services.csv_export import DEFAULT_PATIENT_COLUMNS
            from .services.dto import PatientQuery

            columns = [c.strip() for c in args.columns.split(",")] if args.columns else list(DEFAULT_PATIENT_COLUMNS)
            query = PatientQuery(text=args.search, include_archived=args.include_archived)
            data, n = svc.patients.export_csv(query, columns)
            what = f"{n} patients"
        elif args.what == "worklist":
            data, n = svc.worklist.export_csv(args.date, args.days)
            what = f"{n} worklist items"
        else:
            data = svc.alerts.analytics_csv()
            what = "alert analytics"
    write_private_atomically(out, data)
    print(f"exported {what} to {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .fileio import write_private_atomically

    out = Path(args.output)
    _check_output(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "csv"):
        raise CliError(f"cannot tell the format of {out}: name it FILE.pdf or FILE.csv")
    if args.until < args.since:
        raise CliError(f"--to {args.until.isoformat()} is before --from {args.since.isoformat()}")
    with _LoggedIn(args) as svc:
        report, data = svc.outcomes.export_file(args.since, args.until, fmt)
    write_private_atomically(out, data)
    n = report.outcomes.overall.total
    print(
        f"wrote the outcomes audit {report.period} ({n} pregnanc{'y' if n == 1 else 'ies'}, "
        f"{len(report.lost)} lost to follow-up) to {out}"
    )
    if report.too_recent:  # the file says so too; a script's log should
        print(
            f"warning: the period ends after {report.last_assessable.isoformat()}: "
            f"{report.outcomes.overall.not_assessable} pregnancies are not yet assessable and are left out of the "
            "rates",
            file=sys.stderr,
        )
    return 0


def cmd_export_fhir(args: argparse.Namespace) -> int:
    import json

    from .fileio import write_private_atomically

    out = Path(args.output)
    _check_output(out)
    with _LoggedIn(args) as svc:
        doc = svc.transfer.export_fhir(args.patient)
    patients = sum(1 for e in doc["entry"] if e["resource"]["resourceType"] == "Patient")
    resources = len(doc["entry"])
    # Compact JSON (no indent): a third smaller to write and to send (docs/fhir-export.md).
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    del doc  # the bundle's memory back before the file's bytes are made
    write_private_atomically(out, text.encode("utf-8") + b"\n")
    print(f"exported {patients} patients ({resources} FHIR resources) to {out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    import json

    from .services.transfer import ImportRejected

    path = Path(args.file)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CliError(f"{path} is not valid JSON: {e}") from None
    with _LoggedIn(args) as svc:
        try:
            n = svc.transfer.import_document(doc)
        except ImportRejected as e:
            for p in e.problems[:50]:
                print(f"{path}: {p.path}: {p.message}", file=sys.stderr)
            more = f" (first 50 of {len(e.problems)} shown)" if len(e.problems) > 50 else ""
            raise CliError(f"import refused, nothing was written: {len(e.problems)} problem(s){more}") from None
    print(f"imported {n} patients")
    return 0


def _new_password(name: str) -> str:
    env = os.environ.get("RMCLINIC_NEW_PASSWORD")
    if env is not None:
        return env
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass("Once more: ") != first:
            raise CliError("the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline()
    if not line:
        raise CliError(f"no password for {name} on standard input")
    return line.rstrip("\r\n")


def cmd_users(args: argparse.Namespace) -> int:
    from .domain.accounts import Role

    if args.users_command == "add":
        svc = _services(args)
        try:
            if not svc.auth.has_users():
                if args.role != Role.ADMIN.value:
                    raise CliError("the first account must be an admin (--role admin)")
                svc.auth.create_first_admin(args.name, _new_password(args.name), args.display_name)
                print(f"created the first administrator, {args.name}")
                return 0
        finally:
            svc.close()
        with _LoggedIn(args) as svc:
            svc.auth.add_user(args.name, Role(args.role), _new_password(args.name), args.display_name)
        print(f"created {args.role} {args.name}")
        return 0
    with _LoggedIn(args) as svc:
        for u in svc.auth.list_users():
            state = "active" if u.active else "inactive"
            print(f"{u.username}\t{u.role.value}\t{state}\t{u.display_name}")
    return 0


def cmd_worklist(args: argparse.Namespace) -> int:
    import json

    with _LoggedIn(args) as svc:
        items = svc.worklist.items(args.date, args.days)
    if args.json:
        print(json.dumps([i.to_json() for i in items], ensure_ascii=False, indent=2))
        return 0
    for i in items:
        print(f"{i.due_date.isoformat()}  {i.gestation or '':>5}  {i.hospital_number:<12} {i.type:<21} {i.description}")
    print(f"{len(items)} items")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """Streams: a clinic of 100,000 patients has hundreds of thousands of alerts, never all held at once."""
    import json

    from .services.alerts import shipped_rule_set

    n = 0
    with _LoggedIn(args) as svc:
        if args.refresh:
            if args.as_of or args.patient:
                raise CliError("--refresh evaluates every patient as of today; it takes no --as-of or --patient")
            count = svc.alerts.refresh_all()
            print(f"re-evaluated the alerts of {count} patients")
            return 0
        for h in args.patient or ():  # every named patient must exist before anything is written
            if svc.patients.find_by_hospital_number(h) is None:
                raise CliError(f"no patient with hospital number {h}")
        out = sys.stdout
        if args.json:
            out.write("[")
        for hosp, view in svc.alerts.all_patients(args.as_of, args.patient):
            if args.json:
                out.write(("\n" if n == 0 else ",\n") + json.dumps(view.to_json(hosp), ensure_ascii=False))
            else:
                a = view.alert
                out.write(f"{hosp:<12} {a.severity.value:<8} {a.rule.id:<4} {view.status.value:<12} {a.rule.title}\n")
            n += 1
        if args.json:
            out.write("\n]\n")
        else:
            out.write(f"{n} alerts (rule set {shipped_rule_set().version})\n")
    return 0


def cmd_careplan(args: argparse.Namespace) -> int:
    from .domain.identifiers import normalise_hospital_number
    from .fileio import write_private_atomically

    if (args.hospital_number is None) == (args.worklist_date is None):
        raise CliError("give a hospital number or --worklist-date YYYY-MM-DD (one of them)")
    out = Path(args.output)
    _check_output(out)
    with _LoggedIn(args) as svc:
        if args.worklist_date is not None:
            pdf, n = svc.careplans.render_batch(args.worklist_date, args.variant)
            what = f"{n} {args.variant} care plan{'s' if n != 1 else ''} for {args.worklist_date.isoformat()}"
        else:
            hospital_number = normalise_hospital_number(args.hospital_number)
            record = svc.patients.find_by_hospital_number(hospital_number)
            if record is None:
                raise CliError(f"no patient with hospital number {hospital_number}")
            pdf = svc.careplans.render(record.id, args.variant)
            what = f"{args.variant} care plan of {hospital_number}"
    write_private_atomically(out, pdf)
    print(f"wrote {what} to {out}")
    return 0


def cmd_letter(args: argparse.Namespace) -> int:
    from .domain.identifiers import normalise_hospital_number
    from .fileio import write_private_atomically

    out = Path(args.output)
    _check_output(out)
    with _LoggedIn(args) as svc:
        hospital_number = normalise_hospital_number(args.hospital_number)
        record = svc.patients.find_by_hospital_number(hospital_number)
        if record is None:
            raise CliError(f"no patient with hospital number {hospital_number}")
        letter = svc.visits.letter_for(record.id, args.visit)
        if letter is None:
            letter = svc.visits.start_letter(record.id, svc.visits.latest_visit_id(record.id, args.visit))
        pdf = svc.visits.pdf(record.id, letter.id)
    write_private_atomically(out, pdf)
    state = (
        f"signed by {letter.signed_by_name} on {letter.signed_at.astimezone().strftime('%d/%m/%Y')}"
        if letter.signed_at
        else "DRAFT, not signed"
    )
    print(f"wrote letter version {letter.version} of {hospital_number} ({state}) to {out}")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    import datetime as _dt
    import json

    from .services.alerts import rules_to_json, shipped_rule_set

    rule_set = shipped_rule_set()
    rows = rules_to_json(rule_set, _dt.date.today())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        flag = "  REVIEW OVERDUE" if r["overdue_for_review"] else ""
        print(f"{r['id']:<4} v{r['version']}  {r['severity']:<8} {r['title']}{flag}")
    print(
        f"{len(rows)} rules, rule set {rule_set.version}"
        + (f"; {len(rule_set.rejected)} rejected" if rule_set.rejected else "")
    )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from .fileio import write_private_atomically

    with _LoggedIn(args) as svc:
        if args.audit_command == "verify":
            report = svc.audit.verify()
            if not report.ok:
                raise CliError(f"audit trail broken at entry {report.first_bad_seq}: {report.problem}")
            print(f"audit trail intact: {report.checked} entries, head {report.head_hash[:16]}")
            return 0
        from .services.dto import AuditFilter

        def utc(d: dt.date | None, plus: int = 0) -> dt.datetime | None:
            if d is None:
                return None
            return dt.datetime.combine(d + dt.timedelta(days=plus), dt.time(), tzinfo=dt.UTC)

        f = AuditFilter(
            since=utc(args.since),
            until=utc(args.until, 1),
            username=args.username,
            action=args.action,
            sort="seq",
            descending=False,
        )
        data = svc.audit.export_csv(f)
    write_private_atomically(Path(args.output), data.encode("utf-8"))
    print(f"wrote {data.count(chr(10)) - 1} audit entries to {args.output}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    with _LoggedIn(args) as svc:
        made = svc.backup.backup(Path(args.file))
    print(f"backup written to {made}")
    return 0


def _new_db_key() -> str:
    env = os.environ.get("RMCLINIC_NEW_DB_KEY")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise CliError("no key: set RMCLINIC_NEW_DB_KEY or run in a terminal")
    import getpass

    first = getpass.getpass("New database key: ")
    if getpass.getpass("Once more: ") != first:
        raise CliError("the two keys differ; nothing was changed")
    return first


def cmd_encrypt(args: argparse.Namespace) -> int:
    with _LoggedIn(args) as svc:
        if args.command == "encrypt":
            kept = svc.backup.encrypt(_new_db_key())
            svc.session.actor = None  # the open engine no longer fits the file: no logout entry through it
            print(
                f"database encrypted: from now on set RMCLINIC_DB_KEY to open it. The unencrypted copy {kept} "
                "was kept for safety: check the encrypted database opens, then delete that copy securely."
            )
        else:
            kept = svc.backup.decrypt()
            svc.session.actor = None
            print(f"database decrypted; the encrypted copy was kept as {kept}. Unset RMCLINIC_DB_KEY.")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    name = args.user or os.environ.get("RMCLINIC_USER")
    if not name:
        raise CliError("restore needs an administrator of the backup: --user NAME or RMCLINIC_USER")
    svc = _services(args)
    try:
        password = _password(f"Password for {name} (as in the backup): ")
        kept = svc.backup.restore(Path(args.file), name, password)
    finally:
        svc.close()
    print(f"restored {args.file}" + (f"; the replaced database was kept as {kept}" if kept else ""))
    return 0


def self_test(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from .app import run_self_test

    svc = _services(args)
    try:
        shown = run_self_test(svc)
    finally:
        svc.close()
    print(f"self-test passed: {svc.backend} database migrated, main window built, {shown} patients listed")
    return 0


def run_gui(args: argparse.Namespace) -> int:
    from .app import run_app

    return run_app(args.database, args.user)


def known_error_message(exc: BaseException) -> str | None:
    """The one-line message for failures the user can act on; None for bugs."""
    from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

    from .domain.errors import DomainError

    if isinstance(exc, CliError | DomainError):
        return str(exc)
    if isinstance(exc, NoSuchModuleError):
        return f"unsupported database URL (no driver for it): {exc}"
    if isinstance(exc, ArgumentError):
        return f"invalid --database URL: {exc}"
    if isinstance(exc, DatabaseError) and "not a database" in str(exc.orig):
        return (
            "cannot open the database: it is encrypted (set RMCLINIC_DB_KEY to its key) or it is not an "
            "rmclinic database; nothing was changed"
        )
    if isinstance(exc, OperationalError):
        return f"cannot use the database: {str(exc.orig).strip().splitlines()[0]}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    from .logs import setup_logging

    args = _parser().parse_args(argv)
    log_file = setup_logging()
    try:
        if args.self_test:
            return self_test(args)
        if args.command == "db":
            return cmd_db(args)
        if args.command == "demo-data":
            return cmd_demo(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "export-fhir":
            return cmd_export_fhir(args)
        if args.command == "import":
            return cmd_import(args)
        if args.command == "worklist":
            return cmd_worklist(args)
        if args.command == "alerts":
            return cmd_alerts(args)
        if args.command == "careplan":
            return cmd_careplan(args)
        if args.command == "letter":
            return cmd_letter(args)
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "users":
            return cmd_users(args)
        if args.command == "audit":
            return cmd_audit(args)
        if args.command == "backup":
            return cmd_backup(args)
        if args.command == "restore":
            return cmd_restore(args)
        if args.command == "export-csv":
            return cmd_export_csv(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command in ("encrypt", "decrypt"):
            return cmd_encrypt(args)
        return run_gui(args)
    except KeyboardInterrupt:
        print("rmclinic: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        message = known_error_message(exc)
        if message is None:
            from .app import crash_report

            log.error("unexpected error\n%s", crash_report(type(exc), exc.__traceback__))
            where = f"; details in {log_file}" if log_file else ""
            message = f"unexpected {type(exc).__name__}{where}"
        print(f"rmclinic: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
