"""The fonts the form's stylesheet names, where fontconfig finds them, and warnings when it does not."""

from __future__ import annotations

import ctypes.util
import re
import subprocess
from functools import cache
from pathlib import Path

from liaison.outputs.pdf.form import STYLESHEET

_FAMILY = re.compile(r'"([^"]+)"')


@cache
def stylesheet_families(templates_dir: Path) -> tuple[str, ...]:
    """Every quoted font family the form's stylesheet names, in order of first use."""
    css = (Path(templates_dir) / STYLESHEET).read_text(encoding="utf-8")
    families = []
    for declaration in re.findall(r"font-family:([^;]+);", css):
        families.extend(_FAMILY.findall(declaration))
    return tuple(dict.fromkeys(families))


@cache
def font_files(templates_dir: Path) -> tuple[tuple[str, str, str], ...]:
    """(family, font file, family fontconfig found) for each family the stylesheet names."""
    return tuple((family, *_fontconfig_match(family)) for family in stylesheet_families(templates_dir))


@cache
def _fontconfig_match(family: str) -> tuple[str, str]:
    """(font file, families) fontconfig picks for ``family``; once a process, as Pango reads fontconfig once."""
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{family}", family], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        found = ""
    path, _, names = found.partition("\t")
    return path, names


@cache
def _harfbuzz_subset_found() -> bool:
    return ctypes.util.find_library("harfbuzz-subset") is not None


def font_warnings(templates_dir: Path) -> list[str]:
    """Loud warnings (Chinese) about a font set-up that makes PDFs slow or wrong."""
    warnings = []
    if not _harfbuzz_subset_found():
        warnings.append(
            "警告：未安装 libharfbuzz-subset0。WeasyPrint 将改用 fontTools 裁剪字体，每页 PDF 要慢约 30 倍"
            "（实测约 5 秒对 0.15 秒）。请以 root 运行 scripts/setup.sh，或 apt-get install libharfbuzz-subset0。"
        )
    missing = [family for family, _, names in font_files(templates_dir) if family not in names.split(",")]
    if missing:
        warnings.append(
            f"警告：找不到字体 {'、'.join(missing)}，PDF 将用其他字体代替，版式会变，个别汉字可能缺失。"
            "请运行 scripts/setup.sh 安装 fonts-arphic-uming、fonts-wqy-microhei、fonts-hanazono。"
        )
    return warnings
