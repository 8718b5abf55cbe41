-- Tier filters walk this index in name order.
CREATE INDEX services_by_tier ON services(tier, name);
