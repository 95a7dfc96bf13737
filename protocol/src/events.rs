//! Every kind of event the server emits: which topics carry it and what its `data` holds.
//! The server checks each event it appends against this list (in debug builds, so every
//! test that makes one checks it), and the WebSocket's AsyncAPI document is built from it.

use crate::topic::{Topic, TopicKind};

/// Every event kind's name, for the code that emits or matches it.
pub mod kind {
    /// `application.created`.
    pub const APPLICATION_CREATED: &str = "application.created";
    /// `application.approved`.
    pub const APPLICATION_APPROVED: &str = "application.approved";
    /// `application.rejected`.
    pub const APPLICATION_REJECTED: &str = "application.rejected";
    /// `membership.created`.
    pub const MEMBERSHIP_CREATED: &str = "membership.created";
    /// `membership.updated`.
    pub const MEMBERSHIP_UPDATED: &str = "membership.updated";
    /// `membership.ended`.
    pub const MEMBERSHIP_ENDED: &str = "membership.ended";
    /// `notification.created`.
    pub const NOTIFICATION_CREATED: &str = "notification.created";
    /// `notification.read`.
    pub const NOTIFICATION_READ: &str = "notification.read";
    /// `user.updated`.
    pub const USER_UPDATED: &str = "user.updated";
    /// `admin.updated`.
    pub const ADMIN_UPDATED: &str = "admin.updated";
    /// `admin.removed`.
    pub const ADMIN_REMOVED: &str = "admin.removed";
    /// `org_request.created`.
    pub const ORG_REQUEST_CREATED: &str = "org_request.created";
    /// `org_request.approved`.
    pub const ORG_REQUEST_APPROVED: &str = "org_request.approved";
    /// `org_request.rejected`.
    pub const ORG_REQUEST_REJECTED: &str = "org_request.rejected";
    /// `activity.answered`.
    pub const ACTIVITY_ANSWERED: &str = "activity.answered";
    /// `prize.shipped`.
    pub const PRIZE_SHIPPED: &str = "prize.shipped";
    /// `union.created`.
    pub const UNION_CREATED: &str = "union.created";
    /// `union.updated`.
    pub const UNION_UPDATED: &str = "union.updated";
    /// `committee.updated`.
    pub const COMMITTEE_UPDATED: &str = "committee.updated";
    /// `member.joined`.
    pub const MEMBER_JOINED: &str = "member.joined";
    /// `member.left`.
    pub const MEMBER_LEFT: &str = "member.left";
    /// `member.retired`.
    pub const MEMBER_RETIRED: &str = "member.retired";
    /// `members.imported`.
    pub const MEMBERS_IMPORTED: &str = "members.imported";
    /// `members.removed`.
    pub const MEMBERS_REMOVED: &str = "members.removed";
    /// `news.published`.
    pub const NEWS_PUBLISHED: &str = "news.published";
    /// `news.unpublished`.
    pub const NEWS_UNPUBLISHED: &str = "news.unpublished";
    /// `activity.published`.
    pub const ACTIVITY_PUBLISHED: &str = "activity.published";
    /// `activity.closed`.
    pub const ACTIVITY_CLOSED: &str = "activity.closed";
    /// `activity.results`.
    pub const ACTIVITY_RESULTS: &str = "activity.results";
    /// `import.progress`.
    pub const IMPORT_PROGRESS: &str = "import.progress";
    /// `wechat.poll_failed`.
    pub const WECHAT_POLL_FAILED: &str = "wechat.poll_failed";
    /// `wechat.binding_broken`.
    pub const WECHAT_BINDING_BROKEN: &str = "wechat.binding_broken";
}

/// One kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind {
    /// The `kind` of the event frame.
    pub kind: &'static str,
    /// The kinds of topic that carry it.
    pub topics: &'static [TopicKind],
    /// What its `data` holds.
    pub data: Data,
}

/// The shape of an event's `data`: its fields, each a JSON type (`integer`, `string`,
/// `date-time`, `integer[]`, `string[]`) or a contract type by its schema name
/// (`Application`); a name ending in `?` may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data(pub &'static [(&'static str, &'static str)]);

const fn entry(
    kind: &'static str,
    topics: &'static [TopicKind],
    data: &'static [(&'static str, &'static str)],
) -> EventKind {
    EventKind {
        kind,
        topics,
        data: Data(data),
    }
}

const MEMBER: &[TopicKind] = &[TopicKind::Member];
const UNION: &[TopicKind] = &[TopicKind::Union];
const ADMIN: &[TopicKind] = &[TopicKind::UnionAdmin];
const MEMBER_AND_ADMIN: &[TopicKind] = &[TopicKind::Member, TopicKind::UnionAdmin];

