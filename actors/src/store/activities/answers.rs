//! Taking part in an activity: one answer each (the database decides), a lottery's draw
//! from a fresh seed with its record, a quiz's score, prizes taken with a conditional
//! update; and one's own receipt.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use gonghui_protocol::dto::{Draw, Receipt};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;

use super::{in_audience, Stored};
use crate::domain::{Answer, Config, Prize};
use crate::store::events::EventBatch;
use crate::store::tokens::Principal;
use crate::store::Store;
use crate::{Error, Result};

/// A lottery draw: a fresh 32-byte seed from the OS's secure generator decides, given
/// the prizes left, whether this draw wins and which prize. Everything it used is
/// returned for the record, so an auditor can recompute the outcome from it.
fn draw(win_rate: f64, remaining: &[(String, i32)]) -> (Option<String>, Draw) {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let outcome = roll(&seed, win_rate, remaining);
    let record = Draw {
        seed: hex::encode(seed),
        win_rate,
        remaining: remaining.iter().cloned().collect(),
        rule: "h = sha256(seed); win if u64_be(h[0..8]) / 2^64 < win_rate and prizes remain; prize = the one holding position u64_be(h[8..16]) mod total remaining, prizes in id order".into(),
    };
    (outcome, record)
}

/// The deterministic part of a draw, as the record describes it.
pub fn roll(seed: &[u8], win_rate: f64, remaining: &[(String, i32)]) -> Option<String> {
    let h = Sha256::digest(seed);
    let first = u64::from_be_bytes(h[0..8].try_into().expect("8 bytes"));
    let second = u64::from_be_bytes(h[8..16].try_into().expect("8 bytes"));
    let total: i64 = remaining.iter().map(|(_, n)| i64::from(*n)).sum();
    if total == 0 || (first as f64 / 18_446_744_073_709_551_616.0) >= win_rate {
        return None;
    }
    let mut position = (second % total as u64) as i64;
    for (id, n) in remaining {
        if position < i64::from(*n) {
            return Some(id.clone());
        }
        position -= i64::from(*n);
    }
    None
}

