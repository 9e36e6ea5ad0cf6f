"""Everything is declared in pyproject.toml; this only adds the rule files to the wheel.

`vigil demo` runs Prometheus with the project's alert rules and Alertmanager with its routing. In a
checkout they are read where they live (alerting/, prometheus.yml: the one copy, also mounted by
docker-compose.yml); a wheel carries a copy of them as `exporter/assets/` with the same layout, made
here at build time, so a non-editable install (the image, `pip install vigil`) runs the demo with its
alerts. exporter/demo.py looks in both places.
"""

from __future__ import annotations

import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

# (pattern relative to the project, at least this many files); paths keep their layout under assets/
ASSETS = (("prometheus.yml", 1), ("alerting/*.rules.yml", 1), ("alerting/alertmanager.yml", 1))
HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        target = os.path.join(self.build_lib, "exporter", "assets")
        for pattern, at_least in ASSETS:
            found = sorted(glob.glob(os.path.join(HERE, pattern)))
            if len(found) < at_least:
                # a wheel without its rules would run the demo without alerts: refuse to build it
                raise SystemExit(f"setup.py: {pattern} is missing (is MANIFEST.in complete?)")
            for path in found:
                dest = os.path.join(target, os.path.relpath(path, HERE))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(path, dest)


setup(cmdclass={"build_py": BuildPyWithAssets})
