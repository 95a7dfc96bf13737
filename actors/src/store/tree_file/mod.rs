//! A province's union tree as a file (工会信息、管理员信息同步): [`import`] checks a file of
//! unions and their admins whole against what is there ([`plan`], pure) and applies it
//! in one transaction ([`write`]); [`export`] writes the tree back in the same format.

mod export;
mod import;
mod plan;
mod write;
