-- Clicks cannot be forged into ranking (issue 10 item 9).
--
-- Each search row records who ran it (caller_ref: `key:<api key id>`, `addr:<hmac of the client
-- address>` or `anonymous`), and a click counts only from that caller. A click counts once per
-- (query, image): earlier duplicates are dropped before the unique index is built.
ALTER TABLE search_queries ADD COLUMN caller_ref text;
DELETE FROM clicks a USING clicks b WHERE a.query_id = b.query_id AND a.image_id = b.image_id AND a.id > b.id;
CREATE UNIQUE INDEX clicks_query_image ON clicks (query_id, image_id);
