-- A rollup of collaboration_activity that get_organization_analytics (v3)
-- reads instead of scanning a large organization's activity row by row.
--
-- It covers the activity created before one instant, covered_until, and is
-- brought up to date by refresh_organization_activity_rollup(): activity at
-- or after covered_until is read from collaboration_activity itself, so
-- appended activity counts at once. Changes the rollup cannot see (rows deleted or
-- updated, rows inserted with a created_at in the past, studies moving
-- between organizations) mark the organization in
-- organization_activity_rollup_dirty, and its analytics are then computed
-- from the raw rows until the next rebuild rebuilds that organization.

-- One row: the instant the rollup covers up to, and its last rebuild.
CREATE TABLE organization_activity_rollup_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    covered_until timestamptz,
    refreshed_at timestamptz,
    refresh_ms integer
);
INSERT INTO organization_activity_rollup_state (id) VALUES (true);

-- Per organization and hour (UTC), the activity created before
-- covered_until: counts per type, and the review requests resolved by a
-- completion also created before covered_until (see v3's comment). An hour's
-- counts fit an integer; their sums are bigint.
CREATE TABLE organization_activity_hourly (
    organization_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    total integer NOT NULL,
    study_created integer NOT NULL,
    status_changed integer NOT NULL,
    collaborator_added integer NOT NULL,
    file_uploaded integer NOT NULL,
    comment_added integer NOT NULL,
    comment_resolved integer NOT NULL,
    review_requested integer NOT NULL,
    review_completed integer NOT NULL,
    reviews_resolved integer NOT NULL,
    resolution_seconds numeric,
    PRIMARY KEY (organization_id, hour)
);

-- Per organization and user, the user's latest activity on the
-- organization's studies created before covered_until.
CREATE TABLE organization_member_last_activity (
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    last_activity_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_member_last_activity_recent
    ON organization_member_last_activity (organization_id, last_activity_at)
    INCLUDE (user_id);

-- Organizations whose rollup rows may be wrong (NULL: every organization),
-- since marked_at. The next rebuild settles them.
CREATE TABLE organization_activity_rollup_dirty (
    organization_id uuid,
    marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organization_activity_rollup_dirty_org
    ON organization_activity_rollup_dirty (organization_id)
