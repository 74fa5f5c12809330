"""axe-core (from the npm registry) in Chromium over every page: no serious or critical
violations. The axe script is installed into _build/axe the first time."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import SITE, toc_entries
from .test_browser import open_page, wait_for_charts

AXE_VERSION = "4.10.3"


@pytest.fixture(scope="session")
def axe_script():
    target = SITE.parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
    if not target.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm not found: the accessibility test installs axe-core with npm")
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund",
                        "--prefix", str(SITE.parent / "axe"), f"axe-core@{AXE_VERSION}"],
                       check=True)
    return target


@pytest.mark.parametrize("entry", toc_entries())
def test_no_serious_or_critical_accessibility_violations(browser, server, entry, axe_script):
    page, _ = open_page(browser, server, entry)
    try:
        wait_for_charts(page)
        page.add_script_tag(path=str(axe_script))
        violations = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact))"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
        assert violations == [], f"{entry}: {violations}"
    finally:
        page.close()
