// Leveled messages for the host's log, tagged there with the job.
// `console.log` and `console.error` land there too, as the connector's stdout
// and stderr. Never log secrets (the host masks the config's anyway).
import { log as hostLog } from "airlock:connector/log@0.1.0";

const write = (level) => (...parts) => hostLog(level, parts.map((p) => (typeof p === "string" ? p : String(p))).join(" "));

export const log = {
  trace: write("trace"),
  debug: write("debug"),
  info: write("info"),
  warn: write("warn"),
  error: write("error"),
};
