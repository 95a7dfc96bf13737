//! Prizes (兑奖): a winner says where to send theirs (as WeChat's address authorisation
//! gives it) and may correct it until it ships; the activity's admins see the list and
//! mark each shipped, which the winner hears at once, on every device and in their inbox.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use gonghui_protocol::dto::{Address, Delivery, Fulfilment, MyPrize};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::Row;

use crate::domain::{BoundedText, ShippingAddress};
use crate::sheets::write::text;
use crate::store::audit;
use crate::store::events::EventBatch;
use crate::store::notifications::{notify, Notice};
use crate::store::tokens::Principal;
use crate::store::Store;
use crate::{Error, Result};

/// A claim's columns, in order, from [`ADDRESS_AT`] on: what [`address_at`] reads.
const CLAIM: &str = "c.recipient, c.phone, c.province, c.city, c.county, c.detail, c.postal_code,
                     c.national_code, c.shipped_at, c.carrier, c.tracking";

/// Where the claim's columns start in [`FULFILMENTS`] and [`MINE`].
const ADDRESS_AT: usize = 3;

/// The winners of an activity (`$1`) and their claims: the fulfilment list.
pub(crate) static FULFILMENTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT w.user_id, u.name, p.name, {CLAIM}
         FROM activity_answers w JOIN users u ON u.id = w.user_id
         JOIN activity_prizes p ON p.activity_id = w.activity_id AND p.prize_id = w.prize_id
         LEFT JOIN prize_claims c ON c.activity_id = w.activity_id AND c.user_id = w.user_id
         WHERE w.activity_id = $1 ORDER BY w.created_at, w.user_id"
    )
});

/// The prizes a user (`$1`) won, or one of them (`$2`, an activity), newest first.
static MINE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT w.activity_id, a.title, p.name, {CLAIM}
         FROM activity_answers w JOIN activities a ON a.id = w.activity_id
         JOIN activity_prizes p ON p.activity_id = w.activity_id AND p.prize_id = w.prize_id
         LEFT JOIN prize_claims c ON c.activity_id = w.activity_id AND c.user_id = w.user_id
         WHERE w.user_id = $1 AND ($2::bigint IS NULL OR w.activity_id = $2)
         ORDER BY w.created_at DESC"
    )
});

/// The fulfilment list's columns, as the download names them.
pub(crate) const FULFILMENT_HEADER: [&str; 14] = [
    "用户ID",
    "姓名",
    "奖品",
    "收件人",
    "电话",
    "省",
    "市",
    "区县",
    "详细地址",
    "邮编",
    "地区编码",
    "发货时间",
    "快递公司",
    "快递单号",
];

/// One winner's row of the download, in [`FULFILMENT_HEADER`]'s order.
pub(crate) fn fulfilment_cells(r: &Row) -> Vec<String> {
    let mut cells = vec![
        r.get::<_, i64>(0).to_string(),
        text(r.get::<_, Option<String>>(1)),
        r.get(2),
    ];
    cells.extend((ADDRESS_AT..ADDRESS_AT + 8).map(|i| text(r.get::<_, Option<String>>(i))));
    cells.push(text(
        r.get::<_, Option<DateTime<Utc>>>(ADDRESS_AT + 8)
            .map(|t| t.to_rfc3339()),
    ));
    cells.push(text(r.get::<_, Option<String>>(ADDRESS_AT + 9)));
    cells.push(text(r.get::<_, Option<String>>(ADDRESS_AT + 10)));
    cells
}

/// The claim's address, if there is a claim.
fn address_at(r: &Row) -> Option<Address> {
    let recipient: Option<String> = r.get(ADDRESS_AT);
    Some(Address {
        recipient: recipient?,
        phone: r.get(ADDRESS_AT + 1),
        province: r.get(ADDRESS_AT + 2),
        city: r.get(ADDRESS_AT + 3),
        county: r.get(ADDRESS_AT + 4),
        detail: r.get(ADDRESS_AT + 5),
        postal_code: r.get(ADDRESS_AT + 6),
        national_code: r.get(ADDRESS_AT + 7),
    })
}

/// The claim's delivery, from [`ADDRESS_AT`] on.
fn delivery_at(r: &Row) -> Delivery {
    Delivery {
        address: address_at(r),
        shipped_at: r.get(ADDRESS_AT + 8),
        carrier: r.get(ADDRESS_AT + 9),
        tracking: r.get(ADDRESS_AT + 10),
    }
}

fn my_prize(r: &Row) -> MyPrize {
    MyPrize {
        activity_id: r.get(0),
        activity_title: r.get(1),
        prize: r.get(2),
        delivery: delivery_at(r),
    }
}

