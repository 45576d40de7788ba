"""scripts/pip_sources.py: uv, which reads no pip.conf, is told the sources pip is configured with on this machine."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from conftest import PROJECT

spec = importlib.util.spec_from_file_location("pip_sources", PROJECT / "scripts" / "pip_sources.py")
pip_sources = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pip_sources)


def test_pip_s_config_file_and_variables_become_uv_options(tmp_path):
    wheels, constraints = tmp_path / "wheels", tmp_path / "constraints.txt"
    wheels.mkdir()
    constraints.write_text("torch<=2.14.1\n", encoding="utf-8")
    config = tmp_path / "pip.conf"
    config.write_text(
        "[global]\n"
        f"extra-index-url = file://{tmp_path}/simple https://mirrors.example.edu.cn/pypi/simple\n"
        f"find-links = {wheels}\n"
        f"constraint = {constraints}\n",
        encoding="utf-8",
    )
    (tmp_path / "simple").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    home = str(tmp_path)  # not this machine's pip.conf files
    env |= {"HOME": home, "XDG_CONFIG_DIRS": home, "XDG_CONFIG_HOME": home}
    env |= {"PIP_CONFIG_FILE": str(config), "PIP_FIND_LINKS": f"{wheels} {tmp_path / 'gone'}"}
    done = subprocess.run(
        [sys.executable, PROJECT / "scripts" / "pip_sources.py"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.split("\n")
    options = [tuple(printed[i : i + 2]) for i in range(0, len(printed) - 1, 2)]
    # pip lists its settings in an order of its own (it changed between pip releases); the order among one option's
    # values (the indexes) is kept.
    assert printed[-1] == "" and sorted(options, key=lambda pair: pair[0]) == [
        ("--constraint", str(constraints)),
        ("--extra-index-url", f"file://{tmp_path}/simple"),
        ("--extra-index-url", "https://mirrors.example.edu.cn/pypi/simple"),
        # named twice (file and variable): once; the folder that is gone: not at all, as pip goes on
        ("--find-links", str(wheels)),
        ("--index-strategy", "unsafe-best-match"),  # pip looks in every index for each package
    ]


def test_without_an_extra_index_uv_keeps_its_own_strategy():
    assert pip_sources.uv_options([("index-url", "https://mirrors.example.edu.cn/pypi/simple")]) == [
        "--index-url",
        "https://mirrors.example.edu.cn/pypi/simple",
    ]
    assert pip_sources.uv_options([("find-links", "/nowhere/at/all")]) == []
