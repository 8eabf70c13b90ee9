-- The refresh policies of the rollups (0003) materialise in one pass. Since TimescaleDB 2.19 a policy
-- refreshes in batches of buckets, newest first, each committed on its own: the newest batch moves the
-- aggregate's watermark to the end, real-time aggregation then covers only what lies past it, and until
-- the last batch commits a read of price_bars_1wk/1mo lacks the oldest weeks or months that are not
-- materialised yet (a test saw the first 20 weeks of a 5Y load missing). buckets_per_batch = 0 makes each
-- refresh a single atomic pass; the rollups are one row per symbol and week or month, so a pass is small.
-- Only where the server's TimescaleDB knows the setting (add_continuous_aggregate_policy takes it).
-- alter_job needs the job's owner: a role that does not own a policy (the schema was set up by another
-- role) leaves it refreshing in batches, with a warning, rather than failing every run from now on.
DO $$
DECLARE
    job record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_proc p
                   WHERE p.proname = 'add_continuous_aggregate_policy'
                     AND 'buckets_per_batch' = ANY (p.proargnames)) THEN
        RETURN;
    END IF;
    FOR job IN
        SELECT j.job_id, j.config, c.view_name
        FROM timescaledb_information.jobs j
        JOIN timescaledb_information.continuous_aggregates c
          -- The jobs view names a policy's aggregate by its view (2.28) or by its materialisation hypertable.
          ON (j.hypertable_schema, j.hypertable_name) IN ((c.view_schema, c.view_name),
                                                          (c.materialization_hypertable_schema,
                                                           c.materialization_hypertable_name))
        WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
          AND c.view_name IN ('price_bars_1wk', 'price_bars_1mo')
    LOOP
        BEGIN
            PERFORM alter_job(job.job_id, config => job.config || jsonb_build_object('buckets_per_batch', 0));
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'the refresh policy of % (job %) still refreshes in batches, and a read during a refresh '
                          'can lack the oldest buckets: %; as the job''s owner run SELECT alter_job(%, config => '
                          'config || ''{"buckets_per_batch": 0}'') FROM timescaledb_information.jobs WHERE job_id = %',
                          job.view_name, job.job_id, SQLERRM, job.job_id, job.job_id;
        END;
    END LOOP;
END
$$;
