-- Model lifecycle (issue 11): one row per model version with its state, re-index progress,
-- evaluation numbers and traffic slice; the curated golden queries the gate scores.
--
-- States: BUILDING (shadow re-index running), READY (built and evaluated), ACTIVE (serves),
-- PREVIOUS (the last ACTIVE, kept warm for rollback), RETIRED, FAILED. The old lower-case states
-- map to them: building -> BUILDING, shadow -> READY, active -> ACTIVE, retired -> RETIRED.
ALTER TABLE index_versions DROP CONSTRAINT index_versions_state_check;
DROP INDEX index_versions_one_active;
UPDATE index_versions SET state = CASE state
  WHEN 'building' THEN 'BUILDING' WHEN 'shadow' THEN 'READY' WHEN 'active' THEN 'ACTIVE' ELSE 'RETIRED' END;
ALTER TABLE index_versions
  ADD CONSTRAINT index_versions_state_check
    CHECK (state IN ('BUILDING', 'READY', 'ACTIVE', 'PREVIOUS', 'RETIRED', 'FAILED')),
  -- re-index: images re-embedded so far, of the live images counted when it started (or last swept)
  ADD COLUMN progress_done    bigint      NOT NULL DEFAULT 0 CHECK (progress_done >= 0),
  ADD COLUMN progress_total   bigint      NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
  -- resumable walk: every live image with id <= cursor has its embedding under this version
  ADD COLUMN reindex_cursor   bigint      NOT NULL DEFAULT 0,
  -- one runner at a time; a crashed runner's lease expires and another resumes from the cursor
  ADD COLUMN lease_owner      text,
  ADD COLUMN lease_expires_at timestamptz,
  ADD COLUMN traffic_fraction real        NOT NULL DEFAULT 0 CHECK (traffic_fraction BETWEEN 0 AND 1),
  -- the gate's numbers (null: not measured); golden_recall (0001) is recall@10 over golden queries
  ADD COLUMN ndcg_at_10       real,
  ADD COLUMN ann_recall_text  real,
  ADD COLUMN ann_recall_image real,
  ADD COLUMN golden_queries   integer,
  -- cosine similarity under which a hit is noise, calibrated on the golden set at evaluation
  ADD COLUMN similarity_floor real,
  -- the whole evaluation as measured (per-query numbers, settings, verdict), for whoever asks why
  ADD COLUMN evaluation       jsonb,
  ADD COLUMN evaluated_at     timestamptz,
  ADD COLUMN started_at       timestamptz,
  ADD COLUMN ready_at         timestamptz,
  ADD COLUMN demoted_at       timestamptz,
  ADD COLUMN retired_at       timestamptz,
  ADD COLUMN failed_at        timestamptz,
  ADD COLUMN last_error       text,
  ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();
ALTER TABLE index_versions RENAME COLUMN golden_recall TO golden_recall_at_10;

-- at most one ACTIVE and one PREVIOUS, whatever the application does
CREATE UNIQUE INDEX index_versions_one_active ON index_versions ((true)) WHERE state = 'ACTIVE';
CREATE UNIQUE INDEX index_versions_one_previous ON index_versions ((true)) WHERE state = 'PREVIOUS';
-- traffic goes only to a READY version
ALTER TABLE index_versions ADD CONSTRAINT index_versions_traffic_ready
  CHECK (traffic_fraction = 0 OR state = 'READY');

-- and at least one: a transaction that leaves versions but none ACTIVE fails at commit
CREATE FUNCTION pixelfind_one_active_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM index_versions)
     AND NOT EXISTS (SELECT 1 FROM index_versions WHERE state = 'ACTIVE') THEN
    RAISE EXCEPTION 'index_versions must keep exactly one ACTIVE version' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER index_versions_exactly_one_active
  AFTER INSERT OR UPDATE OR DELETE ON index_versions
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION pixelfind_one_active_version();

-- curated golden queries: a text or a library image, and the images relevant to it
CREATE TABLE golden_queries (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  query_text   text        CHECK (length(query_text) BETWEEN 1 AND 1000),
  image_id     bigint      REFERENCES images (id) ON DELETE CASCADE,
  relevant_ids bigint[]    NOT NULL CHECK (cardinality(relevant_ids) BETWEEN 1 AND 1000),
  created_by   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((query_text IS NULL) <> (image_id IS NULL))
);

-- the relevance report groups the query log by hour and by the versions that served
CREATE INDEX search_queries_versions ON search_queries (created_at, model_version, ranker_version);
