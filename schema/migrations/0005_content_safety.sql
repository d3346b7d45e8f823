-- Takedowns follow the content, not the row; the safety cache proves it is current.

-- A 64-bit perceptual hash (pHash, api/src/images/phash.ts) of every image whose content is
-- distinctive enough to hash; NULL for near-flat images, which only the exact sha256 matches.
ALTER TABLE images ADD COLUMN phash bigint;
-- the blob route asks which rows share a blob before it serves the bytes
CREATE INDEX images_storage_url ON images (storage_url) WHERE deleted_at IS NULL;

-- Blocked content: a flag writes the flagged image's sha256 and pHash here, and nothing is
-- removed when the image row goes. Uploads and index jobs are matched against it.
CREATE TABLE content_blocklist (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  phash         bigint,
  source_image  bigint,
  reason        text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  flagged_by    text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX content_blocklist_sha256 ON content_blocklist (sha256);

-- The safety epoch: bumped in the same transaction as every flag, unflag, content block,
-- rejection, failure and deletion (by the triggers below, so no code path can forget it).
-- A cache of the blocklist is trusted only for the epoch it was built at.
CREATE TABLE safety_epoch (
  id    boolean PRIMARY KEY DEFAULT true CHECK (id),
  epoch bigint  NOT NULL
);
INSERT INTO safety_epoch (id, epoch) VALUES (true, 1);

CREATE FUNCTION bump_safety_epoch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE safety_epoch SET epoch = epoch + 1; RETURN NULL; END $$;

CREATE TRIGGER safety_blocklist_epoch AFTER INSERT OR UPDATE OR DELETE ON safety_blocklist
  FOR EACH STATEMENT EXECUTE FUNCTION bump_safety_epoch();
CREATE TRIGGER content_blocklist_epoch AFTER INSERT OR UPDATE OR DELETE ON content_blocklist
  FOR EACH STATEMENT EXECUTE FUNCTION bump_safety_epoch();
CREATE TRIGGER images_takedown_epoch AFTER UPDATE OF status, deleted_at ON images
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('REJECTED', 'FAILED', 'DELETED'))
  EXECUTE FUNCTION bump_safety_epoch();

-- Repair: v1 marked an image FAILED when its shard was unreachable although its embedding
-- (the record) had committed. The record is the truth, and shards catch up from it.
UPDATE images i SET status = 'INDEXED', last_error = NULL, updated_at = now(),
       indexed_at = coalesce(i.indexed_at, now())
 WHERE i.status = 'FAILED' AND i.deleted_at IS NULL AND i.safety_score IS NOT NULL
   AND EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.deleted_at IS NULL);