/// The catalogue.
pub const EVENT_KINDS: &[EventKind] = &[
    entry(
        kind::APPLICATION_CREATED,
        MEMBER_AND_ADMIN,
        &[("application", "Application")],
    ),
    entry(
        kind::APPLICATION_APPROVED,
        MEMBER_AND_ADMIN,
        &[("application", "Application")],
    ),
    entry(
        kind::APPLICATION_REJECTED,
        MEMBER_AND_ADMIN,
        &[("application", "Application")],
    ),
    entry(
        kind::MEMBERSHIP_CREATED,
        MEMBER,
        &[("membership", "Membership")],
    ),
    entry(
        kind::MEMBERSHIP_UPDATED,
        MEMBER,
        &[("membership", "Membership")],
    ),
    entry(
        kind::MEMBERSHIP_ENDED,
        MEMBER,
        &[("membership", "Membership")],
    ),
    entry(
        kind::NOTIFICATION_CREATED,
        &[TopicKind::Member, TopicKind::Union],
        &[("notification", "Notification"), ("unread?", "integer")],
    ),
    entry(
        kind::NOTIFICATION_READ,
        MEMBER,
        &[("ids", "integer[]"), ("unread", "integer")],
    ),
    entry(kind::USER_UPDATED, MEMBER, &[("user", "User")]),
    entry(
        kind::ADMIN_UPDATED,
        MEMBER,
        &[("union_id", "integer"), ("permissions", "string[]")],
    ),
    entry(
        kind::ADMIN_REMOVED,
        MEMBER,
        &[("union_id", "integer"), ("permissions", "string[]")],
    ),
    entry(
        kind::ORG_REQUEST_CREATED,
        MEMBER_AND_ADMIN,
        &[("request", "OrgRequest")],
    ),
    entry(
        kind::ORG_REQUEST_APPROVED,
        MEMBER_AND_ADMIN,
        &[("request", "OrgRequest")],
    ),
    entry(
        kind::ORG_REQUEST_REJECTED,
        MEMBER_AND_ADMIN,
        &[("request", "OrgRequest")],
    ),
    entry(kind::ACTIVITY_ANSWERED, MEMBER, &[("receipt", "Receipt")]),
    entry(kind::PRIZE_SHIPPED, MEMBER, &[("prize", "MyPrize")]),
    entry(kind::UNION_CREATED, UNION, &[("union", "Union")]),
    entry(kind::UNION_UPDATED, UNION, &[("union", "Union")]),
    entry(kind::COMMITTEE_UPDATED, UNION, &[("term", "CommitteeTerm")]),
    entry(kind::MEMBER_JOINED, UNION, &[("membership", "Membership")]),
    entry(kind::MEMBER_LEFT, UNION, &[("membership", "Membership")]),
    entry(kind::MEMBER_RETIRED, UNION, &[("membership", "Membership")]),
    entry(
        kind::MEMBERS_IMPORTED,
        UNION,
        &[
            ("operation_id", "string"),
            ("count", "integer"),
            ("member_count", "integer"),
        ],
    ),
    entry(
        kind::MEMBERS_REMOVED,
        UNION,
        &[
            ("operation_id", "string"),
            ("count", "integer"),
            ("member_count", "integer"),
        ],
    ),
    entry(kind::NEWS_PUBLISHED, UNION, &[("news", "NewsSummary")]),
    entry(kind::NEWS_UNPUBLISHED, UNION, &[("news_id", "integer")]),
    entry(
        kind::ACTIVITY_PUBLISHED,
        &[TopicKind::Union, TopicKind::Activity],
        &[("activity", "Activity")],
    ),
    entry(
        kind::ACTIVITY_CLOSED,
        &[TopicKind::Union, TopicKind::Activity],
        &[("activity", "Activity")],
    ),
    entry(
        kind::ACTIVITY_RESULTS,
        &[TopicKind::Activity, TopicKind::UnionAdmin],
        &[("results", "Results")],
    ),
    entry(
        kind::IMPORT_PROGRESS,
        ADMIN,
        &[
            ("operation_id", "string"),
            ("processed", "integer"),
            ("total", "integer"),
        ],
    ),
    entry(
        kind::WECHAT_POLL_FAILED,
        ADMIN,
        &[("reason", "string"), ("retry_at", "date-time")],
    ),
    entry(kind::WECHAT_BINDING_BROKEN, ADMIN, &[("reason", "string")]),
];

/// Whether the catalogue lists `kind` as carried on `topic`'s kind of topic.
pub fn carries(topic: Topic, kind: &str) -> bool {
    EVENT_KINDS
        .iter()
        .any(|k| k.kind == kind && k.topics.contains(&topic.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_carried_only_on_its_listed_topics() {
        assert!(carries(Topic::Member(1), kind::APPLICATION_APPROVED));
        assert!(carries(Topic::UnionAdmin(1), kind::APPLICATION_APPROVED));
        assert!(!carries(Topic::Union(1), kind::APPLICATION_APPROVED));
        assert!(!carries(Topic::Member(1), "application.unknown"));
    }

    #[test]
    fn each_kind_is_listed_once_with_known_topics() {
        let mut seen = std::collections::BTreeSet::new();
        for k in EVENT_KINDS {
            assert!(seen.insert(k.kind), "{} twice", k.kind);
            assert!(!k.topics.is_empty());
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
