"""The command line's contract: every DESIGN.md subcommand listed, version, exit codes."""

import subprocess
import sys

import pytest

from gliopet import __version__

DESIGN_COMMANDS = ["demo", "inspect", "suv", "measure", "analyze", "stats", "report",
                   "serve", "readers", "reading", "qc", "deid", "simulate", "export", "compare"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_help_lists_every_design_subcommand():
    out = run("--help")
    assert out.returncode == 0
    listed = [line.split()[0] for line in out.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == DESIGN_COMMANDS


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"gliopet, version {__version__}"


@pytest.mark.parametrize("command", ["serve", "deid", "export"])
def test_built_commands_no_longer_say_not_built(command):
    listing = run("--help").stdout
    (line,) = [line for line in listing.splitlines() if line.split()[:1] == [command]]
    assert "not built yet" not in line
    assert run(command, "--help").returncode == 0
