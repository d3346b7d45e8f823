-- An upload whose bytes are already indexed (same sha256) points at that image instead of
-- adding a second, identical vector to the shards.
ALTER TABLE images ADD COLUMN duplicate_of bigint REFERENCES images (id) ON DELETE SET NULL;
CREATE INDEX images_status ON images (status) WHERE deleted_at IS NULL;
