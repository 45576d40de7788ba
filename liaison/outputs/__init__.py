"""The writers: text, JSON and CSV, the record PDFs, the workbook, the export and its verification, the
audit log's files, the review page and the static site; each output whole or absent."""
