#!/usr/bin/env bash
# The pipeline's check job: every record, with what this pipeline changed listed first.
# In a merge request that is the MR's changes; on a push, the commits pushed. Changes
# to closed semesters are judged only in those commits, so an old, audited override
# never blocks later pipelines.
set -euo pipefail
since="${CI_MERGE_REQUEST_DIFF_BASE_SHA:-${CI_COMMIT_BEFORE_SHA:-}}"
if [ "$since" = 0000000000000000000000000000000000000000 ] || ! git cat-file -e "${since}^{commit}" 2>/dev/null; then
    since=""
fi
exec python build.py check ${since:+--changed-since "$since"} --format junit --output check-report.xml
