//! Taking the tree out in the import's format.

use serde_json::json;
use tokio::sync::mpsc;

use crate::domain::Permission;
use crate::sheets::tree::permissions_cell;
use crate::sheets::write::FileChunk;
use crate::sheets::{Format, Template, UnionColumn};
use crate::store::access::require;
use crate::store::audit;
use crate::store::export::Export;
use crate::store::tokens::Principal;
use crate::store::Store;
use crate::Result;

/// The tree below a union, one union per row and each further admin on a row of its
/// own, parents first; `$2` says whether admins are included.
const TREE: &str = "
    SELECT u.name, u.credit_code,
           CASE WHEN u.parent_id = $1 THEN NULL ELSE p.credit_code END,
           (SELECT string_agg(x.name, '/' ORDER BY t.ord)
              FROM unnest(u.path[array_position(u.path, $1) + 1 : array_length(u.path, 1) - 1])
                   WITH ORDINALITY AS t(id, ord)
              JOIN unions x ON x.id = t.id),
           u.address, u.lat, u.lng, u.contact_name, u.contact_phone,
           usr.name, usr.phone, a.permissions,
           row_number() OVER (PARTITION BY u.id ORDER BY a.granted_at, a.user_id) AS nth
    FROM unions u
    JOIN unions p ON p.id = u.parent_id
    LEFT JOIN union_admins a ON a.union_id = u.id AND $2
    LEFT JOIN users usr ON usr.id = a.user_id
    WHERE u.path @> ARRAY[$1]::bigint[] AND u.id <> $1
    ORDER BY u.path, nth";

impl Store {
    /// Streams the tree below `root` in the import's format, so an export imports back
    /// unchanged; admins (with their phones, which are their logins) only for a caller
    /// holding both `admins.manage` and `members.pii` — without them the file holds the
    /// unions alone, and importing it back leaves every admin as they are.
    /// Each export is audited.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without `org.manage`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, root = root))]
    pub async fn export_tree(
        &self,
        admin: &Principal,
        root: i64,
        format: Format,
    ) -> Result<mpsc::Receiver<FileChunk>> {
        let admitted = self.admit_export(admin.user_id)?;
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, root, Permission::OrgManage).await?;
        let with_admins = self
            .has_permission(admin.user_id, root, Permission::AdminsManage)
            .await?
            && self
                .has_permission(admin.user_id, root, Permission::MembersPii)
                .await?;
        audit::record(
            &tx,
            admin,
            root,
            "unions.export",
            ("union", root),
            json!({ "format": format.extension(), "admins": with_admins }),
        )
        .await?;
        tx.commit().await?;
        Ok(self.stream_export(
            admitted,
            Export {
                format,
                header: UnionColumn::ALL.iter().map(|c| c.headers().0).collect(),
                sql: TREE,
                params: vec![Box::new(root), Box::new(with_admins)],
                cells: Box::new(|row| {
                    let text = |i: usize| row.get::<_, Option<String>>(i).unwrap_or_default();
                    let degrees = |i: usize| {
                        row.get::<_, Option<f64>>(i)
                            .map(|d| d.to_string())
                            .unwrap_or_default()
                    };
                    let admin = [
                        text(9),
                        text(10),
                        row.get::<_, Option<Vec<String>>>(11)
                            .map(|p| permissions_cell(&p))
                            .unwrap_or_default(),
                    ];
                    if row.get::<_, i64>(12) > 1 {
                        let mut cells = vec![String::new(); UnionColumn::ALL.len() - 3];
                        cells.extend(admin);
                        return cells;
                    }
                    let mut cells = vec![
                        text(0),
                        text(1),
                        text(2),
                        text(3),
                        text(4),
                        degrees(5),
                        degrees(6),
                        text(7),
                        text(8),
                    ];
                    cells.extend(admin);
                    cells
                }),
            },
        ))
    }
}
