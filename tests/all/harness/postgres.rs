//! A real PostgreSQL server for the tests: `initdb` into a temp dir, then
//! `postgres` as a child process on a free port (or inside a network
//! namespace), with TLS from a throwaway CA, a SCRAM user and an md5 user, and
//! helpers to seed tables and fingerprint them. Killed and removed on drop.
//!
//! PostgreSQL refuses to run as root, so `initdb` and the server run as the
//! unprivileged system user [`OS_USER`] (created on first use); setup goes
//! through the unix socket as the superuser `postgres`, clients through TCP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The system user `initdb` and the server run as.
pub const OS_USER: &str = "airlock-pg";
/// The database the helpers create tables in.
pub const DATABASE: &str = "shop";
/// The superuser (trusted over the unix socket only).
pub const SUPERUSER: &str = "postgres";
/// A login role with a SCRAM-SHA-256 password and `SELECT` on every table.
pub const READER: &str = "reader";
/// [`READER`]'s password.
pub const READER_PASSWORD: &str = "reader-pw-3f9a";
/// A login role with an md5 password (older servers, old setups) and `SELECT`.
pub const LEGACY: &str = "legacy";
/// [`LEGACY`]'s password.
pub const LEGACY_PASSWORD: &str = "legacy-pw-7c21";
/// The name the default server certificate is issued for.
pub const TLS_NAME: &str = "db.internal.test";

/// Client networks `pg_hba.conf` admits: loopback, and the test namespaces'
/// subnets (`netns.rs`: private endpoints 10.77/16, bastion links 10.78/16,
/// database links 10.79/16).
const CLIENT_NETWORKS: &[&str] = &[
    "127.0.0.1/32",
    "::1/128",
    "10.77.0.0/16",
    "10.78.0.0/16",
    "10.79.0.0/16",
];

/// Unit separator: what `query` splits fields on; test data never holds it.
const FS: &str = "\x1f";
/// Record separator: what `query` splits rows on (values may hold newlines).
const RS: &str = "\x1e";

/// How to start the server.
#[derive(Clone, Debug)]
pub struct Options {
    /// `listen_addresses`.
    pub listen: IpAddr,
    /// The port; by default a free one (5432 inside a namespace, which has
    /// ports of its own).
    pub port: Option<u16>,
    /// A network namespace (`ip netns`) to run the server in.
    pub netns: Option<String>,
    /// The DNS name the server certificate is issued for.
    pub tls_name: String,
    /// Admit TCP clients only over TLS (`hostssl` lines, no `host` lines).
    pub require_tls: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: None,
            netns: None,
            tls_name: TLS_NAME.to_owned(),
            require_tls: false,
        }
    }
}

/// A running server; stopped and deleted on drop.
pub struct Postgres {
    /// Data directory (`data/`), unix socket, certificates (`ca.pem`) and the
    /// server log (`postgres.log`).
    pub dir: tempfile::TempDir,
    /// Where clients reach it (inside its namespace, if it has one).
    pub addr: SocketAddr,
    /// The options it was started with.
    pub options: Options,
    bin: PathBuf,
    child: Option<Child>,
}

impl Postgres {
    /// Starts a server with the default [`Options`]: 127.0.0.1, a free port,
    /// TLS for [`TLS_NAME`], plain TCP allowed.
    pub fn start() -> Postgres {
        Postgres::start_with(Options::default())
    }

    /// Starts a server; returns once it accepts connections and the roles and
    /// [`DATABASE`] exist.
    pub fn start_with(options: Options) -> Postgres {
        let (uid, gid) = ensure_os_user();
        let bin = bindir();
        let dir = tempfile::Builder::new()
            .prefix("airlock-pg-")
            .tempdir_in(traversable_tmp())
            .expect("temp dir");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the temp dir");
        let d = dir.path().to_owned();
        let port = options.port.unwrap_or_else(|| {
            if options.netns.is_some() {
                5432
            } else {
                super::sshd::free_port()
            }
        });
        let mut pg = Postgres {
            addr: SocketAddr::new(options.listen, port),
            options,
            bin,
            child: None,
            dir,
        };

        let data = d.join("data");
        let out = Command::new("runuser")
            .args(["-u", OS_USER, "--"])
            .arg(pg.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale"])
            // Throwaway clusters: skip the fsyncs, they cost seconds.
            .args(["--no-sync", "--no-instructions"])
            .output()
            .expect("run initdb (apt-get install postgresql)");
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(data.join("pg_hba.conf"), pg.hba()).unwrap();

        let ca = airlock::demo::api::DemoCa::new().expect("test CA");
        let (chain, key) = ca
            .issue(&pg.options.tls_name)
            .expect("issue a test certificate");
        std::fs::write(d.join("ca.pem"), &ca.ca_pem).unwrap();
        std::fs::write(d.join("server.crt"), chain).unwrap();
        // PostgreSQL refuses a key others can read, or that another user owns.
        let key_path = d.join("server.key");
        std::fs::write(&key_path, key).unwrap();
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&key_path, Some(uid), Some(gid)).unwrap();

        pg.spawn();
        pg.setup_roles();
        pg
    }

