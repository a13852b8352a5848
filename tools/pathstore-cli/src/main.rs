// SPDX-License-Identifier: MIT OR Apache-2.0

//! `pathstore`: the command-line client of the pathstore kernel module (`/dev/pathstore`), in
//! the style of etcdctl, zkCli and keyctl, made for scripts: an exit status per kind of failure,
//! messages in the store's terms, JSON and NUL-separated output.
//!
//! ```text
//! pathstore set /svc/api/leader host-a        # create or replace a value; prints the version
//! pathstore set --create /lock me             # exit 4 (EEXIST) if /lock exists
//! pathstore set /blob --stdin < file.bin      # binary-safe (also: pathstore set /blob -)
//! pathstore get /svc/api/leader               # the raw value, no newline added
//! pathstore get --json /svc/api/leader        # {"path":...,"value":...,"version":N}
//! pathstore get -z /a /b /c                   # several: one batched call, each value + NUL
//! pathstore ls /svc                           # one child name per line
//! pathstore ls -R /svc                        # every path below /svc
//! pathstore tree /svc                         # box-drawing picture with short values
//! pathstore tree --json /svc                  # the same as nested JSON
//! pathstore stat /svc/api/leader              # version, times, children, value length
//! pathstore watch --timeout 30s /svc/config   # exit 6 if nothing changes in 30 s
//! pathstore txn --json < steps.json           # all or nothing, binary values in base64
//! pathstore completions bash                  # shell completions (bash, zsh, fish, ...)
//! pathstore man --dir /usr/share/man/man1     # man pages
//! ```
//!
//! The full reference, kept in step with this program's `--help` by a test, is `docs/cli.md`.

mod commands;
mod exit;
mod generate;
mod tree;
mod txn;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use pathstore::{Errno, ErrnoDisplay, OsErrnoDisplay, DEFAULT_DEVICE};

