//! The rows of user `id`: every value a cheap, deterministic function of the id
//! (no formatting machinery, no randomness, no clock), since the benchmark makes
//! millions of them.

use airlock_sdk::{Row, Value};

/// 2020-01-01T00:00:00Z in microseconds since the epoch.
const EPOCH_2020_MICROS: i64 = 1_577_836_800_000_000;
/// 1950-01-01 in days since the epoch.
const EPOCH_1950_DAYS: i32 = -7305;

const FIRST: [&str; 16] = [
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "John", "Ken",
    "Leslie", "Margaret", "Niklaus", "Radia", "Tim", "Vint",
];
const LAST: [&str; 16] = [
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Ritchie",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Backus",
    "Thompson",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Berners-Lee",
    "Cerf",
];
const TIERS: [&str; 4] = ["free", "basic", "pro", "enterprise"];
const EVENT_KINDS: [&str; 4] = ["signup", "login", "purchase", "logout"];

/// A `users` row: id, name, email (null for every 5th id), score, active,
/// created_at, birthday, balance, profile, avatar.
pub fn user(id: i64) -> Row {
    let u = id as u64;
    let mut name = String::with_capacity(24);
    name.push_str(FIRST[(u % 16) as usize]);
    name.push(' ');
    name.push_str(LAST[(u / 16 % 16) as usize]);

    let email = if id % 5 == 0 {
        Value::Null
    } else {
        let mut email = String::with_capacity(28);
        email.push_str("user");
        push_u64(&mut email, u);
        email.push_str("@example.com");
        Value::Text(email)
    };

    // Cents in ±0 ..= 9_999_999.99, negative for every 7th id: fits decimal(12, 2).
    let cents = u.wrapping_mul(104_729) % 1_000_000_000;
    let mut balance = String::with_capacity(16);
    if id % 7 == 0 && cents != 0 {
        balance.push('-');
    }
    push_u64(&mut balance, cents / 100);
    balance.push('.');
    balance.push(char::from(b'0' + (cents / 10 % 10) as u8));
    balance.push(char::from(b'0' + (cents % 10) as u8));

    let mut profile = String::with_capacity(48);
    profile.push_str("{\"tier\":\"");
    profile.push_str(TIERS[(u % 4) as usize]);
    profile.push_str("\",\"visits\":");
    push_u64(&mut profile, u.wrapping_mul(31) % 1000);
    profile.push('}');

    let b = u.to_le_bytes();
    vec![
        Value::Int(id),
        Value::Text(name),
        email,
        Value::Float((u.wrapping_mul(7919) % 10_000) as f64 / 100.0),
        Value::Boolean(id % 4 != 0),
        Value::Timestamp(created_at(id)),
        Value::Date(EPOCH_1950_DAYS + (u.wrapping_mul(97) % 20_000) as i32),
        Value::Decimal(balance),
        Value::Json(profile),
        Value::Bytes(vec![b[0], b[1], b[2], b[3], !b[0], !b[1], !b[2], !b[3]]),
    ]
}

/// The `events` row of user `id` (the event's id is the user's).
pub fn event(id: i64) -> Row {
    vec![
        Value::Int(id),
        Value::Int(id),
        Value::Text(EVENT_KINDS[(id as u64 % 4) as usize].to_owned()),
        Value::Timestamp(created_at(id) + 300_000_000),
    ]
}

/// The primary key of user (or event) `id`.
pub fn key(id: i64) -> Row {
    vec![Value::Int(id)]
}

/// One user created every 61 seconds from 2020-01-01.
fn created_at(id: i64) -> i64 {
    EPOCH_2020_MICROS + id.wrapping_mul(61_000_000)
}

/// Appends `n` in decimal.
fn push_u64(s: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    s.push_str(std::str::from_utf8(&buf[i..]).expect("ascii digits"));
}
