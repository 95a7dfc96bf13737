//! What the harness lends to other tests: the seeder, which makes users by the
//! thousand straight in the database (the API tests use it for their large rosters).

pub mod seed;
