"""Spreadsheets and exports built to exhaust memory: refused in seconds, within 500 MB, nothing written (issue 27.3).

The bombs are made here, not committed: a raw deflate segment ended by a full flush stands alone, so one
compressed 16 MB chunk repeated is a valid stream of gigabytes, written in a moment. Each command runs in a
child process under RLIMIT_AS = 500 MB and a timeout: the harness, not the code under test, enforces both.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
from conftest import GIT_ENV, PROJECT, commit_all, git

MEMORY = 500 * 1024 * 1024
CHUNK = 16 * 1024 * 1024
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _gf2_times(matrix: list[int], vector: int) -> int:
    """A 32 × 32 matrix over GF(2) (its columns) times a 32-bit vector."""
    total, column = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[column]
        vector, column = vector >> 1, column + 1
    return total


def _zeros_operator(length: int) -> list[int]:
    """What ``length`` zero bytes do to a CRC-32 (zlib's ``crc32_combine``): CRC(A + B) is this operator for
    len(B) applied to CRC(A), xor CRC(B)."""
    step = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit, as zlib's table is made
    for _ in range(3):
        step = [_gf2_times(step, column) for column in step]  # two, four, eight bits: one byte
    result = [1 << n for n in range(32)]
    while length:
        if length & 1:
            result = [_gf2_times(step, column) for column in result]
        step = [_gf2_times(step, column) for column in step]
        length >>= 1
    return result


def crc32_repeated(data: bytes, times: int, crc: int = 0) -> int:
    """``zlib.crc32(data * times, crc)`` without reading ``data`` ``times`` times (gigabytes for a bomb)."""
    if times == 0:
        return crc
    alone, shift = zlib.crc32(data), _zeros_operator(len(data))
    for _ in range(times):
        crc = _gf2_times(shift, crc) ^ alone
    return crc


class _Member:
    """One zip member as raw deflate segments, each standing alone (full flush), and its CRC and size."""

    def __init__(self, name: str):
        self.name, self.parts, self.crc, self.size = name, [], 0, 0

    def add(self, data: bytes, times: int = 1, level: int = 9) -> _Member:
        """``data`` × ``times``; ``level`` 1 packs a part that is not repeated (no smaller at 9) eight times faster."""
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.parts.append((packer.compress(data) + packer.flush(zlib.Z_FULL_FLUSH), times))
        self.crc = crc32_repeated(data, times, self.crc)
        self.size += len(data) * times
        return self

    def packed(self) -> bytes:
        end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # the final, empty block
        return b"".join(part * times for part, times in self.parts) + end


def write_zip(path: Path, members: list[_Member]) -> Path:
    """A zip file by hand (zipfile cannot take data compressed already); sizes stay below 4 GiB."""
    out, central = io.BytesIO(), io.BytesIO()
    for member in members:
        name, data, offset = member.name.encode(), member.packed(), out.tell()
        fields = (20, 0, 8, 0, 0x21, member.crc, len(data), member.size, len(name), 0)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset) + name)
    start, directory = out.tell(), central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), start, 0)
    path.write_bytes(out.getvalue() + directory + end)
    return path


def _sample_members() -> dict[str, bytes]:
    """A real workbook with a header row, as openpyxl writes it: the bombs replace one of its parts."""
    book = openpyxl.Workbook()
    book.active.append(["领导姓名", "联系时间", "联系地点", "人员规模", "联系对象", "学生联系人", "联系内容"])
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


SHARED = (
    '<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml" Id="rId9" /></Relationships>'
)
SHARED_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>'
)


def workbook_bomb(path: Path, part: str, head: bytes, body: bytes, times: int, tail: bytes) -> Path:
    """The sample workbook with ``part`` (replaced or added, and then named in the package) as head, body × times,
    tail."""
    sample = _sample_members()
    if part not in sample:  # a shared-strings part: the workbook's relationships and content types name it
        for name, entry in (("xl/_rels/workbook.xml.rels", SHARED), ("[Content_Types].xml", SHARED_TYPE)):
            closing = entry.rsplit("<", 1)[1]
            sample[name] = sample[name].decode().replace(f"<{closing}", entry).encode()
    members = [_Member(name).add(data) for name, data in sample.items() if name != part]
    members.append(_Member(part).add(head).add(body, times).add(tail))
    return write_zip(path, members)


SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData><row r="1">'.encode()
SHEET_TAIL = b"</row></sheetData></worksheet>"


def _cells(path: Path) -> Path:  # 63 KB: one row of 15 million empty cells
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", SHEET_HEAD, b"<c/>" * (1 << 20), 15, SHEET_TAIL)


def _long_string(path: Path) -> Path:  # 1.6 GB in one inline string
    head = SHEET_HEAD + b'<c r="A1" t="inlineStr"><is><t>'
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", head, b"a" * CHUNK, 100, b"</t></is></c>" + SHEET_TAIL)


def _blanks(path: Path) -> Path:  # 2 GB of blanks between two tags
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", SHEET_HEAD, b" " * CHUNK, 128, SHEET_TAIL)


def _string_within_size(path: Path) -> Path:  # 64 MB in one cell: within the unpacked size, past Excel's 32,767
    head = SHEET_HEAD + b'<c r="A1" t="inlineStr"><is><t>'
    return workbook_bomb(
        path, "xl/worksheets/sheet1.xml", head, "联".encode() * (1 << 20), 21, b"</t></is></c>" + SHEET_TAIL
    )


def _shared_strings(path: Path) -> Path:  # 5 million shared strings
    head = f'<?xml version="1.0" encoding="UTF-8"?><sst {NS}>'.encode()
    return workbook_bomb(path, "xl/sharedStrings.xml", head, b"<si><t>a</t></si>" * (1 << 20), 5, b"</sst>")


def _long_tag(path: Path) -> Path:  # an attribute 64 MB long: expat would hold it whole
    head = SHEET_HEAD + b'<c r="A'
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", head, b"1" * CHUNK, 4, b'"/>' + SHEET_TAIL)


def _csv_commas(path: Path) -> Path:  # 40 MB: one line of 40 million empty cells
    path.write_bytes("领导姓名,联系时间\n".encode() + b"," * (40 << 20))
    return path


def _renamed_sheet(path: Path) -> Path:  # 15 million cells in a worksheet part not named .xml
    sample = _sample_members()
    for name in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
        sample[name] = sample[name].replace(b"sheet1.xml", b"sheet1.bin")
    sheet = _Member("xl/worksheets/sheet1.bin").add(SHEET_HEAD).add(b"<c/>" * (1 << 20), 15).add(SHEET_TAIL)
    others = [_Member(name).add(data) for name, data in sample.items() if name != "xl/worksheets/sheet1.xml"]
    return write_zip(path, [*others, sheet])


def _styles(path: Path) -> Path:  # 15 million cell formats in styles.xml: openpyxl makes an object of each
    head = f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {NS}><cellXfs>'.encode()
    return workbook_bomb(path, "xl/styles.xml", head, b"<xf/>" * (1 << 20), 15, b"</cellXfs></styleSheet>")


def _merged_cells(path: Path) -> Path:  # 4 million merged ranges after the sheet's rows, each an object
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData/><mergeCells>'.encode()
    body = b'<mergeCell ref="A1:B2"/>' * (1 << 18)
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", head, body, 15, b"</mergeCells></worksheet>")


def _rich_text_runs(path: Path) -> Path:  # one cell of 2 million formatted runs, no text: held whole as a tree
    head = SHEET_HEAD + b'<c r="A1" t="inlineStr"><is>'
    body = b"<r><rPr><b/></rPr><t></t></r>" * (1 << 18)
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", head, body, 8, b"</is></c>" + SHEET_TAIL)


def _defined_names(path: Path) -> Path:  # 1.5 million defined names in workbook.xml, each an object
    sample = _sample_members()
    names = "".join(f'<definedName name="n{i}">Sheet!$A$1</definedName>' for i in range(1_500_000))
    sample["xl/workbook.xml"] = sample["xl/workbook.xml"].replace(
        b"<definedNames />", f"<definedNames>{names}</definedNames>".encode()
    )
    return write_zip(path, [_Member(name).add(data, level=1) for name, data in sample.items()])


def _rows_far_apart(path: Path) -> Path:  # 19,999 rows a thousand apart: 20 million empty rows made in between
    rows = b"".join(
        b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (n * 1000, n * 1000)
        for n in range(1, 20_000)
    )
    titles = ["领导姓名", "联系时间", "联系地点", "人员规模", "联系对象", "学生联系人", "联系内容"]
    header = "".join(f'<c r="{chr(65 + n)}1" t="inlineStr"><is><t>{t}</t></is></c>' for n, t in enumerate(titles))
    head = SHEET_HEAD + header.encode() + b"</row>"
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", head, rows, 1, b"</sheetData></worksheet>")


def _one_row_many_times(path: Path) -> Path:  # 8 million rows all numbered 1: read past, each kept as an element
    head = SHEET_HEAD.removesuffix(b'<row r="1">')
    return workbook_bomb(
        path, "xl/worksheets/sheet1.xml", head, b'<row r="1"/>' * (1 << 20), 8, b"</sheetData></worksheet>"
    )


BOMBS = {
    "one row of 15 million cells": (_cells, "每行单元格数"),
    "a 1.6 GB string": (_long_string, "MB 的上限"),
    "2 GB of blanks": (_blanks, "MB 的上限"),
    "a 64 MB cell": (_string_within_size, "每个单元格字数"),
    "5 million shared strings": (_shared_strings, "文字个数"),
    "a tag 64 MB long": (_long_tag, "单个标记"),
    "a CSV line of 40 million cells": (_csv_commas, "每行单元格数"),
    "a worksheet part not named .xml": (_renamed_sheet, "每行单元格数"),
    "15 million cell formats": (_styles, "工作表数据之外"),
    "4 million merged cells": (_merged_cells, "工作表数据之外"),
    "a cell of 2 million formatted runs": (_rich_text_runs, "每行元素数"),
    "1.5 million defined names": (_defined_names, "工作表数据之外"),
    "rows a thousand apart": (_rows_far_apart, "行，不像是一份联系记录表"),
    "8 million rows numbered 1": (_one_row_many_times, "工作表行数"),
}


@pytest.mark.parametrize(
    "data, times", [(b"", 3), (b"a", 0), (b"abc", 1), (b"\x00\xff" * 5, 7), (bytes(range(256)), 40)]
)
def test_the_crc_of_a_repeated_chunk_is_zlibs(data, times):
    """The bombs' CRCs are right (a zip reader would refuse a bomb for a wrong one, not for its size)."""
    assert crc32_repeated(data, times, 12345) == zlib.crc32(data * times, 12345)


def bounded(*args: str, cwd: Path) -> tuple[int, str, int]:
    """(exit code, output, peak memory in MB) of ``build.py args`` under RLIMIT_AS = 500 MB and a timeout."""
    wrapper = (
        "import resource, subprocess, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY}))\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=90)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
        "print(done.stdout + done.stderr)\n"
    )
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(PROJECT), "HOME": str(cwd)}
    done = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, str(PROJECT / "build.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]  # the child did not outlive its timeout
    first, _, output = done.stdout.partition("\n")
    code, peak = (int(word) for word in first.split())
    return code, output, peak


@pytest.mark.parametrize("case", list(BOMBS))
def test_a_spreadsheet_bomb_is_refused_in_seconds_within_500_mb_and_nothing_is_written(repo, tmp_path, case):
    make, limit = BOMBS[case]
    commit_all(repo)
    name = "炸弹.csv" if "CSV" in case else "炸弹.xlsx"
    bomb = make(tmp_path / name)
    assert bomb.stat().st_size < 50 * 1024 * 1024
    code, output, peak = bounded("--root", str(repo), "import", name, cwd=tmp_path)
    assert code == 1 and "Traceback" not in output and "MemoryError" not in output, output[-1500:]
    assert f"{name}（SHA-256" in output and limit in output and "没有写入任何内容" in output, output[-1500:]
    assert peak < 300, f"{peak} MB"
    assert git(repo, "branch", "--list", "import/*") == "" and git(repo, "status", "--porcelain") == ""


def test_an_administrator_raises_a_limit_with_an_environment_variable(repo, tmp_path, monkeypatch, run):
    from liaison.core.sheets import Limits

    assert Limits.from_environment().unpacked_bytes == 100 * 1024 * 1024
    monkeypatch.setenv("LIAISON_IMPORT_MAX_UNPACKED_MB", "400")
    monkeypatch.setenv("LIAISON_IMPORT_MAX_ROWS", "3")
    assert Limits.from_environment().unpacked_bytes == 400 * 1024 * 1024
    path = tmp_path / "a.csv"
    path.write_text("姓名,联系时间\n" + "赵某,2023-09-01\n" * 4, encoding="utf-8")
    result = run(repo, "import", str(path), "--dry-run")
    assert "超过 3 行" in result.output


def test_verify_refuses_a_zip_of_three_1_gb_members_at_once(repo, tmp_path):
    members = [_Member(f"导出/{n}.pdf").add(b"\0" * CHUNK, 64) for n in range(3)]
    bomb = write_zip(tmp_path / "导出.zip", members)
    assert bomb.stat().st_size < 5 * 1024 * 1024
    code, output, peak = bounded("--root", str(repo), "verify", str(bomb), cwd=tmp_path)
    assert code == 1 and "Traceback" not in output, output[-1500:]
    assert "无法读取导出：解压后有 3072 MB，超过 256 MB 的上限" in output
    assert peak < 300, f"{peak} MB"


def test_verify_reads_an_exports_workbook_within_the_import_limits(tmp_path):
    from liaison.outputs.verify import workbook_difference

    bomb = _cells(tmp_path / "联系情况汇总表.xlsx").read_bytes()
    found = workbook_difference(bomb, bomb + b"", "abc12345")
    assert len(found) == 1 and "无法安全读取" in found[0] and "每行单元格数" in found[0]


def test_an_honest_workbook_of_long_texts_is_read(repo, tmp_path, run):
    """The limits are far from what an office's sheet holds: 2,000 rows of 3,000-character texts."""
    book = openpyxl.Workbook()
    book.active.append(["领导姓名", "联系时间", "联系地点", "人员规模", "联系对象", "学生联系人", "联系内容"])
    for n in range(2000):
        book.active.append(["赵某", f"2023-09-{1 + n % 28:02d}", "图书馆", 30, f"班级{n}", "刘某", "座谈" * 1500])
    path = tmp_path / "长.xlsx"
    book.save(path)
    commit_all(repo)
    result = run(repo, "import", str(path), "--dry-run")
    assert "可新增 2000 条记录" in result.output, result.output[-500:]


def _far_row(path: Path) -> Path:  # a row numbered 1,048,576 under a dimension of the whole sheet: 30 KB
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><dimension ref="A1:XFD1048576"/><sheetData>'
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return workbook_bomb(path, "xl/worksheets/sheet1.xml", head.encode(), far.encode(), 1, b"</sheetData></worksheet>")


@pytest.mark.parametrize("given", ["a row numbered 1,048,576", "a styles part openpyxl cannot use"])
def test_verify_compares_a_workbook_only_as_far_as_the_rebuilt_one_reaches(tmp_path, given):
    """An export's workbook edited (and its manifest with it) to make verify compare 17 billion empty cells, or
    to make openpyxl fail in its own way: one difference, said at once."""
    if given.startswith("a row"):
        _far_row(tmp_path / "given.xlsx")
    else:
        sample = _sample_members()
        sample["xl/styles.xml"] = sample["xl/styles.xml"].replace(b'xfId="0" builtinId', b'xfId="7" builtinId')
        write_zip(tmp_path / "given.xlsx", [_Member(name).add(data) for name, data in sample.items()])
    book = openpyxl.Workbook()
    book.active.append(["领导姓名", "联系时间"])
    book.save(tmp_path / "expected.xlsx")
    script = (
        "import sys; from pathlib import Path; from liaison.outputs.verify import workbook_difference\n"
        "given, expected = (Path(sys.argv[n]).read_bytes() for n in (1, 2))\n"
        "print('\\n'.join(workbook_difference(given, expected, 'abc12345')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "given.xlsx"), str(tmp_path / "expected.xlsx")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert "汇总表 联系情况汇总表.xlsx" in done.stdout and "abc12345" in done.stdout


def test_a_workbook_openpyxl_fails_on_in_its_own_way_is_one_chinese_refusal(tmp_path):
    from liaison.core.sheets import SheetError, read_sheets

    sample = _sample_members()
    sample["xl/styles.xml"] = sample["xl/styles.xml"].replace(b'xfId="0" builtinId', b'xfId="7" builtinId')
    data = write_zip(tmp_path / "a.xlsx", [_Member(name).add(data) for name, data in sample.items()]).read_bytes()
    with pytest.raises(SheetError, match="无法作为 Excel 工作簿读取（IndexError）"):
        read_sheets("a.xlsx", data)


def _many_members(path: Path, count: int) -> Path:
    """A zip whose central directory lists ``count`` empty members, all the one local entry: 47 bytes each."""
    name = b"a"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
    entry = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + name
    directory = entry * count
    # The end record's member count says 1: zipfile reads the whole directory whatever the count says.
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(local), 0)
    path.write_bytes(local + directory + end)
    return path


@pytest.mark.parametrize("command", ["verify", "import"])
def test_a_zip_listing_millions_of_members_is_refused_before_they_are_made(repo, tmp_path, command):
    commit_all(repo)
    count = 2_000_000 if command == "verify" else 1_000_000  # import takes files of 50 MB at most
    bomb = _many_members(tmp_path / ("导出.zip" if command == "verify" else "炸弹.xlsx"), count)
    code, output, peak = bounded("--root", str(repo), command, bomb.name, cwd=tmp_path)
    assert code == 1 and "Traceback" not in output and "MemoryError" not in output, output[-1500:]
    assert "目录有" in output and "的上限" in output, output[-1500:]
    assert peak < 300, f"{peak} MB"


def _zip_of(path: Path, members: dict[str, bytes | str], flag: int = 0, method: int | None = None) -> Path:
    """A zip of ``members``, each header then given the general-purpose ``flag`` and compression ``method``."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bytearray(path.read_bytes())
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start >= 0:
            struct.pack_into("<H", data, start + at, flag or struct.unpack_from("<H", data, start + at)[0])
            if method is not None:
                struct.pack_into("<H", data, start + at + 2, method)
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))
    return path


def _manifest(**changes) -> str:
    import json

    from liaison.outputs.export import FORMAT

    manifest = {"format": FORMAT, "commit": None, "range": {"title": "t"}, "records": [], "files": [], **changes}
    return json.dumps(manifest)


HOSTILE_EXPORTS = {
    "an encrypted member": ({"e/manifest.json": _manifest(), "e/a.pdf": b"x"}, 1, None),
    "an unknown compression method": ({"e/manifest.json": _manifest(), "e/a.pdf": b"x"}, 0, 9),
    "a manifest that is a list": ({"e/manifest.json": "[]"}, 0, None),
    "files that are numbers": ({"e/manifest.json": _manifest(files=[1, "x"])}, 0, None),
    "a record without its id": ({"e/manifest.json": _manifest(records=[{"sha256": "0"}])}, 0, None),
    "a commit that is a number": ({"e/manifest.json": _manifest(commit=12)}, 0, None),
    "a range of no real date": ({"e/manifest.json": _manifest(range={"title": "t", "start": "2024-02-30"})}, 0, None),
    "a manifest nested 100,000 deep": ({"e/manifest.json": "[" * 100_000 + "]" * 100_000}, 0, None),
}


@pytest.mark.parametrize("case", list(HOSTILE_EXPORTS))
def test_verify_says_in_chinese_why_a_hostile_export_cannot_be_read(repo, run, tmp_path, case):
    members, flag, method = HOSTILE_EXPORTS[case]
    bomb = _zip_of(tmp_path / "导出.zip", members, flag, method)
    result = run(repo, "verify", str(bomb))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert "无法读取导出：" in result.output
