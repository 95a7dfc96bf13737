//! What the harness lends to other tests: the seeder, which makes users by the
//! thousand straight in the database (the API tests use it for their large rosters), and
//! a throwaway Postgres server to restart (the database-restart test, the chaos scenario).

pub mod postgres;
pub mod seed;
