-- What get_organization_analytics (v4) reads instead of scanning an
-- organization's members: both kept exact by the triggers in
-- triggers/organization_member_counts_triggers_v1.sql.

-- Per organization, its number of rows in organization_members (no row:
-- none).
CREATE TABLE organization_member_counts (
    organization_id uuid PRIMARY KEY,
    members bigint NOT NULL
);

-- Per organization and hour (UTC), how many of its members have their
-- organization_member_last_activity in that hour: the members active since
-- a whole hour are the sum of the hours from it on. Hours of no member have
-- no row. The count is in the key's index, so the sum reads it index-only.
CREATE TABLE organization_member_activity_hourly (
    organization_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    members integer NOT NULL,
    PRIMARY KEY (organization_id, hour) INCLUDE (members)
);
