-- 003_feedback_window.sql - feedback that a swarm of fresh certificates cannot steer.
-- Within a window the mean latency stays within a bounded factor of where the window
-- started (window_latency), however many reports arrive, so the performance score
-- of a peer moves by a bounded amount per window.
ALTER TABLE feedback ADD COLUMN window_start timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN window_latency double precision;
UPDATE feedback SET window_latency = latency_ms;
ALTER TABLE feedback ALTER COLUMN window_latency SET NOT NULL;
