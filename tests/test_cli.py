"""The command line's contract: every DESIGN.md subcommand listed, version, exit codes."""

import subprocess
import sys

import pytest

from gliopet import __version__

DESIGN_COMMANDS = ["demo", "inspect", "suv", "measure", "analyze", "stats", "report",
                   "serve", "qc", "deid", "simulate", "export"]


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


@pytest.mark.parametrize("command", ["serve"])
def test_unbuilt_command_says_so_and_exits_2(command, tmp_path):
    out_dir = tmp_path / "out"
    argv = {"serve": ["serve", "--db", "sqlite://"], "deid": ["deid", str(tmp_path), str(out_dir)],
            "export": ["export", "SR", "--db", "sqlite://", "--out", str(out_dir)]}[command]
    out = run(*argv)
    assert out.returncode == 2
    assert "not built yet" in out.stderr
    assert out.stdout == ""
    assert not out_dir.exists()  # nothing written
    # the command list says so too, so nobody takes it for a working command
    listing = run("--help").stdout
    assert any(line.split()[:1] == [command] and "not built yet" in line for line in listing.splitlines())


@pytest.mark.parametrize("command", ["deid", "export"])
def test_built_commands_no_longer_say_not_built(command):
    listing = run("--help").stdout
    (line,) = [line for line in listing.splitlines() if line.split()[:1] == [command]]
    assert "not built yet" not in line
    assert run(command, "--help").returncode == 0
