-- Shards replay the embeddings table after a restart: every change (insert, replace, delete)
-- takes a new seq, and a deleted vector stays as a tombstone row so `since(watermark)` sees it.
ALTER TABLE embeddings ADD COLUMN deleted_at timestamptz;
CREATE INDEX embeddings_live ON embeddings (model_version, image_id) WHERE deleted_at IS NULL;
