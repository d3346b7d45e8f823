-- Pixelfind schema v1. Postgres is the system of record; shards and caches are derived.

CREATE TABLE images (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- where the original bytes live: a blob key, resolved to a URL by the blob store
  storage_url   text        NOT NULL,
  mime_type     text        NOT NULL,
  byte_size     integer     NOT NULL CHECK (byte_size > 0),
  width         integer     NOT NULL CHECK (width > 0),
  height        integer     NOT NULL CHECK (height > 0),
  uploader_id   text        NOT NULL CHECK (length(uploader_id) BETWEEN 1 AND 128),
  status        text        NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'INDEXED', 'REJECTED', 'FAILED', 'DELETED')),
  sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  safety_score  real        CHECK (safety_score BETWEEN 0 AND 1),
  safety_detail jsonb,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  indexed_at    timestamptz,
  deleted_at    timestamptz
);
-- the same bytes from the same uploader are one image
CREATE UNIQUE INDEX images_uploader_sha256 ON images (uploader_id, sha256) WHERE deleted_at IS NULL;
CREATE INDEX images_sha256 ON images (sha256);
CREATE INDEX images_created_at ON images (created_at);

-- vectors of record, never searched here: shards are rebuilt from them
CREATE TABLE embeddings (
  image_id      bigint      NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  model_version text        NOT NULL,
  dim           integer     NOT NULL CHECK (dim > 0),
  vector        bytea       NOT NULL CHECK (length(vector) = dim * 4),
  seq           bigint      GENERATED ALWAYS AS IDENTITY,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (image_id, model_version)
);
-- hot-tier refill after a restart reads embeddings newer than a snapshot's watermark
CREATE INDEX embeddings_model_seq ON embeddings (model_version, seq);

CREATE TABLE tags (
  image_id      bigint      NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  label         text        NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
  confidence    real        NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  source        text        NOT NULL CHECK (source IN ('user', 'clip-zero-shot', 'moderator')),
  model_version text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (image_id, source, label)
);
CREATE INDEX tags_label ON tags (label, image_id);

CREATE TABLE search_queries (
  id             uuid        PRIMARY KEY,
  query_text     text,
  image_ref      text,
  fusion         text,
  text_weight    real,
  filters        jsonb       NOT NULL DEFAULT '{}',
  result_ids     bigint[]    NOT NULL,
  model_version  text        NOT NULL,
  ranker_version text        NOT NULL,
  latency_ms     real        NOT NULL,
  partial        boolean     NOT NULL DEFAULT false,
  api_key_id     bigint,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX search_queries_created_at ON search_queries (created_at);

CREATE TABLE clicks (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  query_id   uuid        NOT NULL REFERENCES search_queries (id) ON DELETE CASCADE,
  image_id   bigint      NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  position   integer     NOT NULL CHECK (position >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clicks_image ON clicks (image_id);

CREATE TABLE saves (
  image_id   bigint      NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  user_id    text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (image_id, user_id)
);

-- aggregated engagement, written only by the aggregation job
CREATE TABLE image_stats (
  image_id    bigint      PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
  impressions bigint      NOT NULL DEFAULT 0,
  clicks      bigint      NOT NULL DEFAULT 0,
  saves       bigint      NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- how far each aggregation has read, moved in the same transaction as the counts
CREATE TABLE aggregation_watermarks (
  name       text        PRIMARY KEY,
  position   text        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE index_jobs (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  image_id         bigint      NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  model_version    text,
  kind             text        NOT NULL DEFAULT 'index' CHECK (kind IN ('index', 'reindex', 'delete')),
  state            text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
  attempts         integer     NOT NULL DEFAULT 0,
  last_error       text,
  run_after        timestamptz NOT NULL DEFAULT now(),
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX index_jobs_ready ON index_jobs (run_after) WHERE state IN ('queued', 'running');
CREATE UNIQUE INDEX index_jobs_one_open ON index_jobs (image_id, kind, coalesce(model_version, ''))
  WHERE state IN ('queued', 'running');

-- one row per model version's index set: blue-green state lives here
CREATE TABLE index_versions (
  model_version text        PRIMARY KEY,
  dim           integer     NOT NULL CHECK (dim > 0),
  state         text        NOT NULL CHECK (state IN ('building', 'shadow', 'active', 'retired')),
  golden_recall real,
  created_at    timestamptz NOT NULL DEFAULT now(),
  promoted_at   timestamptz
);
CREATE UNIQUE INDEX index_versions_one_active ON index_versions (state) WHERE state = 'active';

CREATE TABLE safety_blocklist (
  image_id   bigint      PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
  reason     text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  flagged_by text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- sha256 of the key; the key itself is shown once, at creation
  key_hash   text        NOT NULL UNIQUE,
  prefix     text        NOT NULL,
  role       text        NOT NULL CHECK (role IN ('user', 'partner', 'moderator', 'admin')),
  owner_id   text        NOT NULL,
  label      text,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
