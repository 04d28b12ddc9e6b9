-- The load scenario's other write: a member joins a study as a viewer unless
-- already on it; marked as load-test data and deleted by id at the end.
INSERT INTO study_collaborators (id, study_id, user_id, role, permissions, added_at, added_by)
VALUES (gen_random_uuid(), %(study_id)s, %(user_id)s, 'viewer',
        jsonb_build_object('loadtest', %(tag)s::text), now(), NULL)
ON CONFLICT (study_id, user_id) DO NOTHING
RETURNING id
