-- Rivulet's own schema history, kept apart from MLflow's alembic_version so that each tool
-- versions only its own objects: `mlflow db upgrade` never sees these rows, and Rivulet never
-- writes an alembic revision it did not reach by creating MLflow's schema itself.
-- applied_at is milliseconds since the Unix epoch, like MLflow's own timestamps.
-- The same text serves SQLite and PostgreSQL.
CREATE TABLE IF NOT EXISTS rivulet_schema_migrations (
    version     BIGINT       NOT NULL,
    description VARCHAR(250) NOT NULL,
    applied_at  BIGINT       NOT NULL,
    CONSTRAINT rivulet_schema_migrations_pk PRIMARY KEY (version)
);
