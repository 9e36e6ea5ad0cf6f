"""Entry point of `vigil-report`. The workbook itself arrives with the reporter issue."""

import sys


def main(argv: list[str] | None = None) -> int:
    print(
        "vigil-report: the Excel reporter is not part of this release yet "
        "(see docs/roadmap in README.md).",
        file=sys.stderr,
    )
    return 2
