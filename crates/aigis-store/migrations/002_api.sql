-- Version 2: what `aigis serve` needs. API tokens (stored as the SHA-256 of the token, never the
-- token), and indexes for the inventory pages (models by verdict, a model's files and places).

CREATE TABLE api_tokens (
    id {ID},
    name TEXT NOT NULL UNIQUE,
    token_sha256 TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,             -- comma-separated: read, ingest, admin
    created_at BIGINT NOT NULL,
    last_used BIGINT,
    revoked_at BIGINT
);

CREATE INDEX models_verdict ON models (verdict, id);
CREATE INDEX model_locations_model ON model_locations (model_id, current);
CREATE INDEX events_location ON events (location_id);
