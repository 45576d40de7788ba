"""CSV files open in Excel on Windows: every CSV written to a file starts with the UTF-8 BOM."""

from __future__ import annotations

import csv
import io

from conftest import commit_all, record_data, write_record

BOM = b"\xef\xbb\xbf"


def test_query_csv_file_starts_with_the_bom_and_reads_back(repo, run, tmp_path):
    write_record(repo, record_data(place="图书馆101", remarks="=1+1"))
    out = tmp_path / "查询.csv"
    outcome = run(repo, "query", "--format", "csv", "--out", str(out))
    assert outcome.exit_code == 0, outcome.output
    data = out.read_bytes()
    assert data.startswith(BOM) and not data.startswith(BOM * 2)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "记录编号" and "图书馆101" in rows[1] and "'=1+1" in rows[1]


def test_query_csv_on_stdout_has_no_bom_and_help_says_so(repo, run):
    write_record(repo, record_data())
    outcome = run(repo, "query", "--format", "csv")
    assert outcome.exit_code == 0 and outcome.stdout.startswith("记录编号")
    helped = run(repo, "query", "--help").output
    assert "BOM" in helped and "标准输出" in helped


def test_query_json_and_table_files_are_plain_utf8(repo, run, tmp_path):
    write_record(repo, record_data())
    for fmt in ("json", "table"):
        out = tmp_path / f"查询.{fmt}"
        assert run(repo, "query", "--format", fmt, "--out", str(out)).exit_code == 0
        assert not out.read_bytes().startswith(BOM) and "赵某" in out.read_text(encoding="utf-8")


def test_audit_csv_file_starts_with_the_bom(repo, run, tmp_path):
    write_record(repo, record_data())
    commit_all(repo)
    out = tmp_path / "审计.csv"
    outcome = run(repo, "audit", "--format", "csv", "--out", str(out))
    assert outcome.exit_code == 0, outcome.output
    assert out.read_bytes().startswith(BOM)
