-- The orders a post or an offer reached (the Overview's top lists lead
-- there): found from their touches without reading every touch.
CREATE INDEX order_touches_post ON order_touches (post_id);
CREATE INDEX order_touches_offer ON order_touches (offer_id);
