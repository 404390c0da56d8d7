"""The vote function again, leaner for a lone click: PostgreSQL's part of a vote was 0.55 ms
on the server against 0.15 ms for a bare durable INSERT (issue 15).

Revision ID: 0007
Revises: 0006

What changes, the rules unchanged (the same statuses, transitions and rows):

- One click: the poll's row is locked by the statement that reads it (``FOR UPDATE``),
  not first by a statement of its own; several clicks still lock every clicked poll
  first, in id order, so two batches never deadlock.
- One click: its tally_version is bumped when it voted, retracted or moved, with no
  bookkeeping of the member's votes before the batch (only several clicks by one member
  can cancel out, so only a batch needs it).
- A poll read for a click is kept for the next click of the same poll in the batch.

Measured in the same session on this machine, one connection, 1,000 lone clicks a run,
alternating: 0.66 ms -> 0.47 ms a click (medians of 10 runs).
"""

from __future__ import annotations

from bot.store.ddl import apply

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION poll_apply_clicks(
    click_polls BIGINT[], click_users BIGINT[], click_options INTEGER[], clicked_at TIMESTAMPTZ
) RETURNS TABLE (status TEXT, change TEXT, before INTEGER[], after INTEGER[])
LANGUAGE plpgsql AS $$
DECLARE
    clicks INTEGER := coalesce(array_length(click_polls, 1), 0);
    i INTEGER;
    poll RECORD;
    poll_found BOOLEAN := FALSE;
    read_poll BIGINT;
    held INTEGER[];
    chosen INTEGER;
    member TEXT;
    initial JSONB := '{}';
BEGIN
    IF clicks > 1 THEN
        PERFORM 1 FROM polls WHERE id = ANY (click_polls) ORDER BY id FOR UPDATE;
    END IF;
    FOR i IN 1 .. clicks LOOP
        chosen := click_options[i];
        change := NULL; before := NULL; after := NULL;
        IF read_poll IS DISTINCT FROM click_polls[i] THEN
            SELECT p.max_choices, p.closed_at, p.closes_at,
                   (SELECT count(*) FROM poll_options o WHERE o.poll_id = p.id) AS option_count
                INTO poll FROM polls p WHERE p.id = click_polls[i] AND p.message_id IS NOT NULL FOR UPDATE OF p;
            poll_found := FOUND;
            read_poll := click_polls[i];
        END IF;
        IF NOT poll_found THEN
            status := 'unknown_poll';
        ELSIF poll.closed_at IS NOT NULL OR (poll.closes_at IS NOT NULL AND poll.closes_at <= clicked_at) THEN
            status := 'closed';
        ELSIF chosen IS NULL OR chosen < 0 OR chosen >= poll.option_count THEN
            status := 'unknown_option';
        ELSE
            status := 'applied';
            held := ARRAY(SELECT v.option_index FROM poll_votes v
                          WHERE v.poll_id = click_polls[i] AND v.user_id = click_users[i] ORDER BY 1);
            before := held;
            IF clicks > 1 THEN
                member := click_polls[i] || ':' || click_users[i];
                IF NOT initial ? member THEN
                    initial := initial || jsonb_build_object(member, to_jsonb(held));
                END IF;
            END IF;
            IF chosen = ANY (held) THEN
                DELETE FROM poll_votes v
                    WHERE v.poll_id = click_polls[i] AND v.user_id = click_users[i] AND v.option_index = chosen;
                change := 'retracted';
                after := array_remove(held, chosen);
            ELSIF cardinality(held) < poll.max_choices THEN
                INSERT INTO poll_votes (poll_id, user_id, option_index, voted_at)
                    VALUES (click_polls[i], click_users[i], chosen, clicked_at);
                change := 'voted';
                after := ARRAY(SELECT x FROM unnest(held || chosen) AS x ORDER BY 1);
            ELSIF poll.max_choices = 1 THEN
                DELETE FROM poll_votes v WHERE v.poll_id = click_polls[i] AND v.user_id = click_users[i];
                INSERT INTO poll_votes (poll_id, user_id, option_index, voted_at)
                    VALUES (click_polls[i], click_users[i], chosen, clicked_at);
                change := 'moved';
                after := ARRAY[chosen];
            ELSE
                change := 'refused_limit';
                after := held;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF clicks = 1 THEN
        IF change IS DISTINCT FROM 'refused_limit' AND status = 'applied' THEN
            UPDATE polls SET tally_version = tally_version + 1 WHERE id = click_polls[1];
        END IF;
    ELSE
        UPDATE polls SET tally_version = tally_version + 1 WHERE id IN (
            SELECT split_part(m.key, ':', 1)::BIGINT FROM jsonb_each(initial) AS m
            WHERE m.value IS DISTINCT FROM to_jsonb(ARRAY(
                SELECT v.option_index FROM poll_votes v
                WHERE v.poll_id = split_part(m.key, ':', 1)::BIGINT AND v.user_id = split_part(m.key, ':', 2)::BIGINT
                ORDER BY 1)));
    END IF;
END
$$""",
]


def upgrade() -> None:
    apply(revision, POSTGRESQL)
