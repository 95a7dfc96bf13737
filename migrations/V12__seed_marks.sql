-- Marks rows made by the load-test seeder, so a run's data can be found and removed.
ALTER TABLE users ADD COLUMN seed_run text;
ALTER TABLE unions ADD COLUMN seed_run text;
CREATE INDEX users_seed_run ON users (seed_run) WHERE seed_run IS NOT NULL;