/// Command-line client of the pathstore kernel module.
///
/// pathstore is an ephemeral hierarchical key-value store in the kernel, served at the device
/// /dev/pathstore: nodes named by paths such as /svc/api/leader, each with an optional binary
/// value, a version, an owner and an access mode. This program sets, reads, lists, watches and
/// backs up nodes, and runs all-or-nothing transactions.
///
/// Values are written to standard output as raw bytes; every failure is one line on standard
/// error, `pathstore: OP PATH: MESSAGE (ERRNO)`, and an exit status that tells its kind (below).
#[derive(Debug, Parser)]
#[command(name = "pathstore", version, about, long_about)]
struct Cli {
    /// The pathstore device.
    #[arg(long, global = true, value_name = "PATH", env = "PATHSTORE_DEVICE", default_value = DEFAULT_DEVICE)]
    device: PathBuf,

    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Set the value of a node, creating it and its missing parents; print the new version.
    ///
    /// Prints the node's new version (with --sequential, the path created instead), or with
    /// --json {"path"|"path_base64", "version"}. With --ephemeral and a COMMAND, prints nothing
    /// (standard output is COMMAND's): COMMAND finds the node's path in $PATHSTORE_NODE and its
    /// version in $PATHSTORE_VERSION, and pathstore exits with COMMAND's status (128+N if a
    /// signal N killed it, 126 if it could not be run, 127 if it was not found).
    Set {
        /// Fail (EEXIST, exit 4) if the node exists.
        #[arg(long)]
        create: bool,
        /// Who else may use the nodes this creates (and the node itself, if you own it):
        /// `private`, `read` (the default for new nodes) or `read-write`.
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// Compare-and-set: replace the value only if the node's version is N (else fail with
        /// ESTALE, exit 4, naming the current version).
        #[arg(long, value_name = "N", conflicts_with_all = ["create", "ephemeral", "sequential"])]
        if_version: Option<u64>,
        /// Create an ephemeral node, which lives as long as this command: until COMMAND (after
        /// `--`) exits, or without COMMAND until this command is killed.
        #[arg(long)]
        ephemeral: bool,
        /// Create a sequential node: PATH's last component followed by ten digits of a counter
        /// of its parent; prints the path created.
        #[arg(long)]
        sequential: bool,
        /// Read the value from standard input (binary-safe); same as VALUE `-`.
        #[arg(long, conflicts_with = "value")]
        stdin: bool,
        /// Print {"path"|"path_base64","version"} as JSON.
        #[arg(long)]
        json: bool,
        /// The node's path, e.g. /svc/api/leader.
        path: OsString,
        /// The value; `-` reads it from standard input.
        #[arg(required_unless_present = "stdin")]
        value: Option<OsString>,
        /// With --ephemeral: the command to run while the node exists; its exit status is ours.
        #[arg(last = true, requires = "ephemeral", value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Print the value of a node (raw bytes, nothing added).
    ///
    /// With several paths, reads them in batched calls (PATHSTORE_IOC_GET_BATCH, each get atomic
    /// but not all of them one snapshot) and prints each value followed by a newline, or with
    /// -z by a NUL byte (unambiguous for any value), in order; with --json, a JSON array of the
    /// objects. If any get fails, prints nothing and fails with the error of the first path that
    /// failed.
    Get {
        /// Print {"path","value"|"value_base64","version"} as JSON.
        #[arg(long, conflicts_with = "null")]
        json: bool,
        /// End each value with a NUL byte (unambiguous with several paths, e.g. for xargs -0).
        #[arg(short = 'z', long)]
        null: bool,
        /// The node's path (or several).
        #[arg(required = true, num_args = 1..)]
        paths: Vec<OsString>,
    },
    /// Delete a node.
    Rm {
        /// Delete the node and everything below it.
        #[arg(short, long)]
        recursive: bool,
        /// Delete only if the node's version is N (else fail with ESTALE, exit 4, naming the
        /// current version).
        #[arg(long, value_name = "N")]
        if_version: Option<u64>,
        /// The node's path.
        path: OsString,
    },
    /// List the children of a node, one name per line, in byte order.
    ///
    /// With -R, lists the full path of every node below PATH instead (depth first, parents
    /// before children, children in byte order), as `find` would; the listing is not a snapshot
    /// of a store that changes meanwhile.
    Ls {
        /// List every node below, by full path.
        #[arg(short = 'R', long)]
        recursive: bool,
        /// Print a JSON array of {"name"|"name_base64"} objects ({"path"|"path_base64"} with -R).
        #[arg(long, conflicts_with = "null")]
        json: bool,
        /// End each name with a NUL byte instead of a newline (names may hold newlines).
        #[arg(short = 'z', long)]
        null: bool,
        /// The node's path.
        path: OsString,
    },
    /// Draw a subtree, with short values after the names.
    ///
    /// With --json, prints the subtree as one nested JSON object: the root has "path" (or
    /// "path_base64"), every other node "name" (or "name_base64"); a node with a value has
    /// "value" (or "value_base64"); every node has "children", an array in byte order.
    Tree {
        /// Print the subtree as nested JSON.
        #[arg(long)]
        json: bool,
        /// The root of the subtree.
        #[arg(default_value = "/")]
        path: OsString,
    },
    /// Print the metadata of a node.
    ///
    /// Times are shown in UTC (RFC 3339, nanoseconds); with --json they are raw nanoseconds
    /// since the epoch (ctime_ns, mtime_ns).
    Stat {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The node's path.
        path: OsString,
    },
    /// Print usage and limits of the whole store.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a subtree as JSON to standard output, for backups and migration (see `load`)
    ///
    /// The dump is one JSON object: the format version and a flat list of entries, one per node
    /// of the subtree (the dumped node included), parents before children, one per line:
    ///
    ///   {"pathstore_dump":1,"entries":[
    ///   {"path":"/svc"},
    ///   {"path":"/svc/api/leader","value":"host-a"},
    ///   {"path":"/svc/blob","value_base64":"AAEC/w=="}
    ///   ]}
    ///
    /// Each entry has "path" (or "path_base64"), the absolute path, and "value" (or
    /// "value_base64"); an entry without a value field is a node without a value. Strings that
    /// are not UTF-8 appear as the *_base64 field: standard base64 with padding. Versions, times
    /// and owners are not dumped.
    #[command(verbatim_doc_comment)]
    Dump {
        /// The root of the subtree.
        #[arg(default_value = "/")]
        path: OsString,
    },
    /// Restore the nodes of a `dump`: set every entry, deleting nothing.
    ///
    /// Unknown fields are rejected. Entries without a value only make sure the node exists. As
    /// nothing is deleted, loading into an empty subtree restores it exactly.
    Load {
        /// Fail (EEXIST, exit 4) on an entry with a value whose node exists.
        #[arg(long)]
        create: bool,
        /// The dump file; `-` is standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Print the versions of this program and of the module.
    ///
    /// Both come from the same project version; they differ only when the module loaded is
    /// older or newer than this program. What must match is the ABI version: a module with
    /// another one is refused (exit 7).
    Version {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Wait for changes of a node (or, with -r, of a subtree) and print each as
    /// `VERSION KIND PATH` (KIND: created, changed, deleted, or lost when changes were missed).
    Watch {
        /// Watch everything below the node too.
        #[arg(short, long)]
        recursive: bool,
        /// Report the changes after this version (default: the current one, i.e. from now on).
        #[arg(long, value_name = "VERSION")]
        after: Option<u64>,
        /// Stop after N changes.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Fail (ETIMEDOUT, exit 6) when no change comes within DURATION, e.g. 500ms, 30s, 2m,
        /// 1h30m; a bare number is milliseconds.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// The node's path.
        path: OsString,
    },
    /// Apply steps all or nothing; print the version of the changes
    ///
    /// Reads the steps from FILE (or standard input). Steps, one per line (blank lines are skipped; VALUE is the rest of the line):
    ///
    ///   check PATH VERSION         the node exists at VERSION (else ENOENT, ESTALE)
    ///   absent PATH                the node does not exist (else EEXIST)
    ///   set PATH VALUE             set the value, creating the node and its parents
    ///   create PATH VALUE          create the node (else EEXIST)
    ///   set-if PATH VERSION VALUE  replace the value at VERSION only (else ENOENT, ESTALE)
    ///   rm [-r] PATH               delete the node (-r: and everything below it)
    ///   rm-if [-r] PATH VERSION    delete it at VERSION only
    ///
    /// Prints `committed VERSION`. With --json, FILE is a JSON array of step objects instead,
    /// and the result is printed as {"version":N}:
    ///
    ///   [{"op":"check","path":"/a","version":7},
    ///    {"op":"set","path":"/b","value_base64":"AP8="},
    ///    {"op":"rm-if","path":"/c","version":3,"recursive":true}]
    ///
    /// "op" is one of the verbs above; "path" (or "path_base64") is required; "value" (or
    /// "value_base64", standard base64 with padding) for set, create and set-if; "version" for
    /// check, set-if and rm-if; "recursive" (default false) for rm and rm-if only. Unknown or
    /// misplaced fields are rejected.
    ///
    /// A failed step changes nothing and reports its number and errno; the exit status is
    /// that errno's class (3 for ENOENT, 4 for ESTALE or EEXIST, ...).
    #[command(verbatim_doc_comment)]
    Txn {
        /// Read the steps as a JSON array and print the result as JSON.
        #[arg(long)]
        json: bool,
        /// The steps; `-` for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Verify the whole store's counters and invariants (needs CAP_SYS_ADMIN).
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script for SHELL to standard output.
    ///
    /// For example: pathstore completions bash > /usr/share/bash-completion/completions/pathstore
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page pathstore(1) in roff to standard output, or with --dir write it and
    /// one page per subcommand (pathstore-set(1), ...) into a directory.
    Man {
        /// Write every page into DIR (created if missing) as pathstore.1, pathstore-set.1, ...
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Parses a duration: `500ms`, `30s`, `2m`, `1h30m` (humantime's units), or a bare number of
/// milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_millis)
            .map_err(|err| format!("{err}"));
    }
    humantime::parse_duration(text).map_err(|err| format!("{err} (examples: 500ms, 30s, 2m)"))
}

/// A node's access mode: what users other than its owner may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// Only the owner (and CAP_SYS_ADMIN) may read or change the node.
    Private,
    /// Others may read the value and list the children.
    Read,
    /// Others may also replace the value, delete the node and create children.
    ReadWrite,
}

impl Mode {
    /// The ABI's `MODE_*` bits.
    fn bits(self) -> u32 {
        match self {
            Mode::Private => 0,
            Mode::Read => pathstore::abi::MODE_OTHERS_READ,
            Mode::ReadWrite => pathstore::abi::MODE_ALL,
        }
    }

    /// How `stat` shows the bits `mode`.
    fn describe(mode: u32) -> &'static str {
        match mode {
            0 => "private",
            pathstore::abi::MODE_OTHERS_READ => "read",
            pathstore::abi::MODE_OTHERS_WRITE => "write-only",
            pathstore::abi::MODE_ALL => "read-write",
            _ => "unknown",
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// An operation on the store failed.
    #[error(transparent)]
    Store(#[from] pathstore::Error),
    /// Reading or writing a file or a standard stream failed.
    #[error("{what}: {}", IoDisplay(.source))]
    Io {
        /// What was read or written.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// A conditional set or delete found another version.
    #[error(
        "{op} {path}: version mismatch (ESTALE): the node's version is {current}, not {expected}"
    )]
    Stale {
        /// The subcommand.
        op: &'static str,
        /// The node's path.
        path: String,
        /// The version given.
        expected: u64,
        /// The node's version.
        current: u64,
    },
    /// The steps of a transaction could not be parsed.
    #[error("txn: {place}: {message}")]
    TxnSyntax {
        /// `line N` or `step N`.
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A step of a transaction failed.
    #[error("txn: step {step}{} failed: {}{}; nothing was changed",
        .line.map(|l| format!(" (line {l})")).unwrap_or_default(),
        ErrnoDisplay(*.errno),
        .current.map(|v| format!(", the node's version is {v}")).unwrap_or_default())]
    TxnFailed {
        /// The step's number, from 1.
        step: usize,
        /// Its line in text input.
        line: Option<usize>,
        /// Its error.
        errno: Errno,
        /// For ESTALE, the node's version.
        current: Option<u64>,
    },
    /// A watch saw no change in time.
    #[error("watch {path}: no change within {} (ETIMEDOUT)", humantime::format_duration(*.timeout))]
    Timeout {
        /// The watched path.
        path: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// The command of `set --ephemeral` could not be started.
    #[error("run {command}: {}", IoDisplay(.source))]
    Spawn {
        /// The program.
        command: String,
        /// The error.
        source: io::Error,
    },
    /// JSON input (a dump, transaction steps) could not be parsed.
    #[error("{what}: {source}")]
    Json {
        /// Where the input came from.
        what: String,
        /// The error.
        source: serde_json::Error,
    },
}

impl CliError {
    /// An I/O error while doing `what`.
    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> CliError {
        move |source| CliError::Io {
            what: what.into(),
            source,
        }
    }

    /// The exit status this failure gives (see [`exit`]).
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Store(err) => exit::of_class(err.class()),
            CliError::Stale { .. } => exit::CONDITION_FAILED,
            CliError::TxnFailed { errno, .. } => {
                exit::of_class(pathstore::ErrorClass::of(pathstore::Op::Txn, *errno))
            }
            CliError::Timeout { .. } => exit::TIMEOUT,
            CliError::Spawn { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                exit::COMMAND_NOT_FOUND
            }
            CliError::Spawn { .. } => exit::COMMAND_NOT_RUN,
            CliError::Io { .. } | CliError::TxnSyntax { .. } | CliError::Json { .. } => exit::OTHER,
        }
    }
}

/// Displays an I/O error of a file with the C library's text: `No such file or directory
/// (ENOENT)`.
struct IoDisplay<'a>(&'a io::Error);

impl fmt::Display for IoDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => OsErrnoDisplay(Errno::from_raw_os_error(code)).fmt(f),
            None => self.0.fmt(f),
        }
    }
}

