"""The command line of liaison: ``python build.py --help``.

Whichever Python starts it (``python``, ``python3``, an IDE's), the commands
run in the project's own environment, ``.venv/`` beside this file, with the
pinned packages: started by another interpreter, it runs itself again with
``.venv/bin/python``. Without ``.venv/`` it says, in Chinese, what to run.
"""

import contextlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"


def in_project_venv() -> bool:
    try:
        return Path(sys.prefix).resolve() == VENV.resolve()
    except OSError:
        return False


def reexec_in_venv() -> None:
    """Run this file again with ``.venv/bin/python``, once (a ``.venv/bin/python`` that is no venv must not loop)."""
    python = VENV / "bin" / "python"
    if in_project_venv():
        os.environ.pop("LIAISON_REEXEC", None)  # what this process starts may re-execute itself
        return
    if not python.is_file() or os.environ.get("LIAISON_REEXEC"):
        return
    os.environ["LIAISON_REEXEC"] = "1"
    # Not runnable (permissions, a broken link): go on, and say below what is missing.
    with contextlib.suppress(OSError):
        os.execv(python, [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    reexec_in_venv()

try:
    from liaison.cli import main
except ModuleNotFoundError as err:
    if (err.name or "").partition(".")[0] == "liaison":
        raise  # a module of liaison itself is missing: a bug, not a set-up step
    missing = f"{HERE} 中还没有 .venv/" if not VENV.exists() else f"{sys.executable} 找不到所需的软件包 {err.name}"
    sys.exit(
        f"错误：{missing}。请先在 {HERE} 中以 root 身份运行 make setup"
        "（安装或补装所需的软件，全新的 Debian 12 上约需几分钟），再运行本命令。"
    )

if __name__ == "__main__":
    main()