impl Store {
    /// Records where a winner wants their prize sent, or corrects it before it ships.
    ///
    /// # Errors
    /// `NotFound` unless the caller won a prize in this activity; `Conflict` once it
    /// has shipped.
    #[tracing::instrument(skip_all, fields(user = user.user_id, id = id))]
    pub async fn claim_prize(&self, user: &Principal, id: i64, to: &ShippingAddress) -> Result<()> {
        let conn = self.client().await?;
        let a = to.fields();
        let done = conn
            .execute(
                "INSERT INTO prize_claims (activity_id, user_id, recipient, phone, province, city, county, detail,
                                           postal_code, national_code)
                 SELECT activity_id, user_id, $3, $4, $5, $6, $7, $8, $9, $10 FROM activity_answers
                 WHERE activity_id = $1 AND user_id = $2 AND prize_id IS NOT NULL
                 ON CONFLICT (activity_id, user_id) DO UPDATE
                 SET recipient = excluded.recipient, phone = excluded.phone, province = excluded.province,
                     city = excluded.city, county = excluded.county, detail = excluded.detail,
                     postal_code = excluded.postal_code, national_code = excluded.national_code, claimed_at = now()
                 WHERE prize_claims.shipped_at IS NULL",
                &[
                    &id,
                    &user.user_id,
                    &a.recipient,
                    &a.phone,
                    &a.province,
                    &a.city,
                    &a.county,
                    &a.detail,
                    &a.postal_code,
                    &a.national_code,
                ],
            )
            .await?;
        if done > 0 {
            return Ok(());
        }
        let shipped = conn
            .query_opt(
                "SELECT 1 FROM prize_claims WHERE activity_id = $1 AND user_id = $2 AND shipped_at IS NOT NULL",
                &[&id, &user.user_id],
            )
            .await?;
        Err(match shipped {
            Some(_) => {
                Error::Conflict("the prize has shipped; its address can no longer change".into())
            }
            None => Error::NotFound("you have no prize to claim here".into()),
        })
    }

    /// The winners of an activity and where their prizes go, for its admins.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
    pub async fn fulfilments(&self, admin: &Principal, id: i64) -> Result<Vec<Fulfilment>> {
        let conn = self.client().await?;
        self.managed(&conn, admin, id, false).await?;
        let rows = conn.query(FULFILMENTS.as_str(), &[&id]).await?;
        Ok(rows
            .iter()
            .map(|r| Fulfilment {
                user_id: r.get(0),
                prize: r.get(2),
                delivery: delivery_at(r),
            })
            .collect())
    }

    /// The prizes the caller won, newest first.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn my_prizes(&self, user_id: i64) -> Result<Vec<MyPrize>> {
        let conn = self.client().await?;
        let rows = conn.query(MINE.as_str(), &[&user_id, &None::<i64>]).await?;
        Ok(rows.iter().map(my_prize).collect())
    }

    /// Marks a claimed prize shipped; the winner gets `prize.shipped` (the prize as
    /// `GET /me/prizes` shows it) on their topic and a message in their inbox.
    ///
    /// # Errors
    /// `NotFound` without a claim; `Conflict` if already shipped.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id, winner = winner))]
    pub async fn ship_prize(
        &self,
        admin: &Principal,
        id: i64,
        winner: i64,
        carrier: Option<&BoundedText>,
        tracking: Option<&BoundedText>,
    ) -> Result<()> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let union_id = self.managed(&tx, admin, id, false).await?.activity.union_id;
        let claim = tx
            .query_opt(
                "SELECT shipped_at IS NOT NULL FROM prize_claims WHERE activity_id = $1 AND user_id = $2 FOR UPDATE",
                &[&id, &winner],
            )
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {winner} has not claimed a prize here")))?;
        if claim.get::<_, bool>(0) {
            return Err(Error::Conflict("this prize has already shipped".into()));
        }
        tx.execute(
            "UPDATE prize_claims SET shipped_at = now(), carrier = $3, tracking = $4 WHERE activity_id = $1 AND user_id = $2",
            &[&id, &winner, &carrier.map(BoundedText::as_str), &tracking.map(BoundedText::as_str)],
        )
        .await?;
        let prize = my_prize(&tx.query_one(MINE.as_str(), &[&winner, &Some(id)]).await?);
        audit::record(
            &tx,
            admin,
            union_id,
            "prize.ship",
            ("activity", id),
            json!({ "user_id": winner, "carrier": prize.delivery.carrier, "tracking": prize.delivery.tracking }),
        )
        .await?;
        let mut events = EventBatch::new();
        events.push(
            Topic::Member(winner),
            kind::PRIZE_SHIPPED,
            json!({ "prize": prize }),
        );
        let notice = Notice {
            kind: kind::PRIZE_SHIPPED,
            title: "您的奖品已发货",
            body: format!(
                "「{}」的奖品{}已发货{}",
                prize.activity_title,
                prize.prize,
                match (&prize.delivery.carrier, &prize.delivery.tracking) {
                    (Some(c), Some(t)) => format!("：{c} {t}"),
                    (Some(c), None) => format!("：{c}"),
                    (None, Some(t)) => format!("：快递单号 {t}"),
                    (None, None) => String::new(),
                }
            ),
            data: json!({ "activity_id": id }),
        };
        notify(&tx, &mut events, &[winner], notice).await?;
        self.commit(tx, events).await?;
        Ok(())
    }
}
