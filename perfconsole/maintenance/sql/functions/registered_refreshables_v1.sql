-- The refreshables the console's apps register in code (listed in
-- maintenance_registered_refreshable after every migrate), each with the
-- state its own SQL function reports: populated, size_bytes, row_estimate,
-- owner. The function is named, not referenced, so this app's objects never
-- depend on another app's tables; a function not created yet (its app not
-- migrated) leaves the state unknown.
--
-- Registered by the console's own code, so owned, and refreshed by their own
-- statements (no unique index needed).
CREATE OR REPLACE FUNCTION maintenance_registered_refreshables()
RETURNS TABLE (
    name text,
    schema_name name,
    view_name name,
    populated boolean,
    size_bytes bigint,
    row_estimate bigint,
    has_unique_index boolean,
    kind text,
    owner name,
    owned boolean
)
LANGUAGE plpgsql
-- A handful at most, not the 1000 rows the planner assumes of a function.
ROWS 5
STABLE
AS $$
DECLARE
    entry record;
    state_function regprocedure;
BEGIN
    FOR entry IN
        SELECT r.name, r.kind, r.state_function
        FROM maintenance_registered_refreshable r
        ORDER BY r.name
    LOOP
        name := entry.name;
        schema_name := current_schema();
        view_name := entry.name;
        has_unique_index := false;
        kind := entry.kind;
        owned := true;
        populated := NULL;
        size_bytes := NULL;
        row_estimate := NULL;
        owner := NULL;
        state_function := to_regprocedure(NULLIF(entry.state_function, ''));
        IF state_function IS NOT NULL THEN
            EXECUTE format(
                'SELECT s.populated, s.size_bytes, s.row_estimate, s.owner'
                ' FROM %s AS s',
                state_function
            ) INTO populated, size_bytes, row_estimate, owner;
        END IF;
        populated := COALESCE(populated, false);
        owner := COALESCE(owner, '');
        RETURN NEXT;
    END LOOP;
END
$$;
