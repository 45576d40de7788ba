"""The core: data in, data out — the record, its schema, roster, config, semesters, dates, problems, the
rules of check and the queries; no git, no network, no output files."""
