-- 001_init.sql - registrations, their repositories, pins, whitelist, feedback.
-- Registration state lives only here, so any number of replicas can share it.

CREATE TABLE registrations (
    email              text PRIMARY KEY,
    peer_id            uuid NOT NULL,
    fingerprint        text NOT NULL,
    public_certificate text NOT NULL,
    is_broadcasting    boolean NOT NULL,
    -- The privacy rule, enforced by the database itself: a silent peer has no address here.
    socket_addresses   text[] NOT NULL DEFAULT '{}'
        CHECK (is_broadcasting OR cardinality(socket_addresses) = 0),
    port               integer CHECK (port BETWEEN 1 AND 65535),
    repositories       jsonb NOT NULL DEFAULT '[]',
    capabilities       jsonb,
    registered_at      timestamptz NOT NULL DEFAULT now(),
    last_heartbeat     timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    -- availability_score: heartbeats received since window_start against those expected;
    -- the window restarts (halving the count) once it is older than 24 h.
    heartbeats         bigint NOT NULL DEFAULT 1,
    window_start       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registrations_expires_at ON registrations (expires_at);

-- One row per hosted repository: discover is an index lookup by name.
CREATE TABLE registration_repositories (
    name  text NOT NULL,
    email text NOT NULL REFERENCES registrations (email) ON DELETE CASCADE,
    PRIMARY KEY (name, email)
);
CREATE INDEX registration_repositories_email ON registration_repositories (email);

-- Pinning mode: the first registration of an email pins its certificate.
CREATE TABLE pins (
    email       text PRIMARY KEY,
    fingerprint text NOT NULL,
    pinned_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE whitelist (
    fingerprint text PRIMARY KEY,
    note        text,
    added_at    timestamptz NOT NULL DEFAULT now()
);

-- Community feedback: an exponentially weighted mean of reported latencies per peer.
CREATE TABLE feedback (
    email       text PRIMARY KEY,
    latency_ms  double precision NOT NULL,
    samples     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