impl Store {
    /// Records a member's one answer. A signup takes a seat, a lottery draws, a passed
    /// quiz takes its prize while stock lasts; the member's other devices hear of it.
    ///
    /// # Errors
    /// `NotFound` (no such activity or a draft), `Forbidden` outside the audience,
    /// `Conflict` outside the time window, once closed, when full, or a second answer;
    /// `Invalid` for an answer that does not fit the activity.
    #[tracing::instrument(skip_all, fields(user = user.user_id, id = id))]
    pub async fn answer(&self, user: &Principal, id: i64, raw: &Value) -> Result<Receipt> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let Stored { activity, config } = self.stored(&tx, id, false).await?;
        match activity.status.as_str() {
            "draft" => return Err(Error::NotFound(format!("no activity {id}"))),
            "closed" => return Err(Error::Conflict("this activity is closed".into())),
            _ => {}
        }
        let now = Utc::now();
        if now < activity.starts_at {
            return Err(Error::Conflict("this activity has not started".into()));
        }
        if now >= activity.ends_at {
            return Err(Error::Conflict("this activity has ended".into()));
        }
        if !in_audience(
            &tx,
            user.user_id,
            activity.union_id,
            activity.include_subordinates,
        )
        .await?
        {
            return Err(Error::Forbidden(
                "this activity is for members of another union".into(),
            ));
        }
        let answer = Answer::parse(&config, raw)?;
        let (prize, record) = match &config {
            Config::Signup { capacity, .. } => {
                let seat = tx
                    .query_opt(
                        "UPDATE activities SET seats_taken = seats_taken + 1 WHERE id = $1 AND seats_taken < $2 RETURNING 1",
                        &[&id, capacity],
                    )
                    .await?;
                if seat.is_none() {
                    return Err(Error::Conflict("this signup is full".into()));
                }
                (None, None)
            }
            Config::Lottery { win_rate, .. } => {
                let remaining: Vec<(String, i32)> = tx
                    .query(
                        "SELECT prize_id, remaining FROM activity_prizes WHERE activity_id = $1 ORDER BY prize_id FOR UPDATE",
                        &[&id],
                    )
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                let (won, record) = draw(*win_rate, &remaining);
                let won = match won {
                    Some(prize) => take_prize(&tx, id, &prize).await?,
                    None => None,
                };
                (won, Some(record))
            }
            Config::Quiz {
                prize: Some(Prize { id: prize, .. }),
                ..
            } if answer.passed == Some(true) => (take_prize(&tx, id, prize).await?, None),
            _ => (None, None),
        };
        let inserted = tx
            .query_one(
                "INSERT INTO activity_answers (activity_id, user_id, answer, score, passed, prize_id, draw)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at",
                &[
                    &id,
                    &user.user_id,
                    &answer.value,
                    &answer.score,
                    &answer.passed,
                    &prize,
                    &record.as_ref().map(|d| json!(d)),
                ],
            )
            .await;
        let created_at: DateTime<Utc> = match inserted {
            Ok(row) => row.get(0),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Error::Conflict(
                    "you have already taken part in this activity".into(),
                ))
            }
            Err(e) => return Err(Error::from(e)),
        };
        let receipt = Receipt {
            activity_id: id,
            user_id: user.user_id,
            answer: answer.value,
            score: answer.score,
            passed: answer.passed,
            prize,
            draw: record,
            created_at,
        };
        let mut events = EventBatch::new();
        events.push(
            Topic::Member(user.user_id),
            kind::ACTIVITY_ANSWERED,
            json!({ "receipt": receipt }),
        );
        self.commit(tx, events).await?;
        Ok(receipt)
    }

    /// The viewer's own receipt of an activity they may see: what each of their devices
    /// shows on its page, whichever one they answered on.
    ///
    /// # Errors
    /// `NotFound` for an activity they may not see, or when they have not taken part.
    #[tracing::instrument(skip_all, fields(viewer = viewer, id = id))]
    pub async fn receipt(&self, viewer: i64, id: i64) -> Result<Receipt> {
        let conn = self.client().await?;
        self.visible(&conn, viewer, id).await?;
        let row = conn
            .query_opt(
                "SELECT answer, score, passed, prize_id, draw, created_at FROM activity_answers
                 WHERE activity_id = $1 AND user_id = $2",
                &[&id, &viewer],
            )
            .await?
            .ok_or_else(|| Error::NotFound("you have not taken part in this activity".into()))?;
        let draw = row
            .get::<_, Option<Value>>(4)
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Error::Unavailable(format!("a stored draw does not read: {e}")))?;
        Ok(Receipt {
            activity_id: id,
            user_id: viewer,
            answer: row.get(0),
            score: row.get(1),
            passed: row.get(2),
            prize: row.get(3),
            draw,
            created_at: row.get(5),
        })
    }
}

/// Takes one of a prize while any is left; answers the prize's id if one was.
async fn take_prize(tx: &Transaction<'_>, id: i64, prize: &str) -> Result<Option<String>> {
    let taken = tx
        .query_opt(
            "UPDATE activity_prizes SET remaining = remaining - 1
             WHERE activity_id = $1 AND prize_id = $2 AND remaining > 0 RETURNING prize_id",
            &[&id, &prize],
        )
        .await?;
    Ok(taken.map(|r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_draw_recomputes_to_its_outcome() {
        let remaining = vec![("a".to_owned(), 1), ("b".to_owned(), 2)];
        for _ in 0..50 {
            let (won, record) = draw(0.5, &remaining);
            let seed = hex::decode(&record.seed).unwrap();
            assert_eq!(roll(&seed, 0.5, &remaining), won);
        }
        assert_eq!(
            roll(&[0; 32], 1.0, &[("a".to_owned(), 0)]),
            None,
            "nothing left, nothing won"
        );
        assert!(
            roll(&[0; 32], 1.0, &remaining).is_some(),
            "a sure win while prizes last"
        );
        assert_eq!(roll(&[0; 32], 0.0, &remaining), None);
    }
}
