"""taskforce tasks import | tasks export | backup: the operator's bulk and safety commands.

Every refusal is one line on stderr and exit 1; progress goes to stderr (rich), data to stdout
or ``--output``, so ``taskforce tasks export … > tasks.jsonl`` works.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

tasks_cli = typer.Typer(no_args_is_help=True, help="Bulk import and export of a customer's tasks.")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _progress(transient: bool = False):
    from rich.console import Console
    from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                    TextColumn("{task.fields[done]:>10,} tasks  {task.fields[rate]:>8,.0f}/s"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=transient)


def _customer(db, ref: str) -> dict:
    from taskforce import customers
    from taskforce.errors import NotFound

    try:
        with db.read() as conn:
            return customers.find_customer(conn, ref)
    except NotFound as exc:
        raise _fail(exc.message) from None


@tasks_cli.command("import")
def import_tasks(
    file: Path = typer.Argument(..., help="JSON Lines or CSV: one create body per line."),
    customer: str = typer.Option(..., "--customer", help="The customer's id or exact name."),
    test: bool = typer.Option(False, "--test", help="Test-mode tasks (the simulated worker answers)."),
    task_type: Optional[str] = typer.Option(None, "--type", help="Type of lines that name none (categorize, transcription, …)."),
    project: Optional[str] = typer.Option(None, "--project", help="Project of lines that name none."),
    batch: Optional[str] = typer.Option(None, "--batch", help="Batch of lines that name none."),
    fmt: Optional[str] = typer.Option(None, "--format", help="jsonl or csv (default: from the file name)."),
    batch_size: int = typer.Option(2000, "--batch-size", min=1, max=100_000, help="Tasks per transaction."),
    strict: bool = typer.Option(False, "--strict", help="Write nothing if any line is bad."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count; write nothing."),
) -> None:
    """Create many tasks from a file, validated like the API; re-runnable with unique_id."""
    from taskforce import bulk_import
    from taskforce.cli import _db, load_settings
    from taskforce.errors import TaskforceError

    settings = load_settings()
    try:
        fmt = bulk_import.format_of(file, fmt)
        default_type = bulk_import.type_named(task_type) if task_type else None
        stream = open(file, "rb")  # noqa: SIM115 - closed below
    except TaskforceError as exc:
        raise _fail(exc.message) from None
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    db = _db(settings)
    row = _customer(db, customer)
    importer = bulk_import.Importer(db, customer_id=row["id"], is_test=test,
                                    default_type=default_type, project=project, batch=batch,
                                    batch_size=batch_size, strict=strict, dry_run=dry_run)
    size = file.stat().st_size
    try:
        with stream:
            if strict:
                bad = bulk_import.validate_all(bulk_import.records(stream, fmt, default_type), importer)
                if bad:
                    _print_bad(bad)
                    raise _fail(f"{len(bad):,} bad line{'s' if len(bad) != 1 else ''}; "
                                "nothing imported (--strict)")
                stream.seek(0)
            with _progress() as progress:
                bar = progress.add_task("importing" if not dry_run else "checking", total=size,
                                        done=0, rate=0.0)

                def show(read: int, report) -> None:
                    progress.update(bar, completed=read, done=report.created, rate=report.rate)

                report = importer.run(bulk_import.records(stream, fmt, default_type), show)
                progress.update(bar, completed=size, done=report.created, rate=report.rate)
    except TaskforceError as exc:  # the database refused (e.g. unavailable)
        raise _fail(exc.message) from None
    _print_bad(report.bad)
    verb = "would create" if dry_run else "created"
    summary = (f"{verb} {report.created:,} task{'s' if report.created != 1 else ''} "
               f"for {row['name']} ({'test' if test else 'live'}) in {report.seconds:.1f} s "
               f"({report.rate:,.0f}/s)")
    if report.existing:
        summary += f"; {report.existing:,} already there (same unique_id)"
    if report.bad:
        summary += f"; {len(report.bad):,} bad line{'s' if len(report.bad) != 1 else ''} skipped"
    typer.echo(summary, err=True)
    if report.bad:
        raise typer.Exit(2 if not strict else 1)


def _print_bad(bad: list[tuple[int, str]], limit: int = 50) -> None:
    for number, message in bad[:limit]:
        typer.echo(f"line {number}: {message}", err=True)
    if len(bad) > limit:
        typer.echo(f"… and {len(bad) - limit:,} more bad lines", err=True)


@tasks_cli.command("export")
def export_tasks(
    customer: str = typer.Option(..., "--customer", help="The customer's id or exact name."),
    test: bool = typer.Option(False, "--test", help="Test-mode tasks instead of live ones."),
    status: Optional[str] = typer.Option(None, "--status", help="pending, completed or canceled."),
    since: Optional[str] = typer.Option(None, "--since", help="Created at or after (ISO 8601)."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
) -> None:
    """Stream a customer's tasks, oldest first, as the API returns them."""
    from taskforce import bulk_export
    from taskforce.cli import _db, load_settings
    from taskforce.clock import parse_iso
    from taskforce.errors import TaskforceError
    from taskforce.tasks.status import Status

    if fmt not in bulk_export.FORMATS:
        raise _fail(f"--format must be jsonl or csv, not {fmt!r}")
    if status is not None and status not in {s.value for s in Status}:
        raise _fail("--status must be one of " + ", ".join(s.value for s in Status))
    since_ms = None
    if since:
        try:
            since_ms = parse_iso(since)
        except (ValueError, OverflowError):
            raise _fail("--since must be an ISO 8601 date or time, like 2016-06-23T09:09:34Z") from None
    db = _db(load_settings())
    row = _customer(db, customer)
    f = bulk_export.ExportFilter(customer_id=row["id"], is_test=test, status=status, since_ms=since_ms)
    try:
        out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}") from None
    written = 0
    try:
        total = bulk_export.count(db, f)
        with _progress() as progress:
            bar = progress.add_task("exporting", total=total or 1, done=0, rate=0.0)
            if fmt == "csv":
                out.write(bulk_export.csv_header())
            encode = bulk_export.csv_lines if fmt == "csv" else bulk_export.jsonl_lines
            for page in bulk_export.task_pages(db, f):
                out.write(encode(page))
                written += len(page)
                elapsed = progress.tasks[0].elapsed or 0
                progress.update(bar, completed=written, done=written,
                                rate=written / elapsed if elapsed else 0.0)
        out.flush()
    except TaskforceError as exc:
        raise _fail(exc.message) from None
    except BrokenPipeError:  # `… | head`: the reader has what it wanted
        raise typer.Exit(0) from None
    finally:
        if output:
            out.close()
    typer.echo(f"exported {written:,} task{'s' if written != 1 else ''}", err=True)


def backup_command(
    path: Path = typer.Argument(..., help="Where to write the copy (a new file)."),
    force: bool = typer.Option(False, "--force", help="Replace PATH if it exists."),
) -> None:
    """Copy the live SQLite database consistently, without stopping the server."""
    import sqlite3

    from taskforce import backup
    from taskforce.cli import load_settings

    settings = load_settings()
    try:
        result = backup.backup(settings.database_url, path, overwrite=force)
    except backup.BackupRefused as exc:
        raise _fail(exc.message) from None
    except (OSError, sqlite3.Error) as exc:
        raise _fail(f"backup failed: {exc}") from None
    typer.echo(f"backed up to {result.path} ({result.bytes / 1e6:,.1f} MB in {result.seconds:.1f} s)")
