-- Trained DQN policies (POLICY_TRAINED), by id: what AgentService.RecommendAction and TACTICAL
-- rebalancing load after a restart. A policy never changes once trained.
CREATE TABLE policies (
    policy_id text PRIMARY KEY,
    event_id text NOT NULL,
    trained_at timestamptz NOT NULL,
    body bytea NOT NULL
);
