//! `pathstore`: the command-line client of the pathstore kernel module (`/dev/pathstore`), in
//! the style of etcdctl, zkCli and keyctl.
//!
//! ```text
//! pathstore set /svc/api/leader host-a        # create or replace a value
//! pathstore set --create /lock me             # fail with EEXIST if /lock exists
//! pathstore set /blob --stdin < file.bin      # binary-safe (also: pathstore set /blob -)
//! pathstore get /svc/api/leader               # the raw value, no newline added
//! pathstore get --json /svc/api/leader        # {"path":...,"value":...,"version":N}
//! pathstore get /a /b /c                      # several: one batched call, each value + newline
//! pathstore ls /svc                           # one child name per line
//! pathstore tree /svc                         # box-drawing picture with short values
//! pathstore stat /svc/api/leader              # version, times, children, value length
//! pathstore stats                             # store usage and limits
//! pathstore rm -r /svc                        # delete a subtree
//! pathstore dump / > backup.json              # JSON backup of a subtree
//! pathstore load backup.json                  # restore it (also from stdin: load -)
//! pathstore version                           # versions of this program and of the module
//! ```
//!
//! The device is `--device PATH`, else `$PATHSTORE_DEVICE`, else `/dev/pathstore`.
//!
//! Exit status: 0 on success; 1 when an operation fails, with one line on stderr such as
//! `pathstore: get /missing: No such file or directory (ENOENT)`; 2 for a usage error.
//!
//! # JSON
//!
//! Byte strings (paths, names, values) appear in JSON as a string field `x` when they are valid
//! UTF-8, otherwise as `x_base64` holding their bytes in standard base64 with padding. So
//! `get --json` prints `{"path":"/a","value":"text","version":7}` or
//! `{"path":"/a","value_base64":"AP8=","version":7}`.
//!
//! # Dump format
//!
//! `dump` writes, and `load` reads, one JSON object: a format version and a flat list of entries,
//! one per node of the subtree (the dumped node included), parents before children, one per
//! line:
//!
//! ```json
//! {"pathstore_dump":1,"entries":[
//! {"path":"/svc"},
//! {"path":"/svc/api/leader","value":"host-a"},
//! {"path":"/svc/blob","value_base64":"AAEC/w=="}
//! ]}
//! ```
//!
//! Each entry has `path` (or `path_base64`), the absolute path, and `value` (or
//! `value_base64`); an entry without a value field is a node without a value. Unknown fields
//! are rejected. `load` sets every entry in order; entries without a value only make sure the
//! node exists. It deletes nothing, so loading into an empty subtree restores it exactly. With
//! `--create` an entry with a value fails with `EEXIST` when its node exists. The full
//! description is in the `pathstore::dump` module of the client library.

mod commands;
mod tree;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pathstore::{Errno, ErrnoDisplay, DEFAULT_DEVICE};

/// Command-line client of the pathstore kernel module.
#[derive(Debug, Parser)]
#[command(name = "pathstore", version, about, long_about = None)]
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
    /// Set the value of a node, creating it and its missing parents.
    Set {
        /// Fail (EEXIST) if the node exists.
        #[arg(long)]
        create: bool,
        /// Who else may use the nodes this creates (and the node itself, if you own it):
        /// `private`, `read` (the default for new nodes) or `read-write`.
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// Compare-and-set: replace the value only if the node's version is N (else fail with
        /// ESTALE, printing the current version).
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
    /// but not all of them one snapshot) and prints each value followed by a newline, in order
    /// (with --json, a JSON array of the objects). If any get fails, prints nothing and fails
    /// with the error of the first path that failed.
    Get {
        /// Print {"path","value"|"value_base64","version"} as JSON.
        #[arg(long)]
        json: bool,
        /// The node's path (or several).
        #[arg(required = true, num_args = 1..)]
        paths: Vec<OsString>,
    },
    /// Delete a node.
    Rm {
        /// Delete the node and everything below it.
        #[arg(short, long)]
        recursive: bool,
        /// Delete only if the node's version is N (else fail with ESTALE, printing the current
        /// version).
        #[arg(long, value_name = "N")]
        if_version: Option<u64>,
        /// The node's path.
        path: OsString,
    },
    /// List the children of a node, one name per line, in byte order.
    Ls {
        /// Print a JSON array of {"name"|"name_base64"} objects.
        #[arg(long)]
        json: bool,
        /// The node's path.
        path: OsString,
    },
    /// Draw a subtree, with short values after the names.
    Tree {
        /// The root of the subtree.
        #[arg(default_value = "/")]
        path: OsString,
    },
    /// Print the metadata of a node.
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
    /// Write a subtree as JSON to standard output, for backups and migration (see `load`).
    Dump {
        /// The root of the subtree.
        #[arg(default_value = "/")]
        path: OsString,
    },
    /// Restore the nodes of a `dump`: set every entry, deleting nothing.
    Load {
        /// Fail (EEXIST) on an entry with a value whose node exists.
        #[arg(long)]
        create: bool,
        /// The dump file; `-` is standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Print the versions of this program and of the module.
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
        /// Fail (ETIMEDOUT) when no change comes for this many milliseconds.
        #[arg(long, value_name = "MS")]
        timeout: Option<u64>,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// The node's path.
        path: OsString,
    },
    /// Apply the steps read from FILE (or standard input), one per line, all or nothing:
    /// `check PATH VERSION`, `absent PATH`, `set PATH VALUE`, `create PATH VALUE`,
    /// `set-if PATH VERSION VALUE`, `rm [-r] PATH`, `rm-if [-r] PATH VERSION`. Prints the version
    /// of the changes.
    Txn {
        /// Print JSON.
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
    /// A dump could not be parsed.
    #[error("{op} {path}: the node's version is {current}, not {expected} (ESTALE)")]
    Stale {
        op: &'static str,
        path: String,
        expected: u64,
        current: u64,
    },
    #[error("txn: line {line}: {message}")]
    TxnSyntax { line: usize, message: String },
    #[error("txn: step {step} (line {line}) failed: {}{}; nothing was changed", ErrnoDisplay(*.errno), .current.map(|v| format!(", the node's version is {v}")).unwrap_or_default())]
    TxnFailed {
        step: usize,
        line: usize,
        errno: Errno,
        current: Option<u64>,
    },
    #[error("watch {path}: no change within {ms} ms (ETIMEDOUT)")]
    Timeout { path: String, ms: u64 },
    #[error("run {command}: {}", IoDisplay(.source))]
    Spawn { command: String, source: io::Error },
    #[error("{what}: {source}")]
    Json {
        /// Where the dump came from.
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
}

/// Displays an I/O error like a store error: `No such file or directory (ENOENT)`.
struct IoDisplay<'a>(&'a io::Error);

impl fmt::Display for IoDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => ErrnoDisplay(Errno::from_raw_os_error(code)).fmt(f),
            None => self.0.fmt(f),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(&cli.device, cli.command) {
        Ok(commands::Exit::Success) => ExitCode::SUCCESS,
        Ok(commands::Exit::Code(code)) => ExitCode::from(code),
        // A reader that went away (`pathstore dump | head`) is not worth a message; exit as a
        // program killed by SIGPIPE would.
        Err(CliError::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(141)
        }
        Err(err) => {
            eprintln!("pathstore: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn io_errors_show_errno_names() {
        let err = CliError::io("read x")(io::Error::from_raw_os_error(2));
        assert_eq!(
            err.to_string(),
            "read x: No such file or directory (ENOENT)"
        );
    }
}
