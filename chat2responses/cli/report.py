"""`chat2responses report FLOWS… -o report.html`: saved flows as one self-contained HTML page.

Owns the command's I/O: reading the flow files (glue/flowfile.py, which alone speaks mitmproxy's
format), writing the page views/report.py renders, and saying what it wrote. Must not load
mitmproxy before it is asked to (the other commands never import it).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="saved flows (mitmdump -w) as one HTML page: charts per conversation, cache misses",
        description="Read flows saved by mitmdump -w (or mitmweb) with chat2responses loaded,\n"
        "and write one self-contained HTML page: per conversation, the tokens (input, cached,\n"
        "output) and the time to the first token per turn as charts, why a cache missed, and\n"
        "the totals. The page needs no server and no network.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("flows", nargs="+", type=Path, metavar="FLOWS", help="flow files")
    report.add_argument(
        "-o", "--output", type=Path, default=Path("report.html"), help="default: report.html"
    )
    report.set_defaults(parser=report)


def run(flows: list[Path], output: Path) -> int:
    from chat2responses.glue.flowfile import FlowFileError, conversations, records  # noqa: PLC0415
    from chat2responses.views.report import render_report  # noqa: PLC0415

    try:
        found = [record for path in flows for record in records(path)]
    except FlowFileError as err:
        print(f"chat2responses report: {err}", file=sys.stderr)
        return 1
    grouped = conversations(found)
    page = render_report(
        grouped, sources=[p.name for p in flows], generated=datetime.now().astimezone()
    )
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as err:
        print(
            f"chat2responses report: cannot write {output}: {err.strerror or err}", file=sys.stderr
        )
        return 1
    calls, talks = len(found), len(grouped)
    print(
        f"{output}: {calls} rewritten call{'s' if calls != 1 else ''} in {talks} "
        f"conversation{'s' if talks != 1 else ''}"
    )
    return 0
