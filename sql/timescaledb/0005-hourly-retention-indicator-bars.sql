-- The hourly retention job deletes the indicators of the hourly bars it deletes (0004) from
-- indicator_bars, which replaced the indicators table (sql/postgres/0010; `indicators` is now its view).
CREATE OR REPLACE PROCEDURE market_etl_prune_hourly_bars(job_id int, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    keep_days int := (config->>'retention_days')::int;
BEGIN
    IF keep_days IS NULL OR keep_days <= 0 THEN
        RETURN;
    END IF;
    DELETE FROM price_bars WHERE timeframe = '1h' AND ts < now() - make_interval(days => keep_days);
    DELETE FROM indicator_bars WHERE timeframe = '1h' AND ts < now() - make_interval(days => keep_days);
END
$$;
