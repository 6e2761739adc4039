"""`python-hello`: the `hello` connector in Python. Users 1..=users and one
event each, every value a function of the id; every user whose id % 10 == 3
is deleted right after being emitted; a cursor and a checkpoint every
`checkpoint_every` users."""

from dataclasses import dataclass
from typing import Annotated, Optional

from airlock_sdk import ColumnType, ConfigError, Connector, Output, Table, log

from rows import event, user


@dataclass
class Config:
    """Makes up users and their events, deterministically (no network, no clock)."""

    users: Annotated[int, "Users the made-up source holds (ids 1..=users)."] = 1000
    checkpoint_every: Annotated[int, "Checkpoint after every this many users; at least 1."] = 100
    fail_after_checkpoints: Annotated[Optional[int], "Fault injection: raise after this many checkpoints."] = None


@dataclass
class State:
    next_id: int = 1


class Hello(Connector):
    Config = Config
    State = State

    def check(self, config: Config) -> None:
        if config.checkpoint_every < 1:
            raise ConfigError("`checkpoint_every` must be at least 1")

    def discover(self, config: Config) -> list[Table]:
        return [
            Table("users")
            .column("id", ColumnType.INT)
            .column("name", ColumnType.TEXT)
            .nullable("email", ColumnType.TEXT)
            .column("score", ColumnType.FLOAT)
            .column("active", ColumnType.BOOLEAN)
            .column("created_at", ColumnType.TIMESTAMP)
            .column("birthday", ColumnType.DATE)
            .column("balance", ColumnType.decimal(12, 2))
            .column("profile", ColumnType.JSON)
            .column("avatar", ColumnType.BYTES)
            .key("id"),
            Table("events")
            .column("id", ColumnType.INT)
            .column("user_id", ColumnType.INT)
            .column("kind", ColumnType.TEXT)
            .column("at", ColumnType.TIMESTAMP)
            .key("id"),
        ]

    def sync(self, config: Config, state: State, out: Output) -> None:
        self.check(config)
        log.info("python-hello: starting at cursor next_id=%d, source holds %d users", state.next_id, config.users)
        checkpoints = 0
        first = state.next_id
        every = config.checkpoint_every
        upsert, delete = out.upsert, out.delete
        for i in range(first, config.users + 1):
            upsert("users", user(i))
            upsert("events", event(i))
            if i % 10 == 3:
                delete("users", i)
            if (i + 1 - first) % every == 0:
                state.next_id = i + 1
                out.checkpoint(state)
                checkpoints += 1
                if config.fail_after_checkpoints == checkpoints:
                    raise RuntimeError(f"python-hello: fault injected after {checkpoints} checkpoints")
        state.next_id = max(first, config.users + 1)
        out.checkpoint(state)
        log.info("python-hello: emitted %d rows, cursor now next_id=%d", out.rows_emitted, state.next_id)
