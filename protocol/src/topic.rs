//! Topic names (`member:7`, `union:3`, `union:3:admin`, `activity:9`), parsed once at
//! the edge so the rest of the server matches on an enum rather than on strings.

use std::fmt;
use std::str::FromStr;

/// A stream of events with its own gapless seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Everything about one user, seen by all of that user's devices.
    Member(i64),
    /// A union's public stream: its members and admins of it or an ancestor.
    Union(i64),
    /// A union's approval queues: admins with `members.review` or `org.manage`.
    UnionAdmin(i64),
    /// One activity and its live results: its audience and the union's admins.
    Activity(i64),
}

/// What a topic is about, without its id: the events catalogue lists, for each event,
/// the kinds of topic that carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// `member:ID`.
    Member,
    /// `union:ID`.
    Union,
    /// `union:ID:admin`.
    UnionAdmin,
    /// `activity:ID`.
    Activity,
}

impl TopicKind {
    /// The name the AsyncAPI document uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::Member => "member",
            TopicKind::Union => "union",
            TopicKind::UnionAdmin => "union_admin",
            TopicKind::Activity => "activity",
        }
    }
}

impl Topic {
    /// Its kind.
    pub fn kind(self) -> TopicKind {
        match self {
            Topic::Member(_) => TopicKind::Member,
            Topic::Union(_) => TopicKind::Union,
            Topic::UnionAdmin(_) => TopicKind::UnionAdmin,
            Topic::Activity(_) => TopicKind::Activity,
        }
    }
}

/// A topic name that is not one of the three documented shapes.
#[derive(Debug, thiserror::Error)]
#[error("unknown topic {0:?}: expected member:ID, union:ID, union:ID:admin or activity:ID")]
pub struct BadTopic(pub String);

impl FromStr for Topic {
    type Err = BadTopic;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadTopic(s.chars().take(64).collect());
        let id = |text: &str| -> Result<i64, BadTopic> {
            match text.parse::<i64>() {
                Ok(id) if id > 0 && !text.starts_with('+') => Ok(id),
                _ => Err(bad()),
            }
        };
        let mut parts = s.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("member"), Some(n), None, None) => Ok(Topic::Member(id(n)?)),
            (Some("union"), Some(n), None, None) => Ok(Topic::Union(id(n)?)),
            (Some("union"), Some(n), Some("admin"), None) => Ok(Topic::UnionAdmin(id(n)?)),
            (Some("activity"), Some(n), None, None) => Ok(Topic::Activity(id(n)?)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Member(id) => write!(f, "member:{id}"),
            Topic::Union(id) => write!(f, "union:{id}"),
            Topic::UnionAdmin(id) => write!(f, "union:{id}:admin"),
            Topic::Activity(id) => write!(f, "activity:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for topic in [
            Topic::Member(7),
            Topic::Union(3),
            Topic::UnionAdmin(12),
            Topic::Activity(9),
        ] {
            assert_eq!(topic.to_string().parse::<Topic>().unwrap(), topic);
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        for name in [
            "",
            "member",
            "member:",
            "member:x",
            "member:0",
            "member:-1",
            "member:+1",
            "union:1:admin:x",
            "union:1:queue",
            "news:1",
            "activity:1:admin",
            "member:99999999999999999999",
        ] {
            assert!(name.parse::<Topic>().is_err(), "{name} should be refused");
        }
    }
}
