"""Debian's chromium for Playwright: found on the machine, never downloaded."""

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps dialling out on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_or_skip() -> str:
    """Chromium's path; without it the test skips loudly, or fails under CI=true."""
    chromium = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if chromium is None:
        reason = f"Debian's chromium is not installed at {CHROMIUM} (make browser installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        print("\n" + "!" * 78 + f"\n!! SKIPPING A BROWSER TEST: {reason}\n" + "!" * 78)
        pytest.skip(reason)
    return chromium
