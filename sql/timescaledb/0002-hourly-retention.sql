-- Retention for hourly bars only. A TimescaleDB retention policy drops whole chunks, and a chunk of
-- price_bars holds every timeframe: a policy meant for hourly bars would delete years of daily
-- history. Instead a TimescaleDB job runs this procedure once a day with
-- config = {"retention_days": N} (timescaledb.retention_days; the loader adds, changes or removes
-- the job to match the config) and deletes hourly bars older than N days. Daily bars are never
-- deleted. Deleting from compressed chunks is supported; segmenting by (symbol, timeframe) lets
-- TimescaleDB remove whole compressed batches of hourly rows.
CREATE OR REPLACE PROCEDURE market_etl_prune_hourly_bars(job_id int, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    keep_days int := (config->>'retention_days')::int;
BEGIN
    IF keep_days IS NULL OR keep_days <= 0 THEN
        RETURN;
    END IF;
    DELETE FROM price_bars WHERE timeframe = '1h' AND ts < now() - make_interval(days => keep_days);
END
$$;
