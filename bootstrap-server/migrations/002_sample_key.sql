-- 002_sample_key.sql - a random sample of online peers without sorting the table.
-- Register answers with a random sample of other bootstrap peers; ORDER BY random()
-- over every row cost a full scan per registration (800 ms at 100k rows). Each row
-- now carries a random key: a sample is an index range from a random point.
ALTER TABLE registrations ADD COLUMN sample_key double precision NOT NULL DEFAULT random();
CREATE INDEX registrations_sample_key ON registrations (sample_key) WHERE is_broadcasting;
