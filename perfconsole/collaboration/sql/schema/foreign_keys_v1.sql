-- Foreign keys with their ON DELETE rules, owned by the database (the models
-- declare db_constraint=False). Deleting an organization or a study removes
-- what belongs to it; deleting a user removes their memberships and
-- collaborations and keeps history (activity, invitations) with a NULL user.
ALTER TABLE organization_members
    ADD CONSTRAINT organization_members_organization_id_fkey
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE organization_members
    ADD CONSTRAINT organization_members_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE organization_members
    ADD CONSTRAINT organization_members_invited_by_fkey
    FOREIGN KEY (invited_by) REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE studies
    ADD CONSTRAINT studies_organization_id_fkey
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE studies
    ADD CONSTRAINT studies_created_by_fkey
    FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE study_collaborators
    ADD CONSTRAINT study_collaborators_study_id_fkey
    FOREIGN KEY (study_id) REFERENCES studies (id) ON DELETE CASCADE;
ALTER TABLE study_collaborators
    ADD CONSTRAINT study_collaborators_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE study_collaborators
    ADD CONSTRAINT study_collaborators_added_by_fkey
    FOREIGN KEY (added_by) REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE collaboration_activity
    ADD CONSTRAINT collaboration_activity_study_id_fkey
    FOREIGN KEY (study_id) REFERENCES studies (id) ON DELETE CASCADE;
ALTER TABLE collaboration_activity
    ADD CONSTRAINT collaboration_activity_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
