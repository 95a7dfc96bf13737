//! The OpenAPI document served at `/api/v1/openapi.json`. Paths are collected from the
//! routes as they are registered (utoipa-actix-web), so a route cannot be left out.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts: title, version, the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "gonghui", description = "Real-time messaging and sync for trade-union platforms. The WebSocket protocol is in docs/PROTOCOL.md."),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Declares on every operation the errors any call of its shape can answer, so a client
/// generated from the document knows them all: 401 on every call that needs a token;
/// 404 on every path with an id in it; 400 (unreadable) and 422 (out of range) on every
/// call with query parameters; 400, 408 (too slow), 413 (too large) and 422 (invalid) on
/// every call with a body; 503 (database or dependency away, or the node busy) on every
/// call. What a call answers beyond these its own annotation declares.
pub fn declare_common_errors(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = |why: &str| {
        ResponseBuilder::new()
            .description(why)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorResponse")))
                    .build(),
            )
            .build()
    };
    for (path, item) in api.paths.paths.iter_mut() {
        let has_id = path.contains('{');
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let mut common = vec![(
                "503",
                "unavailable: the database, WeChat or the node is busy; retry later",
            )];
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                common.push(("401", "unauthenticated: no valid token"));
            }
            if has_id {
                common.push(("404", "not_found: no such resource"));
            }
            let has_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
            if has_query {
                common.extend([
                    (
                        "400",
                        "bad_request: a query value could not be read or is not one of its choices",
                    ),
                    ("422", "invalid: a query value is out of range"),
                ]);
            }
            if operation.request_body.is_some() {
                common.extend([
                    ("400", "bad_request: the body could not be read"),
                    ("408", "timeout: the body did not arrive in time"),
                    ("413", "too_large: the body is over its limit"),
                    ("422", "invalid: a field failed validation"),
                ]);
            }
            for (status, why) in common {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error(why).into());
            }
        }
    }
}

/// The spreadsheet media types an upload or a download may have.
const SHEETS: [&str; 2] = [
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];

/// Describes spreadsheet uploads and downloads as what they are, raw files (a string of
/// format `binary`) under both the CSV and the XLSX media types, where the annotations can
/// only name one media type and a byte array.
pub fn describe_files(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{Content, ContentBuilder, RefOr};
    let binary = || -> Content {
        ContentBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
            ))
            .build()
    };
    let files = || SHEETS.map(|media| (media.to_owned(), binary()));
    for item in api.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            if let Some(body) = operation.request_body.as_mut() {
                if body.content.contains_key(SHEETS[0]) {
                    body.content.extend(files());
                }
            }
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    if response.content.contains_key(SHEETS[0]) {
                        response.content.extend(files());
                    }
                }
            }
        }
    }
}

/// The document as served: closed sets as enums ([`enumerate_closed_sets`]) and unique
/// operation ids.
pub fn served(api: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(api).expect("the document is plain JSON");
    enumerate_closed_sets(&mut doc);
    name_operations(&mut doc);
    doc
}

/// Turns closed sets written as patterns, `^(a|b|c)$` (all a field annotation can say),
/// into an `enum`, which client generators turn into a union of literals; a nullable one
/// keeps null among its values. Both served documents go through it.
pub fn enumerate_closed_sets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let choices = map.get("pattern").and_then(|p| closed_set(p.as_str()?));
            if let Some(choices) = choices {
                let nullable = map
                    .get("type")
                    .and_then(|t| t.as_array())
                    .is_some_and(|types| types.iter().any(|t| t == "null"));
                let mut choices: Vec<serde_json::Value> =
                    choices.into_iter().map(serde_json::Value::from).collect();
                if nullable {
                    choices.push(serde_json::Value::Null);
                }
                map.remove("pattern");
                map.insert("enum".into(), choices.into());
            }
            map.values_mut().for_each(enumerate_closed_sets);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(enumerate_closed_sets),
        _ => {}
    }
}

/// Makes each operation's id unique, as generators need: a handler's name (`export`,
/// `approve`) is unique only within its area, so the id is `{tag}_{name}`.
fn name_operations(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths.values_mut().filter_map(|item| item.as_object_mut()) {
        for op in operation.values_mut() {
            let tag = op["tags"][0].as_str().unwrap_or("api").to_owned();
            if let Some(name) = op["operationId"].as_str().map(str::to_owned) {
                op["operationId"] = format!("{tag}_{name}").into();
            }
        }
    }
}

/// The words of a pattern that is nothing but a plain word or a choice of them.
fn closed_set(pattern: &str) -> Option<Vec<String>> {
    let inner = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let inner = inner
        .strip_prefix('(')
        .and_then(|i| i.strip_suffix(')'))
        .unwrap_or(inner);
    let words: Vec<String> = inner.split('|').map(str::to_owned).collect();
    let plain = |w: &String| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    words.iter().all(plain).then_some(words)
}

/// Serves the document.
pub async fn serve(doc: web::Data<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}
