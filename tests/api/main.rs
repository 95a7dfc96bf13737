mod helpers;

mod hostile_files;

mod activities;
mod authorization;
mod bad_input;
mod database_restart;
mod inbox;
mod join_flow;
mod login_limits;
mod news;
mod openapi;
mod org;
mod races;
mod resume;
mod roster;
mod slow_reader;
mod transfer;
mod wechat;
mod wechat_fake;
