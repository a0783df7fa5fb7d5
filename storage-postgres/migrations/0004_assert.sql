-- hearth Postgres schema, version 4: a guard usable inside one statement. Raising aborts the whole
-- statement (and so every data-modifying CTE in it): the single-statement ledger commit uses it to
-- refuse a change set when a balance delta found its account frozen or closed.
CREATE FUNCTION hearth_assert(ok BOOLEAN, guard TEXT) RETURNS INTEGER LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION 'guard % failed', guard USING ERRCODE = 'check_violation', CONSTRAINT = guard;
    END IF;
    RETURN 1;
END;
$$;
