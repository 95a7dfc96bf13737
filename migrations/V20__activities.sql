-- Member activities (会员活动): votes, questionnaires, signups, lotteries and quizzes of a
-- union, optionally open to the members of every union below it. `config` holds the
-- kind's options, questions, capacity or prizes, checked by the server when saved.
CREATE TABLE activities (
    id                   bigserial PRIMARY KEY,
    union_id             bigint      NOT NULL REFERENCES unions (id),
    include_subordinates boolean     NOT NULL DEFAULT false,
    kind                 text        NOT NULL CHECK (kind IN ('vote', 'questionnaire', 'signup', 'lottery', 'quiz')),
    title                text        NOT NULL,
    description          text        NOT NULL DEFAULT '',
    config               jsonb       NOT NULL,
    starts_at            timestamptz NOT NULL,
    ends_at              timestamptz NOT NULL,
    results_visibility   text        NOT NULL CHECK (results_visibility IN ('public', 'after_close', 'admins')),
    status               text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'closed')),
    -- A signup's seats taken: the one counter a burst of answers contends on.
    seats_taken          integer     NOT NULL DEFAULT 0,
    -- How many answers the last results event counted, and when it went out: results
    -- are published at most a few times a second, whatever the rate of answers.
    results_count        bigint      NOT NULL DEFAULT 0,
    results_at           timestamptz NOT NULL DEFAULT '-infinity',
    created_by           bigint      NOT NULL REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX activities_union ON activities (union_id, id);

-- One answer per member and activity; a lottery draw or a quiz prize is recorded with it.
CREATE TABLE activity_answers (
    activity_id bigint      NOT NULL REFERENCES activities (id),
    user_id     bigint      NOT NULL REFERENCES users (id),
    answer      jsonb       NOT NULL,
    score       integer,
    passed      boolean,
    prize_id    text,
    draw        jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (activity_id, user_id)
);

-- Prizes and what is left of them; a conditional decrement gives each out at most
-- `quantity` times.
CREATE TABLE activity_prizes (
    activity_id bigint  NOT NULL REFERENCES activities (id),
    prize_id    text    NOT NULL,
    name        text    NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    remaining   integer NOT NULL CHECK (remaining >= 0),
    PRIMARY KEY (activity_id, prize_id)
);

-- Where a winner wants the prize sent (兑奖), and whether it was.
CREATE TABLE prize_claims (
    activity_id bigint      NOT NULL,
    user_id     bigint      NOT NULL,
    recipient   text        NOT NULL,
    phone       text        NOT NULL,
    address     text        NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    shipped_at  timestamptz,
    tracking    text,
    PRIMARY KEY (activity_id, user_id),
    FOREIGN KEY (activity_id, user_id) REFERENCES activity_answers (activity_id, user_id)
);
