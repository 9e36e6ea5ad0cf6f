"""python -m dashboards.definition [--check]: write the dashboards, or check they are up to date."""

from __future__ import annotations

import argparse
import sys

from dashboards.definition.render import ROOT, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.definition", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file differs"
    )
    args = parser.parse_args(argv)
    files, _ = render()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    for path in stale:
        shown = path.relative_to(ROOT.parent)
        if args.check:
            print(f"{shown} differs from its definition: run `make dashboards`", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path])
            print(f"wrote {shown}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