    /// `pg_hba.conf`: the superuser over the socket; [`READER`] with SCRAM and
    /// [`LEGACY`] with md5 from [`CLIENT_NETWORKS`], over TLS and (unless
    /// `require_tls`) in the clear; nobody else.
    fn hba(&self) -> String {
        let mut s = format!("local all {SUPERUSER} trust\n");
        let kinds: &[&str] = if self.options.require_tls {
            &["hostssl"]
        } else {
            &["hostssl", "host"]
        };
        for kind in kinds {
            for net in CLIENT_NETWORKS {
                s += &format!("{kind} all {READER} {net} scram-sha-256\n");
                s += &format!("{kind} all {LEGACY} {net} md5\n");
            }
        }
        s
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let log = std::fs::File::create(self.log_path()).unwrap();
        let mut cmd = match &self.options.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "runuser"]);
                c
            }
            None => Command::new("runuser"),
        };
        let settings = [
            format!("listen_addresses={}", self.addr.ip()),
            format!("port={}", self.addr.port()),
            format!("unix_socket_directories={}", d.display()),
            "ssl=on".into(),
            format!("ssl_cert_file={}", d.join("server.crt").display()),
            format!("ssl_key_file={}", d.join("server.key").display()),
            // Speed over durability: the cluster dies with the test.
            "fsync=off".into(),
            "synchronous_commit=off".into(),
            "full_page_writes=off".into(),
            "shared_buffers=32MB".into(),
            "max_connections=40".into(),
            // Fixed renderings, so fingerprints do not depend on the machine.
            "timezone=UTC".into(),
            "datestyle=ISO, YMD".into(),
            "extra_float_digits=1".into(),
            "lc_messages=C".into(),
            "log_connections=on".into(),
        ];
        cmd.args(["-u", OS_USER, "--"])
            .arg(self.bin.join("postgres"))
            .arg("-D")
            .arg(d.join("data"));
        for s in &settings {
            cmd.arg("-c").arg(s);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);

        // Ready when it answers on its socket (reachable from any namespace).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .arg("-q")
                .arg("-h")
                .arg(d)
                .args(["-p", &self.addr.port().to_string()])
                .status()
                .expect("run pg_isready")
                .success();
            if ready {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("postgres exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn setup_roles(&self) {
        self.psql_in(
            "postgres",
            &format!(
                "SET password_encryption = 'scram-sha-256';\n\
                 CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}';\n\
                 SET password_encryption = 'md5';\n\
                 CREATE ROLE {LEGACY} LOGIN PASSWORD '{LEGACY_PASSWORD}';\n\
                 CREATE DATABASE {DATABASE};\n"
            ),
        );
        // Tables the superuser creates later are readable by both.
        self.psql(&format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READER}, {LEGACY};"
        ));
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The test CA's certificate (`ca.pem`), for an endpoint's `ca_file` or
    /// psql's `sslrootcert`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A libpq connection string for `user` with `password` to this server's
    /// [`DATABASE`]: `host` is the certificate's name and `hostaddr` the
    /// address, so `sslmode=verify-full` checks the name; `extra` is appended
    /// (e.g. `"sslmode=verify-full"`).
    pub fn conninfo(&self, user: &str, password: &str, extra: &str) -> String {
        self.conninfo_via(self.addr, user, password, extra)
    }

    /// Like [`Postgres::conninfo`], but dialing `addr` (a forwarded port):
    /// TLS still verifies the certificate's name.
    pub fn conninfo_via(
        &self,
        addr: SocketAddr,
        user: &str,
        password: &str,
        extra: &str,
    ) -> String {
        format!(
            "host={} hostaddr={} port={} dbname={DATABASE} user={user} password={password} \
             sslrootcert={} connect_timeout=5 {extra}",
            self.options.tls_name,
            addr.ip(),
            addr.port(),
            self.ca_file().display(),
        )
    }

    /// Runs `sql` as the superuser in [`DATABASE`]; returns psql's unaligned,
    /// tuples-only output (fields split by U+001F, rows by U+001E, NULL as
    /// `NULL`). Panics with psql's stderr if any statement fails.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in(DATABASE, sql)
    }

    fn psql_in(&self, db: &str, sql: &str) -> String {
        use std::io::Write;
        let mut child = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-P",
                "null=NULL",
            ])
            .args(["-F", FS, "-R", RS])
            .arg("-h")
            .arg(self.dir.path())
            .args([
                "-p",
                &self.addr.port().to_string(),
                "-U",
                SUPERUSER,
                "-d",
                db,
            ])
            // Statements from stdin run one by one, so CREATE DATABASE works.
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run psql (apt-get install postgresql-client)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql failed on:\n{sql}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("psql prints UTF-8")
    }

    /// Rows of one statement's result as strings (PostgreSQL's text output,
    /// NULL as `NULL`).
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let out = self.psql(sql);
        // psql ends the last row with a newline, not the record separator.
        let out = out.strip_suffix('\n').unwrap_or(&out);
        if out.is_empty() {
            return Vec::new();
        }
        out.split(RS)
            .map(|row| row.split(FS).map(str::to_owned).collect())
            .collect()
    }

    /// One value of `sql`.
    pub fn scalar(&self, sql: &str) -> String {
        let rows = self.query(sql);
        assert!(
            rows.len() == 1 && rows[0].len() == 1,
            "{sql}: expected one value, got {rows:?}"
        );
        rows[0][0].clone()
    }

    /// Creates `public.all_types`: primary key `id`, one column per type the
    /// connector maps (`c_int2` … `c_interval`, `c_inet` standing for the
    /// "other" types), and `updated_at timestamptz`. Rows: 1 ordinary values,
    /// 2 all NULL, 3 extremes (NaN, Infinity, min/max integers, a 30-digit
    /// unconstrained numeric, quotes, newline, tab, backslash), 4 more edges
    /// (-Infinity, empty text, astral-plane unicode, a leap day), 5 negative
    /// zero-ish and tiny values.
    pub fn seed_types(&self) {
        self.psql(
            r#"CREATE TABLE public.all_types (
    id integer PRIMARY KEY,
    c_int2 int2,
    c_int4 int4,
    c_int8 int8,
    c_numeric numeric(12,2),
    c_numeric_any numeric,
    c_float4 float4,
    c_float8 float8,
    c_bool boolean,
    c_text text,
    c_varchar varchar(20),
    c_char char(5),
    c_bytea bytea,
    c_timestamp timestamp,
    c_timestamptz timestamptz,
    c_date date,
    c_json json,
    c_jsonb jsonb,
    c_uuid uuid,
    c_inet inet,
    c_interval interval,
    updated_at timestamptz NOT NULL
);
INSERT INTO public.all_types VALUES
 (1, 12, 123456, 1234567890123, 1234.56, 3.14159265358979323846, 1.5, 2.718281828459045,
  true, 'hello', 'short', 'abc', '\x00ff10'::bytea,
  '2024-03-01 12:34:56.789012', '2024-03-01 12:34:56.789012+02', '2024-03-01',
  '{"a": [1, 2.5, null], "b": "x"}', '{"b": "x", "a": [1, 2.5, null]}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.1.10/24', '1 day 02:03:04',
  '2024-05-01 00:00:00+00'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '2024-05-01 00:00:01+00'),
 (3, -32768, 2147483647, -9223372036854775808, 9999999999.99,
  123456789012345678901234567890.123456789, 'NaN', 'Infinity',
  false, E'it''s "quoted"\nnext line\tand a tab \\ backslash', 'naïve café ☕', 'ab',
  ''::bytea, '1970-01-01 00:00:00', '1999-12-31 23:59:59.999999-08', '0001-01-01',
  '[]', '{}', '00000000-0000-0000-0000-000000000000', '::1', '-3 months',
  '2024-05-01 00:00:02+00'),
 (4, 32767, -2147483648, 9223372036854775807, -0.01, 0, '-Infinity', '-Infinity',
  true, '', '', '     ', '\xdeadbeef'::bytea,
  '2000-02-29 00:00:00', '2000-02-29 00:00:00+00', '2000-02-29',
  '"just a string"', 'null', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '10.0.0.1', '0',
  '2024-05-01 00:00:03+00'),
 (5, 0, 0, 0, 0.00, -0.000000001, 1e-30, -1e-300,
  false, '😀 𝄞 日本語', 'x', 'y', '\x27'::bytea,
  '2262-04-11 23:47:16.854775', '1900-01-01 00:00:00+00', '9999-12-31',
  '{"unicode": "☕", "nested": {"k": [true, false]}}', '{"n": 1.0}',
  '123e4567-e89b-12d3-a456-426614174000', '2001:db8::/32', '1 year 2 mons 3 days',
  '2024-05-01 00:00:04+00');
"#,
        );
    }

    /// Creates `table` with `n` rows of about 200 bytes each: `id bigint`
    /// primary key, `name`, `category`, `qty int`, `price numeric(12,2)`,
    /// `note` (128 hex characters), `created_at timestamp` and `updated_at
    /// timestamptz`. Values are a function of `id`, so two tables seeded alike
    /// fingerprint alike. One `INSERT … SELECT generate_series`, the key built
    /// after the load, then `VACUUM ANALYZE` so readers find settled pages.
    pub fn seed_rows(&self, table: &str, n: u64) {
        self.psql(&format!(
            "CREATE TABLE {table} (
    id bigint NOT NULL,
    name text NOT NULL,
    category text NOT NULL,
    qty integer NOT NULL,
    price numeric(12,2) NOT NULL,
    note text,
    created_at timestamp NOT NULL,
    updated_at timestamptz NOT NULL
);
INSERT INTO {table}
SELECT g, 'customer-' || g, (ARRAY['alpha','beta','gamma','delta'])[1 + g % 4],
       (g % 1000)::int, round((g % 100000) / 100.0, 2),
       md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) || md5((g + 3)::text),
       timestamp '2024-01-01' + g * interval '1 second',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, {n}) AS g;
