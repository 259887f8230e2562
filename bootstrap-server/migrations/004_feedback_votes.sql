-- 004_feedback_votes.sql - feedback that many certificates behind few addresses cannot steer.
-- One vote per reporting address (IPv4 address, IPv6 /48) per peer: its latest report. A
-- report moves the peer's mean towards the median of the live votes, so addresses in the
-- minority cannot move it at all, however many certificates they hold.
CREATE TABLE feedback_votes (
    email      text NOT NULL REFERENCES registrations (email) ON DELETE CASCADE,
    voter      text NOT NULL,
    latency_ms double precision NOT NULL,
    voted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (email, voter)
);
