//! Every kind of event the server emits: which topics carry it and what its `data` holds.
//! The server checks each event it appends against this list (in debug builds, so every
//! test that makes one checks it), and the WebSocket's AsyncAPI document is built from it.

/// One kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind {
    /// The `kind` of the event frame.
    pub kind: &'static str,
    /// The topic kinds that carry it: `member`, `union`, `union_admin`, `activity`.
    pub topics: &'static [&'static str],
    /// What its `data` holds.
    pub data: Data,
}

/// The shape of an event's `data`: its fields, each a JSON type (`integer`, `string`,
/// `date-time`, `integer[]`, `string[]`) or a contract type by its schema name
/// (`Application`); a name ending in `?` may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data(pub &'static [(&'static str, &'static str)]);

const fn kind(
    kind: &'static str,
    topics: &'static [&'static str],
    data: &'static [(&'static str, &'static str)],
) -> EventKind {
    EventKind {
        kind,
        topics,
        data: Data(data),
    }
}

const MEMBER: &[&str] = &["member"];
const UNION: &[&str] = &["union"];
const ADMIN: &[&str] = &["union_admin"];
const MEMBER_AND_ADMIN: &[&str] = &["member", "union_admin"];

/// The catalogue.
pub const EVENT_KINDS: &[EventKind] = &[
    kind(
        "application.created",
        MEMBER_AND_ADMIN,
        &[("application", "Application")],
    ),
    kind(
        "application.approved",
        MEMBER_AND_ADMIN,
        &[("application", "Application")],
    ),
    kind(
        "application.rejected",
        MEMBER_AND_ADMIN,
        &[("application", "Application")],
    ),
    kind(
        "membership.created",
        MEMBER,
        &[("membership", "Membership")],
    ),
    kind(
        "membership.updated",
        MEMBER,
        &[("membership", "Membership")],
    ),
    kind("membership.ended", MEMBER, &[("membership", "Membership")]),
    kind(
        "notification.created",
        &["member", "union"],
        &[("notification", "Notification"), ("unread?", "integer")],
    ),
    kind(
        "notification.read",
        MEMBER,
        &[("ids", "integer[]"), ("unread", "integer")],
    ),
    kind("user.updated", MEMBER, &[("user", "User")]),
    kind(
        "admin.updated",
        MEMBER,
        &[("union_id", "integer"), ("permissions", "string[]")],
    ),
    kind(
        "admin.removed",
        MEMBER,
        &[("union_id", "integer"), ("permissions", "string[]")],
    ),
    kind(
        "org_request.created",
        MEMBER_AND_ADMIN,
        &[("request", "OrgRequest")],
    ),
    kind(
        "org_request.approved",
        MEMBER_AND_ADMIN,
        &[("request", "OrgRequest")],
    ),
    kind(
        "org_request.rejected",
        MEMBER_AND_ADMIN,
        &[("request", "OrgRequest")],
    ),
    kind("activity.answered", MEMBER, &[("receipt", "Receipt")]),
    kind("prize.shipped", MEMBER, &[("prize", "MyPrize")]),
    kind("union.created", UNION, &[("union", "Union")]),
    kind("union.updated", UNION, &[("union", "Union")]),
    kind("committee.updated", UNION, &[("term", "CommitteeTerm")]),
    kind("member.joined", UNION, &[("membership", "Membership")]),
    kind("member.left", UNION, &[("membership", "Membership")]),
    kind("member.retired", UNION, &[("membership", "Membership")]),
    kind(
        "members.imported",
        UNION,
        &[
            ("operation_id", "string"),
            ("count", "integer"),
            ("member_count", "integer"),
        ],
    ),
    kind(
        "members.removed",
        UNION,
        &[
            ("operation_id", "string"),
            ("count", "integer"),
            ("member_count", "integer"),
        ],
    ),
    kind("news.published", UNION, &[("news", "NewsSummary")]),
    kind("news.unpublished", UNION, &[("news_id", "integer")]),
    kind(
        "activity.published",
        &["union", "activity"],
        &[("activity", "Activity")],
    ),
    kind(
        "activity.closed",
        &["union", "activity"],
        &[("activity", "Activity")],
    ),
    kind(
        "activity.results",
        &["activity", "union_admin"],
        &[("results", "Results")],
    ),
    kind(
        "import.progress",
        ADMIN,
        &[
            ("operation_id", "string"),
            ("processed", "integer"),
            ("total", "integer"),
        ],
    ),
    kind(
        "wechat.poll_failed",
        ADMIN,
        &[("reason", "string"), ("retry_at", "date-time")],
    ),
    kind("wechat.binding_broken", ADMIN, &[("reason", "string")]),
];

/// Whether the catalogue lists `kind`.
pub fn is_event_kind(kind: &str) -> bool {
    EVENT_KINDS.iter().any(|k| k.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_listed_once_with_known_topics() {
        let mut seen = std::collections::BTreeSet::new();
        for k in EVENT_KINDS {
            assert!(seen.insert(k.kind), "{} twice", k.kind);
            assert!(!k.topics.is_empty());
            for topic in k.topics {
                assert!(["member", "union", "union_admin", "activity"].contains(topic));
            }
            for (_, ty) in k.data.0 {
                let known = ["integer", "string", "date-time", "integer[]", "string[]"];
                assert!(
                    known.contains(ty) || ty.starts_with(char::is_uppercase),
                    "{ty}"
                );
            }
        }
    }
}
