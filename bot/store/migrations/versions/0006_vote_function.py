"""The vote path in one statement: PostgreSQL applies a batch of clicks in a function.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from bot.store.ddl import apply

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The click rule of ``cogs.polls.rules.decide_vote``, applied click by click in order: a
#: chosen option is retracted; a free slot takes the vote; with one choice allowed the vote
#: moves; with several allowed and none free it is refused. One row per click, in order.
#: The clicked polls are locked first (in id order, so two batches never deadlock), so
#: what each click sees is every vote committed before it; a poll is closed once its
#: deadline has passed even before the scheduler has closed it. Every poll where some
#: member's votes differ after the batch from before it gets its tally_version bumped once. A single statement outside a transaction block
#: is its own transaction: committed when the call returns.
POSTGRESQL = [
    """CREATE FUNCTION poll_apply_clicks(
    click_polls BIGINT[], click_users BIGINT[], click_options INTEGER[], clicked_at TIMESTAMPTZ
) RETURNS TABLE (status TEXT, change TEXT, before INTEGER[], after INTEGER[])
LANGUAGE plpgsql AS $$
DECLARE
    i INTEGER;
    poll RECORD;
    held INTEGER[];
    chosen INTEGER;
    member TEXT;
    -- 'poll:user' -> the member's votes before the batch: only a net change bumps the tally.
    initial JSONB := '{}';
BEGIN
    PERFORM 1 FROM polls WHERE id = ANY (click_polls) ORDER BY id FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(click_polls, 1), 0) LOOP
        chosen := click_options[i];
        change := NULL; before := NULL; after := NULL;
        SELECT p.max_choices, p.closed_at, p.closes_at,
               (SELECT count(*) FROM poll_options o WHERE o.poll_id = p.id) AS option_count
            INTO poll FROM polls p WHERE p.id = click_polls[i] AND p.message_id IS NOT NULL;
        IF NOT FOUND THEN
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
            member := click_polls[i] || ':' || click_users[i];
            IF NOT initial ? member THEN
                initial := initial || jsonb_build_object(member, to_jsonb(held));
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
    UPDATE polls SET tally_version = tally_version + 1 WHERE id IN (
        SELECT split_part(m.key, ':', 1)::BIGINT FROM jsonb_each(initial) AS m
        WHERE m.value IS DISTINCT FROM to_jsonb(ARRAY(
            SELECT v.option_index FROM poll_votes v
            WHERE v.poll_id = split_part(m.key, ':', 1)::BIGINT AND v.user_id = split_part(m.key, ':', 2)::BIGINT
            ORDER BY 1)));
END
$$""",
]


def upgrade() -> None:
    apply(revision, POSTGRESQL)
