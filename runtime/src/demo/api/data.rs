//! The demo API's customers: deterministic rows, an `updated_at` index for
//! incremental paging, and "touching" rows so incremental syncs have news.

use std::collections::BTreeSet;

use serde_json::json;

/// 2026-01-01T00:00:00Z in microseconds since the Unix epoch: the first `updated_at`.
pub const BASE_UPDATED_AT: i64 = 1_767_225_600_000_000;

/// Rows share their `updated_at` in groups of this many (ids 1–3, 4–6, ...), so
/// a client's cursor must handle ties at equal timestamps.
pub const TIE_GROUP: u64 = 3;

/// How far a touch moves the clock past the newest row: 1.5 s, so touched rows
/// also carry a fractional second in their timestamp.
const TOUCH_STEP_MICROS: i64 = 1_500_000;

const PLANS: [&str; 3] = ["free", "pro", "enterprise"];

/// One customer as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    /// 1..=N.
    pub id: u64,
    /// `Customer {id}`, with ` (rev {n})` appended once touched.
    pub name: String,
    /// `customer{id}@example.com`; `None` (JSON `null`) for every 17th id.
    pub email: Option<String>,
    /// `free`, `pro` or `enterprise`; changes when touched.
    pub plan: String,
    /// A decimal with two places, as a string (`"123.45"`); changes when touched.
    pub amount: String,
    /// Microseconds since the Unix epoch, UTC.
    pub updated_at: i64,
}

impl Customer {
    fn new(id: u64, revision: u32, updated_at: i64) -> Customer {
        let cents = (id * 7919 + u64::from(revision) * 101) % 1_000_000;
        let name = match revision {
            0 => format!("Customer {id}"),
            n => format!("Customer {id} (rev {n})"),
        };
        Customer {
            id,
            name,
            email: (!id.is_multiple_of(17)).then(|| format!("customer{id}@example.com")),
            plan: PLANS[((id + u64::from(revision)) % 3) as usize].to_owned(),
            amount: format!("{}.{:02}", cents / 100, cents % 100),
            updated_at,
        }
    }

    /// The API's JSON object for this customer.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "plan": self.plan,
            "amount": self.amount,
            "updated_at": rfc3339(self.updated_at),
        })
    }
}

/// Where a page starts: after this `(updated_at, id)`; the API's `cursor`.
pub type Position = (i64, u64);

/// The customers and an index on `(updated_at, id)`.
#[derive(Debug)]
pub struct Customers {
    /// `(revision, updated_at)` of id `i + 1`.
    rows: Vec<(u32, i64)>,
    by_updated: BTreeSet<Position>,
}

impl Customers {
    /// `count` customers, ids `1..=count`, `updated_at` one second apart per tie group.
    pub fn new(count: u64) -> Customers {
        let rows: Vec<(u32, i64)> = (1..=count)
            .map(|id| {
                (
                    0,
                    BASE_UPDATED_AT + ((id - 1) / TIE_GROUP) as i64 * 1_000_000,
                )
            })
            .collect();
        let by_updated = rows
            .iter()
            .zip(1..)
            .map(|(&(_, at), id)| (at, id))
            .collect();
        Customers { rows, by_updated }
    }

    /// The customer with this id, if there is one.
    pub fn get(&self, id: u64) -> Option<Customer> {
        let &(revision, at) = self.rows.get(usize::try_from(id).ok()?.checked_sub(1)?)?;
        Some(Customer::new(id, revision, at))
    }

    /// Gives the known ids among `ids` a new revision and one new `updated_at`,
    /// later than every row's; returns it (µs). Unknown ids are ignored.
    pub fn touch(&mut self, ids: impl IntoIterator<Item = u64>) -> i64 {
        let newest = self
            .by_updated
            .last()
            .map_or(BASE_UPDATED_AT, |&(at, _)| at);
        let at = newest + TOUCH_STEP_MICROS;
        for id in ids {
            let Some(index) = usize::try_from(id).ok().and_then(|i| i.checked_sub(1)) else {
                continue;
            };
            let Some(row) = self.rows.get_mut(index) else {
                continue;
            };
            self.by_updated.remove(&(row.1, id));
            *row = (row.0 + 1, at);
            self.by_updated.insert((at, id));
        }
        at
    }

    /// Up to `limit` customers with `updated_at >= since` and `(updated_at, id)`
    /// after `after`, in `(updated_at, id)` order, and where the next page
    /// starts if there may be more.
    pub fn page(
        &self,
        since: i64,
        after: Option<Position>,
        limit: usize,
    ) -> (Vec<Customer>, Option<Position>) {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let start = match after {
            Some(pos) if pos >= (since, 0) => Excluded(pos),
            _ => Included((since, 0)),
        };
        let mut range = self.by_updated.range((start, Unbounded));
        let page: Vec<Customer> = range
            .by_ref()
            .take(limit)
            .map(|&(_, id)| self.get(id).expect("indexed ids exist"))
            .collect();
        let next = match (range.next(), page.last()) {
            (Some(_), Some(last)) => Some((last.updated_at, last.id)),
            _ => None,
        };
        (page, next)
    }
}

/// Formats microseconds since the Unix epoch as RFC 3339 in UTC:
/// `2026-01-01T00:00:00Z`, with `.ffffff` only when there is a fraction.
pub fn rfc3339(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); the
/// well-known era-based algorithm (H. Hinnant, "chrono-compatible low-level
/// date algorithms").
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(BASE_UPDATED_AT), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(BASE_UPDATED_AT + 86_399_500_000),
            "2026-01-01T23:59:59.500000Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn rows_are_deterministic_and_tied_in_groups() {
        let c = Customers::new(10);
        let one = c.get(1).unwrap();
        assert_eq!(one.name, "Customer 1");
        assert_eq!(one.updated_at, BASE_UPDATED_AT);
        assert_eq!(c.get(3).unwrap().updated_at, BASE_UPDATED_AT);
        assert_eq!(c.get(4).unwrap().updated_at, BASE_UPDATED_AT + 1_000_000);
        assert_eq!(c.get(0), None);
        assert_eq!(c.get(11), None);
        assert_eq!(Customers::new(17).get(17).unwrap().email, None);
        assert_eq!(one, Customers::new(10).get(1).unwrap());
    }

    #[test]
    fn pages_cover_everything_once_in_order() {
        let c = Customers::new(10);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = c.page(i64::MIN, after, 4);
            seen.extend(page.iter().map(|r| r.id));
            match next {
                Some(pos) => after = Some(pos),
                None => break,
            }
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn since_is_inclusive_and_touch_moves_rows_to_the_end() {
        let mut c = Customers::new(9);
        let (page, next) = c.page(BASE_UPDATED_AT + 1_000_000, None, 100);
        assert_eq!(
            page.iter().map(|r| r.id).collect::<Vec<_>>(),
            [4, 5, 6, 7, 8, 9]
        );
        assert_eq!(next, None);

        let at = c.touch([2, 5, 99]);
        assert_eq!(at, BASE_UPDATED_AT + 2_000_000 + TOUCH_STEP_MICROS);
        let (page, _) = c.page(at, None, 100);
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(page[0].name, "Customer 2 (rev 1)");
        assert_ne!(page[0].amount, Customers::new(9).get(2).unwrap().amount);
        // Touched rows left their old place in the index.
        let (all, _) = c.page(i64::MIN, None, 100);
        assert_eq!(
            all.iter().map(|r| r.id).collect::<Vec<_>>(),
            [1, 3, 4, 6, 7, 8, 9, 2, 5]
        );
    }
}
