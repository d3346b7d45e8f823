-- Engagement aggregation reads each new search_queries, clicks and saves row exactly once.
--
-- A watermark on an identity column (or created_at) is not enough: ids are handed out when a
-- row is inserted, but rows become visible when their transaction commits, in another order.
-- An aggregation that reads up to id 100 while id 99 is still uncommitted moves past 99 and
-- never counts it. So every row records the id of the transaction that wrote it (xid8, 64 bits,
-- never wraps), and a run reads only transactions older than its snapshot's xmin: all of those
-- have finished, so nothing can appear later below the watermark.
ALTER TABLE search_queries ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX search_queries_tx_id ON search_queries (tx_id);
ALTER TABLE clicks ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX clicks_tx_id ON clicks (tx_id);
ALTER TABLE saves ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX saves_tx_id ON saves (tx_id);
-- pruning old search_queries cascades to their clicks
CREATE INDEX clicks_query ON clicks (query_id);
