-- The hourly retention job (0002) also deletes the indicators of the hourly bars it deletes: an indicator
-- row never outlives its bar. (After bars are pruned, etl derive --full starts each symbol's warm-up at
-- its oldest kept hourly bar, so its values differ from those computed while the older bars were there.)
CREATE OR REPLACE PROCEDURE market_etl_prune_hourly_bars(job_id int, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    keep_days int := (config->>'retention_days')::int;
BEGIN
    IF keep_days IS NULL OR keep_days <= 0 THEN
        RETURN;
    END IF;
    DELETE FROM price_bars WHERE timeframe = '1h' AND ts < now() - make_interval(days => keep_days);
    DELETE FROM indicators WHERE timeframe = '1h' AND ts < now() - make_interval(days => keep_days);
END
$$;