/// The program's clap command: the derived one with the exit status table in its long help.
fn command() -> clap::Command {
    Cli::command().after_long_help(exit::help_text())
}

fn main() -> ExitCode {
    let parsed = command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        // --help and --version come this way too, to standard output with status 0.
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    match commands::run(&cli.device, cli.command) {
        Ok(code) => ExitCode::from(code),
        // A reader that went away (`pathstore dump | head`) is not worth a message; exit as a
        // program killed by SIGPIPE would.
        Err(CliError::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(exit::BROKEN_PIPE)
        }
        Err(err) => {
            eprintln!("pathstore: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        command().debug_assert();
    }

    #[test]
    fn io_errors_keep_the_system_text() {
        let err = CliError::io("read x")(io::Error::from_raw_os_error(2));
        assert_eq!(
            err.to_string(),
            "read x: No such file or directory (ENOENT)"
        );
        assert_eq!(err.exit_code(), exit::OTHER);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5 parsecs", "-1s", "ms", "1.5.s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn failures_exit_by_class() {
        use pathstore::Op;
        let store = |op, errno| CliError::Store(pathstore_error(op, errno));
        assert_eq!(store(Op::Get, Errno::NOENT).exit_code(), 3);
        assert_eq!(store(Op::Create, Errno::EXIST).exit_code(), 4);
        assert_eq!(store(Op::Set, Errno::DQUOT).exit_code(), 5);
        assert_eq!(store(Op::Open, Errno::NOENT).exit_code(), 7);
        assert_eq!(store(Op::Set, Errno::INVAL).exit_code(), 1);
        let txn = |errno| CliError::TxnFailed {
            step: 1,
            line: Some(1),
            errno,
            current: None,
        };
        assert_eq!(txn(Errno::STALE).exit_code(), 4);
        assert_eq!(txn(Errno::NOENT).exit_code(), 3);
        let timeout = CliError::Timeout {
            path: "/a".into(),
            timeout: Duration::from_millis(1500),
        };
        assert_eq!(timeout.exit_code(), 6);
        assert_eq!(
            timeout.to_string(),
            "watch /a: no change within 1s 500ms (ETIMEDOUT)"
        );
        let spawn = |kind| CliError::Spawn {
            command: "x".into(),
            source: io::Error::from(kind),
        };
        assert_eq!(spawn(io::ErrorKind::NotFound).exit_code(), 127);
        assert_eq!(spawn(io::ErrorKind::PermissionDenied).exit_code(), 126);
    }

    /// A store error of `op` with `errno`.
    fn pathstore_error(op: pathstore::Op, errno: Errno) -> pathstore::Error {
        pathstore::Error::Os {
            op,
            path: None,
            errno,
            needed: None,
            current: None,
        }
    }
}
