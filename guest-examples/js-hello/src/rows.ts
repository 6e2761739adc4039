// The rows of user `id`, value for value those of the Rust `hello`
// (guest-examples/hello/src/rows.rs): cheap, deterministic functions of the id.

/** 2020-01-01T00:00:00Z in microseconds since the epoch. */
const EPOCH_2020_MICROS = 1_577_836_800_000_000n;
/** 1950-01-01 in days since the epoch. */
const EPOCH_1950_DAYS = -7305;

const FIRST = ["Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "John", "Ken",
  "Leslie", "Margaret", "Niklaus", "Radia", "Tim", "Vint"];
const LAST = ["Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen", "Hopper", "Backus",
  "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman", "Berners-Lee", "Cerf"];
const TIERS = ["free", "basic", "pro", "enterprise"];
const EVENT_KINDS = ["signup", "login", "purchase", "logout"];

/** One user created every 61 seconds from 2020-01-01, in microseconds. */
function createdAt(id: number): bigint {
  return EPOCH_2020_MICROS + BigInt(id) * 61_000_000n;
}

/** A `users` row: id, name, email (null for every 5th id), score, active,
 * created_at, birthday, balance, profile, avatar. Ids stay below 2^40 here, so
 * every product fits a double exactly. */
export function user(id: number): unknown[] {
  const name = `${FIRST[id % 16]} ${LAST[Math.floor(id / 16) % 16]}`;
  const email = id % 5 === 0 ? null : `user${id}@example.com`;
  // Cents in ±0 ..= 9_999_999.99, negative for every 7th id: fits decimal(12, 2).
  const cents = (id * 104_729) % 1_000_000_000;
  const sign = id % 7 === 0 && cents !== 0 ? "-" : "";
  const balance = `${sign}${Math.floor(cents / 100)}.${Math.floor(cents / 10) % 10}${cents % 10}`;
  const profile = `{"tier":"${TIERS[id % 4]}","visits":${(id * 31) % 1000}}`;
  const b = [id & 0xff, (id >>> 8) & 0xff, (id >>> 16) & 0xff, (id >>> 24) & 0xff];
  const avatar = new Uint8Array([b[0], b[1], b[2], b[3], ~b[0] & 0xff, ~b[1] & 0xff, ~b[2] & 0xff, ~b[3] & 0xff]);
  return [
    id,
    name,
    email,
    ((id * 7919) % 10_000) / 100,
    id % 4 !== 0,
    createdAt(id),
    EPOCH_1950_DAYS + ((id * 97) % 20_000),
    balance,
    profile,
    avatar,
  ];
}

/** The `events` row of user `id` (the event's id is the user's). */
export function event(id: number): unknown[] {
  return [id, id, EVENT_KINDS[id % 4], createdAt(id) + 300_000_000n];
}
