"""The rows of user `id`, value for value those of the Rust `hello`
(guest-examples/hello/src/rows.rs), cheap deterministic functions of the id."""

import datetime as dt

#: 2020-01-01T00:00:00Z in microseconds since the epoch.
EPOCH_2020_MICROS = 1_577_836_800_000_000
#: 1950-01-01 in days since the epoch.
EPOCH_1950_DAYS = -7305
MASK = (1 << 64) - 1

FIRST = ("Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "John", "Ken",
         "Leslie", "Margaret", "Niklaus", "Radia", "Tim", "Vint")
LAST = ("Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen", "Hopper", "Backus",
        "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman", "Berners-Lee", "Cerf")
TIERS = ("free", "basic", "pro", "enterprise")
EVENT_KINDS = ("signup", "login", "purchase", "logout")


def created_at(i: int) -> int:
    """One user created every 61 seconds from 2020-01-01."""
    return EPOCH_2020_MICROS + i * 61_000_000


def user(i: int) -> tuple:
    """id, name, email (None for every 5th id), score, active, created_at,
    birthday, balance, profile, avatar."""
    cents = (i * 104_729 & MASK) % 1_000_000_000
    sign = "-" if i % 7 == 0 and cents != 0 else ""
    b = i.to_bytes(8, "little")
    return (
        i,
        f"{FIRST[i % 16]} {LAST[i // 16 % 16]}",
        None if i % 5 == 0 else f"user{i}@example.com",
        ((i * 7919 & MASK) % 10_000) / 100,
        i % 4 != 0,
        created_at(i),
        EPOCH_1950_DAYS + (i * 97 & MASK) % 20_000,
        f"{sign}{cents // 100}.{cents // 10 % 10}{cents % 10}",
        f'{{"tier":"{TIERS[i % 4]}","visits":{(i * 31 & MASK) % 1000}}}',
        bytes((b[0], b[1], b[2], b[3], b[0] ^ 0xFF, b[1] ^ 0xFF, b[2] ^ 0xFF, b[3] ^ 0xFF)),
    )


def event(i: int) -> tuple:
    """The `events` row of user `id` (the event's id is the user's)."""
    return (i, i, EVENT_KINDS[i % 4], created_at(i) + 300_000_000)