ALTER TABLE {table} ADD PRIMARY KEY (id);
VACUUM ANALYZE {table};
"
        ));
    }

    /// Sets `updated_at = now()` on the rows of `table` matching `where_` (an
    /// SQL condition, e.g. `"id % 10 = 0"`); returns how many rows changed.
    pub fn touch(&self, table: &str, where_: &str) -> u64 {
        self.scalar(&format!(
            "WITH t AS (UPDATE {table} SET updated_at = now() WHERE {where_} RETURNING 1) \
             SELECT count(*) FROM t"
        ))
        .parse()
        .unwrap()
    }

    /// The columns of `table` in order, quoted as identifiers.
    pub fn columns(&self, table: &str) -> Vec<String> {
        self.query(&format!(
            "SELECT quote_ident(attname) FROM pg_attribute \
             WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped \
             ORDER BY attnum"
        ))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    }

    /// The primary key columns of `table`, in key order, quoted.
    pub fn primary_key(&self, table: &str) -> Vec<String> {
        self.query(&format!(
            "SELECT quote_ident(a.attname) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = '{table}'::regclass AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)"
        ))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    }

    /// [`Postgres::fingerprint_of`] over every column, each as `col::text`.
    pub fn fingerprint(&self, table: &str) -> (u64, String) {
        let cols = self.columns(table);
        let exprs: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
        let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        self.fingerprint_of(table, &exprs)
    }

    /// `(row count, md5)` of `table` rendered canonically through `exprs`,
    /// SQL expressions over the table's columns that yield text:
    ///
    /// - each row is rendered as its `exprs` values, a NULL as the two
    ///   characters `\N`, joined by U+001F, and followed by `\n`;
    /// - rows are ordered by the primary key, ascending (PostgreSQL's order
    ///   for its types: numbers numerically, text by byte since the cluster
    ///   is initialised with `--no-locale`);
    /// - the md5 is over the UTF-8 bytes of the concatenation, lowercase hex
    ///   (an empty table: `d41d8cd98f00b204e9800998ecf8427e`).
    ///
    /// Plain `col::text` (what [`Postgres::fingerprint`] uses) is PostgreSQL's
    /// text output with this server's fixed settings: `TimeZone = UTC`,
    /// `DateStyle = ISO, YMD`, `extra_float_digits = 1` (shortest exact
    /// floats, `NaN`, `Infinity`), bytea as `\x` + lowercase hex, booleans as
    /// `t`/`f`, timestamptz as `2024-03-01 10:34:56.789012+00`, json as
    /// written and jsonb normalised. To compare with another engine, pass
    /// expressions that render like it, e.g. `to_char(...)` or
    /// `encode(c_bytea, 'hex')`, and render the same way on its side.
    pub fn fingerprint_of(&self, table: &str, exprs: &[&str]) -> (u64, String) {
        assert!(!exprs.is_empty(), "fingerprint of no columns");
        let key = self.primary_key(table);
        assert!(!key.is_empty(), "{table} has no primary key");
        let line = exprs
            .iter()
            .map(|e| format!("coalesce(({e})::text, '\\N')"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = self.query(&format!(
            "SELECT count(*), md5(coalesce(string_agg(concat_ws(chr(31), {line}) || chr(10), '' \
             ORDER BY {}), '')) FROM {table}",
            key.join(", ")
        ));
        (row[0][0].parse().unwrap(), row[0][1].clone())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Immediate shutdown of the postmaster (SIGQUIT), which takes its
        // backends with it. Signal it by the pid it wrote, since the child we
        // hold is runuser (or ip netns exec), which may have forked.
        let pid = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().map(str::to_owned));
        if let Some(pid) = pid {
            let _ = Command::new("kill")
                .args(["-QUIT", pid.trim()])
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Runs `psql` as a client with the connection string `conninfo` (from inside
/// `netns` if given): `-X -At -v ON_ERROR_STOP=1 -c sql`. Returns stdout, or
/// stderr when psql fails (a refused login, an unverifiable certificate).
pub fn psql_client(netns: Option<&str>, conninfo: &str, sql: &str) -> Result<String, String> {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bindir().join("psql"));
            c
        }
        None => Command::new(bindir().join("psql")),
    };
    let out = cmd
        .args([
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conninfo,
            "-c",
            sql,
        ])
        // Nothing from the environment or ~/.postgresql may change what is tested.
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGPASSWORD")
        .env_remove("PGSSLMODE")
        .env("PGSSLCERT", "/nonexistent")
        .env("PGSSLKEY", "/nonexistent")
        .output()
        .expect("run psql (apt-get install postgresql-client)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The directory with `initdb`, `postgres`, `pg_isready` and `psql`: the one
/// `pg_config --bindir` names if it has a server, else the highest version
/// under `/usr/lib/postgresql/*/bin` (Debian installs servers there, off PATH).
pub fn bindir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let has_server = |d: &Path| d.join("postgres").is_file() && d.join("initdb").is_file();
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && has_server(&d) {
                return d;
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                has_server(&bin).then_some((v, bin))
            })
            .collect();
        versions.sort();
        versions
            .pop()
            .map(|(_, d)| d)
            .expect("no PostgreSQL server found (pg_config --bindir, /usr/lib/postgresql/*/bin): apt-get install postgresql")
    })
    .clone()
}

/// A temp directory [`OS_USER`] can reach: `$TMPDIR` when every parent lets
/// others through, else `/tmp`.
fn traversable_tmp() -> PathBuf {
    let tmp = std::env::temp_dir();
    let ok = tmp.ancestors().all(|p| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    });
    if ok { tmp } else { PathBuf::from("/tmp") }
}

/// Creates [`OS_USER`] once per process; returns its (uid, gid).
fn ensure_os_user() -> (u32, u32) {
    static IDS: OnceLock<(u32, u32)> = OnceLock::new();
    *IDS.get_or_init(|| {
        let id = |flag: &str| {
            Command::new("id")
                .args([flag, OS_USER])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .parse::<u32>()
                        .ok()
                })
        };
        if id("-u").is_none() {
            // Another process (a bench, a second test run) may create it at the
            // same moment; `id` decides.
            let _ = Command::new("useradd")
                .args(["--system", "--user-group", "--no-create-home"])
                .args(["--shell", "/usr/sbin/nologin", OS_USER])
                .stderr(Stdio::null())
                .status();
        }
        (
            id("-u").unwrap_or_else(|| panic!("could not create the system user {OS_USER}")),
            id("-g").unwrap(),
        )
    })
}
