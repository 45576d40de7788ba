"""The history of every record, read from Git in a fixed handful of passes: who added, changed, moved or removed it.

The clock that counts is the **mainline**, the first-parent chain of ``ref``:
a change happened when it entered the mainline, whatever its author or
committer dates say. ``read_history`` works in three steps, so an index can
feed the middle one a range of commits:

1. :func:`read_mainline`: the mainline in order, and for every commit the
   mainline commit that brought it in (itself, or the merge whose second
   parent reaches it) and that merge's GitLab merge request, if it names one
   (``See merge request group/project!123``);
2. :func:`read_commits`: per commit, the raw changes to ``records/`` and to
   ``allowed_signers`` (merges included: a path that differs from every
   parent was changed in the merge itself, git's combined diff);
3. :func:`assemble`: the changes in mainline order, moves paired by the
   record's identity (工号 and the 6-hex suffix, never git's similarity),
   field by field with the schema's Chinese labels, each with its commit's
   SSH signature checked against the ``allowed_signers`` the mainline had
   just before the change entered it.
"""
