"""scripts/pip_sources.py: uv, which reads no pip.conf, is told the sources pip would use here, or pip installs."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import PROJECT


def sources(tmp_path: Path, config: str, **variables: str) -> tuple[int, str, str, Path]:
    """(exit code, what it printed, its error output, the uv.toml it was asked to write) for a pip.conf of
    ``config`` and PIP_* ``variables``, none of this machine's own settings in the way."""
    (tmp_path / "pip.conf").write_text(config, encoding="utf-8")
    home = str(tmp_path)  # not this machine's pip.conf files
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {
        "HOME": home,
        "XDG_CONFIG_DIRS": home,
        "XDG_CONFIG_HOME": home,
        "PIP_CONFIG_FILE": str(tmp_path / "pip.conf"),
    }
    env |= variables
    written = tmp_path / "uv.toml"
    done = subprocess.run(
        [sys.executable, PROJECT / "scripts" / "pip_sources.py", written],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr, written


def test_pip_s_own_reading_of_its_settings_reaches_uv_and_no_password_reaches_the_screen(tmp_path):
    wheels, constraints = tmp_path / "wheels", tmp_path / "constraints.txt"
    wheels.mkdir()
    constraints.write_text("torch<=2.14.1\n", encoding="utf-8")
    status, printed, errors, written = sources(
        tmp_path,
        "[global]\n"
        "index-url = https://pypi.example.org/simple\n"
        "extra-index-url =\n"  # the usual way to give several: one a line
        f"    file://{tmp_path}/simple\n"
        "    https://office:s3cret@mirrors.example.edu.cn/pypi/simple\n"
        f"constraint = {constraints}\n"
        "cert = /etc/ssl/certs/ca-certificates.crt\n"
        "[install]\n"
        "index-url = https://mirrors.example.edu.cn/pypi/simple\n",  # pip install takes this one, not global's
        PIP_FIND_LINKS=f"{wheels} {tmp_path / 'gone'}",
    )
    assert status == 0, errors
    assert tomllib.loads(written.read_text(encoding="utf-8")) == {
        "pip": {
            "index-url": "https://mirrors.example.edu.cn/pypi/simple",
            "extra-index-url": [
                f"file://{tmp_path}/simple",
                "https://office:s3cret@mirrors.example.edu.cn/pypi/simple",
            ],
            "index-strategy": "unsafe-best-match",  # pip looks in every index for each package
            "find-links": [str(wheels)],  # the folder that is gone: not at all, as pip goes on without it
        }
    }
    assert written.stat().st_mode & 0o777 == 0o600  # an index address may hold a password
    assert printed.splitlines() == [f"UV_CONSTRAINT={constraints}", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"]
    assert "s3cret" not in printed + errors


@pytest.mark.parametrize(
    ("config", "variables"),
    [
        ("[global]\nno-index = true\nfind-links = /opt/vetted\n", {}),
        ("[install]\nonly-binary = :all:\n", {}),
        ("[global]\nrequire-hashes = true\n", {}),
        ("", {"PIP_PROXY": "http://proxy.example.edu.cn:3128"}),
        ("[global]\ntrusted-host = mirrors.example.edu.cn\n", {}),
    ],
    ids=[
        "no-index",
        "only-binary",
        "require-hashes",
        "proxy",
        "trusted-host",
    ],
)
def test_a_pip_set_up_uv_would_not_be_told_of_leaves_the_install_to_pip(tmp_path, config, variables):
    status, printed, errors, written = sources(tmp_path, config, **variables)
    assert status == 3 and printed == "" and not written.exists()
    assert "pip is set up with" in errors
