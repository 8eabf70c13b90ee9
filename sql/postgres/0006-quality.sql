-- etl-validate's results (issue 9): one quality_runs row per validation run (which is also an etl_runs
-- row: run_id), one quality_results row per check it ran. A result keeps how many rows or sessions
-- failed and a bounded sample of them (at most 20, a JSON array of {symbol, timeframe, ts, detail}),
-- never every failing row. Both go with their run (ON DELETE CASCADE).
CREATE TABLE IF NOT EXISTS quality_runs (
    id           bigserial   PRIMARY KEY,
    run_id       bigint      REFERENCES etl_runs (id) ON DELETE CASCADE,
    started_at   timestamptz NOT NULL DEFAULT now(),
    scope        text        NOT NULL DEFAULT '',
    strict       boolean     NOT NULL DEFAULT false,
    status       text        NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    checks_run   integer     NOT NULL DEFAULT 0,
    checks_warn  integer     NOT NULL DEFAULT 0,
    checks_fail  integer     NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS quality_runs_started_idx ON quality_runs (started_at DESC);

CREATE TABLE IF NOT EXISTS quality_results (
    quality_run_id  bigint  NOT NULL REFERENCES quality_runs (id) ON DELETE CASCADE,
    check_name      text    NOT NULL,
    level           text    NOT NULL CHECK (level IN ('warn', 'fail')),
    status          text    NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'skipped')),
    failing         bigint  NOT NULL DEFAULT 0 CHECK (failing >= 0),
    note            text    NOT NULL DEFAULT '',
    samples         jsonb   NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(samples) = 'array'),
    PRIMARY KEY (quality_run_id, check_name)
);
