// `js-hello`: the `hello` connector in TypeScript. It makes up users and one
// event per user, every value a deterministic function of the user's id, so
// two runs (and the Rust hello) produce identical tables. Each run emits the
// users from the cursor on and advances it; every user whose id % 10 == 3 is
// deleted right after being emitted.
import { ColumnType, ConfigError, Connector, Output, Table, log, schema } from "airlock-sdk";
import type { Infer } from "airlock-sdk";
import { event, user } from "./rows";

const Config = schema.object(
  {
    users: schema.integer({
      default: 1000,
      description: "Users the made-up source holds (ids 1..=users), each with one row in `events`.",
    }),
    checkpoint_every: schema.integer({
      default: 100,
      description: "Checkpoint (commit with the cursor) after every this many users; at least 1.",
    }),
    fail_after_checkpoints: schema.optional(
      schema.integer({
        description: "Fault injection: throw right after this many checkpoints of this run.",
      }),
    ),
  },
  { description: "Makes up users and their events, deterministically (no network, no clock)." },
);

const State = schema.object({
  next_id: schema.integer({ default: 1, description: "The id of the next user to emit." }),
});

type Config = Infer<typeof Config>;
type State = Infer<typeof State>;

export default class Hello extends Connector<Config, State> {
  static config = Config;
  static state = State;

  check(config: Config): void {
    if (config.checkpoint_every < 1) throw new ConfigError("`checkpoint_every` must be at least 1");
  }

  discover(_config: Config): Table[] {
    return [
      new Table("users")
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
      new Table("events")
        .column("id", ColumnType.INT)
        .column("user_id", ColumnType.INT)
        .column("kind", ColumnType.TEXT)
        .column("at", ColumnType.TIMESTAMP)
        .key("id"),
    ];
  }

  sync(config: Config, state: State, out: Output): void {
    this.check(config);
    log.info(`js-hello: starting at cursor next_id=${state.next_id}, source holds ${config.users} users`);
    let checkpoints = 0;
    const checkpoint = () => {
      out.checkpoint(state);
      checkpoints++;
      if (config.fail_after_checkpoints === checkpoints) {
        throw new Error(`js-hello: fault injected after ${checkpoints} checkpoints (fail_after_checkpoints)`);
      }
    };
    const first = state.next_id;
    for (let id = first; id <= config.users; id++) {
      out.upsert("users", user(id));
      out.upsert("events", event(id));
      if (id % 10 === 3) out.delete("users", id);
      state.next_id = id + 1;
      if ((state.next_id - first) % config.checkpoint_every === 0) checkpoint();
    }
    checkpoint();
    log.info(`js-hello: emitted ${out.rowsEmitted} rows, cursor now next_id=${state.next_id}`);
  }
}
