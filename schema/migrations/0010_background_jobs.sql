-- Background jobs report and coordinate here (issue 12 items 5, 8, 9).
--
-- leases: one row per job that only one process may run at a time (the maintenance schedule,
-- the recall canary, drift). A process holds a lease until expires_at and renews it while it
-- works; `slot` is the scheduled time of the last run taken, so two processes ticking for the
-- same cron slot start it once.
CREATE TABLE leases (
  name       text        PRIMARY KEY,
  owner      text        NOT NULL,
  expires_at timestamptz NOT NULL,
  slot       timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- job_runs: the last runs of every background job (kept short: each job keeps its newest rows).
CREATE TABLE job_runs (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job         text        NOT NULL CHECK (length(job) BETWEEN 1 AND 64),
  trigger     text        NOT NULL CHECK (trigger IN ('schedule', 'threshold', 'demand', 'interval')),
  owner       text        NOT NULL,
  outcome     text        NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'skipped')),
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  duration_ms integer,
  error       text,
  details     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX job_runs_job ON job_runs (job, id DESC);

-- drift: per model version, the mean embedding of the reference window (reset on promotion)
CREATE TABLE drift_references (
  model_version text        PRIMARY KEY,
  reset_at      timestamptz NOT NULL DEFAULT now(),
  mean          bytea,
  vectors       integer     NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
