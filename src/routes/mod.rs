//! HTTP routes, one module per area. Each handler parses its input into domain types
//! and calls the store or the auth service; none touches an actor's state.

pub mod activities;
pub mod admins;
pub mod applications;
pub mod auth;
pub mod health;
pub mod inbox;
pub mod me;
pub mod members;
pub mod metrics;
pub mod news;
pub mod org;
pub mod tree;
pub mod unions;
pub mod wechat;
pub mod ws;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented `/api/v1` route; registration is what puts an operation
/// into the OpenAPI document, so the document cannot miss a route.
pub fn api(cfg: &mut ServiceConfig) {
    cfg.service(auth::send_sms_code)
        .service(auth::login)
        .service(auth::logout)
        .service(auth::logout_all)
        .service(me::me)
        .service(me::change_password)
        .service(me::verify)
        .service(me::my_applications)
        .service(me::my_prizes)
        .service(applications::create)
        .service(applications::list)
        .service(applications::approve)
        .service(applications::reject)
        .service(inbox::list)
        .service(inbox::mark_read)
        .service(inbox::announce)
        .service(members::roster)
        .service(members::import)
        .service(members::remove)
        .service(members::remove_file)
        .service(members::export)
        .service(members::retire)
        // Fixed segments before `/unions/{union_id}`, which would read them as an id.
        .service(unions::nearby)
        .service(org::register)
        .service(unions::search)
        .service(unions::one)
        .service(unions::children)
        .service(unions::ancestors)
        .service(unions::committee)
        .service(unions::audit)
        .service(tree::import)
        .service(tree::export)
        .service(org::modify)
        .service(org::term)
        .service(org::replace)
        .service(org::pending)
        .service(org::mine)
        .service(org::approve)
        .service(org::reject)
        .service(admins::list)
        .service(admins::set)
        .service(admins::remove)
        .service(activities::create)
        .service(activities::list)
        .service(activities::one)
        .service(activities::update)
        .service(activities::publish)
        .service(activities::close)
        .service(activities::answer)
        .service(activities::my_receipt)
        .service(activities::results)
        .service(activities::code)
        .service(activities::claim)
        .service(activities::prizes)
        .service(activities::ship)
        .service(activities::export)
        .service(news::create)
        .service(news::update)
        .service(news::import)
        .service(news::publish)
        .service(news::unpublish)
        .service(news::one)
        .service(news::feed)
        .service(wechat::bind)
        .service(wechat::show)
        .service(wechat::unbind)
        .service(wechat::poll)
        .service(wechat::login);
}
