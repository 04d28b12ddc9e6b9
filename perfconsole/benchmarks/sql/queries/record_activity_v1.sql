-- The load scenario's write: one activity row, marked as load-test data and
-- deleted by id when the scenario ends.
INSERT INTO collaboration_activity (id, study_id, user_id, created_at, activity_type, details)
VALUES (gen_random_uuid(), %(study_id)s, %(user_id)s, now(), %(activity_type)s,
        jsonb_build_object('loadtest', %(tag)s::text))
RETURNING id
