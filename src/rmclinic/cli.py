"""Command line: ``rmclinic`` opens the window; subcommands work on the database without a GUI.

Every error is one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__

log = logging.getLogger("rmclinic.cli")

EXIT_ERROR = 1
EXIT_USAGE = 2


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

    im = sub.add_parser("import", help="import patient records from an export file (all or nothing)")
    im.add_argument("file", metavar="FILE.json")
    return p


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def write_private_atomically(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so a crash never leaves half a file; owner-only mode."""
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _services(args: argparse.Namespace) -> Any:
    from .app import build_services

    return build_services(args.database)


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
    finally:
        svc.close()
    extra = f" (replaced {result.replaced})" if result.replaced else ""
    print(f"created {result.patients} demo patients{extra}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    svc = _services(args)
    try:
        doc = svc.transfer.export(args.patient)
    finally:
        svc.close()
    out = Path(args.output)
    if not out.parent.exists():
        raise CliError(f"cannot write {out}: folder {out.parent} does not exist")
    write_private_atomically(out, json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    print(f"exported {len(doc['patients'])} patients to {out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .services.transfer import ImportRejected

    path = Path(args.file)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CliError(f"{path} is not valid JSON: {e}") from None
    svc = _services(args)
    try:
        n = svc.transfer.import_document(doc)
    except ImportRejected as e:
        for p in e.problems[:50]:
            print(f"{path}: {p.path}: {p.message}", file=sys.stderr)
        more = f" (first 50 of {len(e.problems)} shown)" if len(e.problems) > 50 else ""
        raise CliError(f"import refused, nothing was written: {len(e.problems)} problem(s){more}") from None
    finally:
        svc.close()
    print(f"imported {n} patients")
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

    return run_app(args.database)


def known_error_message(exc: BaseException) -> str | None:
    """The one-line message for failures the user can act on; None for bugs."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from .domain.errors import DomainError

    if isinstance(exc, CliError | DomainError):
        return str(exc)
    if isinstance(exc, NoSuchModuleError):
        return f"unsupported database URL (no driver for it): {exc}"
    if isinstance(exc, ArgumentError):
        return f"invalid --database URL: {exc}"
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
        if args.command == "import":
            return cmd_import(args)
        return run_gui(args)
    except KeyboardInterrupt:
        print("rmclinic: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        message = known_error_message(exc)
        if message is None:
            log.exception("unexpected error")
            where = f"; details in {log_file}" if log_file else ""
            message = f"unexpected {type(exc).__name__}{where}"
        print(f"rmclinic: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
