"""Fireside's runtime for ``ruby3.x`` functions.

The runtime itself is ``bootstrap.rb`` (Ruby's standard library only), run on a host Ruby of the
runtime's version. This module finds that Ruby and builds the runtime's command line and
environment. The gem paths follow the runtime id's version (`vendor/bundle/ruby/3.2.0` for
`ruby3.2`), which is where packaging tools put a function's gems, even when an override runs it
on another Ruby.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fireside.runtimes import interpreters

if TYPE_CHECKING:
    from fireside.sandbox.base import Layout

PACKAGE_DIR: Path = Path(__file__).resolve().parent
#: What sandboxes copy to /var/runtime/ruby/.
RUNTIME_FILES: tuple[Path, ...] = tuple(sorted(PACKAGE_DIR.glob("*.rb")))
BOOTSTRAP = "bootstrap.rb"
VERSION_PATTERN = r"^ruby (\d+)\.(\d+)\.(\d+)"


def override_variable(version: tuple[int, int]) -> str:
    return f"FIRESIDE_RUBY_{version[0]}_{version[1]}"


def find(version: tuple[int, int]) -> interpreters.Search:
    dotted = f"{version[0]}.{version[1]}"
    names = [f"ruby{dotted}", "ruby"]
    return interpreters.find(override_variable(version), names, VERSION_PATTERN, version)


def argv(ruby: str, files: str) -> list[str]:
    """The command line of a ruby runtime; `files` holds `ruby/bootstrap.rb`."""
    return [ruby, f"{files}/ruby/{BOOTSTRAP}"]


def environment(version: tuple[int, int], layout: Layout, sdk: str) -> dict[str, str]:
    """Variables the runtime gets unless the function sets them itself (Lambda's values);
    `sdk` holds the AWS SDK for Ruby's `gems/` and `specifications/` (the runtime dir, as on
    Lambda, where sandboxes show it)."""
    opt, runtime, task = layout.opt_root, layout.runtime_dir, layout.task_root
    abi = f"{version[0]}.{version[1]}.0"
    return {
        "GEM_PATH": f"{task}/vendor/bundle/ruby/{abi}:{opt}/ruby/gems/{abi}:{sdk}",
        "RUBYLIB": f"{task}:{runtime}/lib:{opt}/ruby/lib",
    }
