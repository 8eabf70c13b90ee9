-- etl-validate's results (see sql/postgres/0006): a run, and one row per check with a bounded sample
-- (a JSON array text, at most 20 entries) of its failing rows.
CREATE TABLE IF NOT EXISTS quality_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER REFERENCES etl_runs (id) ON DELETE CASCADE,
    started_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    scope        TEXT    NOT NULL DEFAULT '',
    strict       INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    checks_run   INTEGER NOT NULL DEFAULT 0,
    checks_warn  INTEGER NOT NULL DEFAULT 0,
    checks_fail  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS quality_results (
    quality_run_id  INTEGER NOT NULL REFERENCES quality_runs (id) ON DELETE CASCADE,
    check_name      TEXT    NOT NULL,
    level           TEXT    NOT NULL CHECK (level IN ('warn', 'fail')),
    status          TEXT    NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'skipped')),
    failing         INTEGER NOT NULL DEFAULT 0 CHECK (failing >= 0),
    note            TEXT    NOT NULL DEFAULT '',
    samples         TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(samples) AND json_type(samples) = 'array'),
    PRIMARY KEY (quality_run_id, check_name)
) WITHOUT ROWID;
