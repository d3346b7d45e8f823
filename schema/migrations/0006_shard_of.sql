-- Which shard owns an image id, in SQL, so that a shard rebuilding or refilling from the
-- embeddings table reads only its own rows. This is search-cluster/src/shard/partition.ts
-- (`shardOf`, over `hashHalves` in int64.ts) statement for statement: Murmur3's fmix32 mixes the
-- id's two 32-bit halves, then jump consistent hashing with a 32-bit xorshift picks the shard.
-- search-cluster/src/rebuild/postgres-vector-source.test.ts pins the two equal: change neither
-- alone. 32-bit words live in bigint in [0, 2^32); a 32x32-bit product would overflow bigint, so
-- imul multiplies by 16-bit halves. plpgsql, not a SQL function: it caches its plans, about
-- 10 us a call where a recursive SQL function re-plans at every row (milliseconds).
CREATE FUNCTION pixelfind_imul32(a bigint, b bigint) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN (((((a >> 16) * b) & 65535) << 16) + (a & 65535) * b) & 4294967295;

CREATE FUNCTION pixelfind_fmix32(h bigint) RETURNS bigint
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  h := h # (h >> 16);
  h := pixelfind_imul32(h, 2246822507);
  h := h # (h >> 13);
  h := pixelfind_imul32(h, 3266489909);
  RETURN h # (h >> 16);
END
$$;

CREATE FUNCTION pixelfind_shard_of(id bigint, shard_count integer) RETURNS integer
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  hash bigint := pixelfind_fmix32(
    (id & 4294967295) # pixelfind_fmix32(((id >> 32) & 4294967295) # 2654435769));
  state bigint := CASE WHEN hash = 0 THEN 2654435769 ELSE hash END;
  b bigint := -1;
  j bigint := 0;
BEGIN
  IF shard_count = 1 THEN
    RETURN 0;
  END IF;
  WHILE j < shard_count LOOP
    b := j;
    state := state # ((state << 13) & 4294967295);
    state := state # (state >> 17);
    state := state # ((state << 5) & 4294967295);
    -- r = ((state >>> 8) + 1) / 2^24 in (0, 1], divided as float64 exactly like the TypeScript
    j := floor((b + 1)::float8 / (((state >> 8) + 1)::float8 / 16777216.0))::bigint;
  END LOOP;
  RETURN b;
END
$$;
