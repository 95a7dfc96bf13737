//! Reading the union tree: one union, its children, its ancestors, a search by name,
//! and the map (工会地图): unions near a point, nearest first. Every union's details are
//! public to signed-in users.

use gonghui_protocol::dto::{NearbyUnion, Union};

use super::unions::{union_from_row, union_in, UNION_COLUMNS};
use super::{contains_pattern, keyset, Store};
use crate::domain::{BoundedText, Coordinates};
use crate::Result;

/// Metres in a degree of latitude (and of longitude at the equator).
const METRES_PER_DEGREE: f64 = 111_194.9;
/// The mean radius of the earth, in metres.
const EARTH_RADIUS: f64 = 6_371_008.8;

/// A page of unions and where the next one starts.
pub type Page = (Vec<Union>, Option<i64>);

fn page(items: Vec<Union>, limit: i64) -> Page {
    keyset(items, limit, |u| u.id)
}

impl Store {
    /// One union.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn union(&self, union_id: i64) -> Result<Union> {
        let conn = self.client().await?;
        union_in(&conn, union_id).await
    }

    /// The unions directly below one, by id, after `after`.
    #[tracing::instrument(skip_all, fields(union_id = union_id, after = after, limit = limit))]
    pub async fn children(&self, union_id: i64, after: i64, limit: i64) -> Result<Page> {
        let conn = self.client().await?;
        union_in(&conn, union_id).await?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {UNION_COLUMNS} FROM unions u WHERE u.parent_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3"
            ))
            .await?;
        let rows = conn
            .query(&stmt, &[&union_id, &after, &(limit + 1)])
            .await?;
        Ok(page(rows.iter().map(union_from_row).collect(), limit))
    }

    /// The unions above one, the root first.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn ancestors(&self, union_id: i64) -> Result<Vec<Union>> {
        let conn = self.client().await?;
        union_in(&conn, union_id).await?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {UNION_COLUMNS} FROM unions me, unnest(me.path) WITH ORDINALITY AS p(id, depth)
                 JOIN unions u ON u.id = p.id
                 WHERE me.id = $1 AND u.id <> me.id ORDER BY p.depth"
            ))
            .await?;
        let rows = conn.query(&stmt, &[&union_id]).await?;
        Ok(rows.iter().map(union_from_row).collect())
    }

    /// Unions whose name contains `text`, by id, after `after`.
    #[tracing::instrument(skip_all, fields(after = after, limit = limit))]
    pub async fn search_unions(&self, text: &BoundedText, after: i64, limit: i64) -> Result<Page> {
        let conn = self.client().await?;
        let pattern = contains_pattern(text.as_str());
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {UNION_COLUMNS} FROM unions u WHERE u.name ILIKE $1 AND u.id > $2 ORDER BY u.id LIMIT $3"
            ))
            .await?;
        let rows = conn.query(&stmt, &[&pattern, &after, &(limit + 1)]).await?;
        Ok(page(rows.iter().map(union_from_row).collect(), limit))
    }

    /// Unions within `radius_m` metres of `at`, nearest first: candidates come from the
    /// location index by bounding box, then exact great-circle distances sort them.
    #[tracing::instrument(skip_all, fields(limit = limit, offset = offset))]
    pub async fn nearby(
        &self,
        at: Coordinates,
        radius_m: f64,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<NearbyUnion>, Option<i64>)> {
        let conn = self.client().await?;
        let dlat = radius_m / METRES_PER_DEGREE;
        let dlng = (dlat / at.lat().to_radians().cos().max(0.01)).min(180.0);
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {UNION_COLUMNS}, u.d FROM (
                     SELECT c.*, 2 * $3::float8 * asin(sqrt(
                         power(sin(radians(c.lat - $1) / 2), 2)
                         + cos(radians($1)) * cos(radians(c.lat)) * power(sin(radians(c.lng - $2) / 2), 2))) AS d
                     FROM unions c
                     WHERE c.lat IS NOT NULL
                       AND point(c.lng, c.lat) <@ box(point($2 - $4, $1 - $5), point($2 + $4, $1 + $5))) u
                 WHERE u.d <= $6 ORDER BY u.d, u.id LIMIT $7 OFFSET $8"
            ))
            .await?;
        let rows = conn
            .query(
                &stmt,
                &[
                    &at.lat(),
                    &at.lng(),
                    &EARTH_RADIUS,
                    &dlng,
                    &dlat,
                    &radius_m,
                    &(limit + 1),
                    &offset,
                ],
            )
            .await?;
        let mut items: Vec<NearbyUnion> = rows
            .iter()
            .map(|r| NearbyUnion {
                union: union_from_row(r),
                distance_m: r.get::<_, f64>(9).round(),
            })
            .collect();
        let next = (items.len() as i64 > limit).then(|| {
            items.truncate(limit as usize);
            offset + limit
        });
        Ok((items, next))
    }
}
