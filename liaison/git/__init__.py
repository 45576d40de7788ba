"""Git, the database: the one way to run git, the history of every record, closed semesters, the audit's
rows, the check cache, and check's verdict that every command builds from."""
