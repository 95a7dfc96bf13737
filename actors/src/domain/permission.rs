use std::fmt;

use super::Invalid;

/// What an admin may do on a union and every union below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Decide applications.
    MembersReview,
    /// Import, remove and retire members.
    MembersManage,
    /// See ID numbers unmasked.
    MembersPii,
    /// Register and change unions.
    OrgManage,
    /// Appoint and remove admins.
    AdminsManage,
    /// Run activities.
    ActivitiesManage,
    /// Publish news.
    NewsPublish,
}

impl Permission {
    /// Every permission, as the root admin gets them.
    pub const ALL: [Permission; 7] = [
        Permission::MembersReview,
        Permission::MembersManage,
        Permission::MembersPii,
        Permission::OrgManage,
        Permission::AdminsManage,
        Permission::ActivitiesManage,
        Permission::NewsPublish,
    ];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::MembersReview => "members.review",
            Permission::MembersManage => "members.manage",
            Permission::MembersPii => "members.pii",
            Permission::OrgManage => "org.manage",
            Permission::AdminsManage => "admins.manage",
            Permission::ActivitiesManage => "activities.manage",
            Permission::NewsPublish => "news.publish",
        }
    }

    /// One of the seven documented names.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| Invalid::new(field, format!("unknown permission {raw:?}")))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
