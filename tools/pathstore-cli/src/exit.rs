// SPDX-License-Identifier: MIT OR Apache-2.0

//! The exit status of `pathstore`: one per kind of failure, so that a script can tell a missing
//! node from a lost race, a timeout or a missing device.
//!
//! The numbers follow the small-integer style of grep, diff, curl and etcdctl rather than
//! sysexits.h (64-78): clap, like most Unix tools, already exits 2 for a usage error, and the
//! shell's own conventions hold above 125 (126 cannot run, 127 not found, 128+N killed by signal
//! N), which `set --ephemeral -- COMMAND` passes on. docs/cli.md explains the choice.

use pathstore::ErrorClass;

/// Any other failure.
pub const OTHER: u8 = 1;
/// A usage error: clap's own status for a bad command line.
pub const USAGE: u8 = 2;
/// No such node, or a node without a value.
pub const NOT_FOUND: u8 = 3;
/// Version mismatch, the node exists, has children, or its parent is ephemeral.
pub const CONDITION_FAILED: u8 = 4;
/// Permission or quota.
pub const DENIED: u8 = 5;
/// A watch timed out.
pub const TIMEOUT: u8 = 6;
/// No usable device: missing, not pathstore, or another ABI.
pub const UNAVAILABLE: u8 = 7;
/// The COMMAND of `set --ephemeral` could not be run.
pub const COMMAND_NOT_RUN: u8 = 126;
/// The COMMAND of `set --ephemeral` was not found.
pub const COMMAND_NOT_FOUND: u8 = 127;
/// Base of `128 + N`, for a COMMAND killed by signal N.
pub const SIGNALLED: u8 = 128;
/// The status of a program killed by SIGPIPE, given when standard output is a closed pipe.
pub const BROKEN_PIPE: u8 = SIGNALLED + 13;

/// Every exit status, with its meaning: the table of `--help`, the man page and docs/cli.md.
pub const TABLE: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "Any other failure: an invalid path or argument (EINVAL, ENAMETOOLONG, E2BIG), \
         EOVERFLOW, ENOMEM, EUCLEAN, EINTR, a file that cannot be read or written, malformed \
         input to load or txn.",
    ),
    (
        "2",
        "Usage: a bad command line (unknown option, missing argument).",
    ),
    (
        "3",
        "Not found: no such node (ENOENT), or a node without a value (ENODATA).",
    ),
    (
        "4",
        "Condition failed: version mismatch (ESTALE), node exists (EEXIST), node has children \
         (ENOTEMPTY), parent is ephemeral (ENOTDIR).",
    ),
    (
        "5",
        "Permission or quota: permission denied (EACCES), not permitted (EPERM), quota exceeded \
         (EDQUOT), store full (ENOSPC); also no permission to open the device.",
    ),
    ("6", "Timeout: watch --timeout saw no change (ETIMEDOUT)."),
    (
        "7",
        "No store: the device cannot be opened (missing, module not loaded), is not a pathstore \
         device, or the module speaks another ABI version.",
    ),
    (
        "126",
        "set --ephemeral -- COMMAND: COMMAND was found but could not be run.",
    ),
    ("127", "set --ephemeral -- COMMAND: COMMAND was not found."),
    (
        "128+N",
        "set --ephemeral -- COMMAND: COMMAND was killed by signal N. Otherwise COMMAND's own \
         exit status is passed on. 141 (SIGPIPE) also when standard output is a closed pipe.",
    ),
];

/// The exit status of a store error of class `class`.
pub fn of_class(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::NotFound => NOT_FOUND,
        ErrorClass::ConditionFailed => CONDITION_FAILED,
        ErrorClass::Denied => DENIED,
        ErrorClass::Timeout => TIMEOUT,
        ErrorClass::Unavailable => UNAVAILABLE,
        _ => OTHER,
    }
}

/// The exit status table as the end of `pathstore --help`.
pub fn help_text() -> String {
    let mut text = String::from("Exit status:\n");
    for (code, meaning) in TABLE {
        text.push_str(&format!("  {code:<6} {}\n", wrap(meaning, 72, 9)));
    }
    text.push_str("\nFull reference: docs/cli.md; manual: pathstore(1) (`pathstore man`).");
    text
}

/// Wraps `text` at `width` columns, indenting continuation lines by `indent` spaces.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut column = 0;
    for word in text.split(' ') {
        if column > 0 && column + 1 + word.len() > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = 0;
        } else if column > 0 {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_code() {
        let codes: Vec<&str> = TABLE.iter().map(|(code, _)| *code).collect();
        for code in [
            OTHER,
            USAGE,
            NOT_FOUND,
            CONDITION_FAILED,
            DENIED,
            TIMEOUT,
            UNAVAILABLE,
            COMMAND_NOT_RUN,
            COMMAND_NOT_FOUND,
        ] {
            assert!(codes.contains(&code.to_string().as_str()), "{code}");
        }
        assert!(codes.contains(&"128+N"));
    }

    #[test]
    fn classes_have_distinct_codes() {
        let classes = [
            ErrorClass::NotFound,
            ErrorClass::ConditionFailed,
            ErrorClass::Denied,
            ErrorClass::Timeout,
            ErrorClass::Unavailable,
            ErrorClass::Other,
        ];
        let mut codes: Vec<u8> = classes.iter().map(|&c| of_class(c)).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), classes.len());
        assert!(!codes.contains(&USAGE));
    }

    #[test]
    fn help_text_wraps() {
        let text = help_text();
        assert!(text.starts_with("Exit status:\n  0      Success.\n"));
        assert!(text.lines().all(|line| line.len() <= 81), "{text}");
        assert!(text.contains("\n  4      Condition failed: version mismatch (ESTALE)"));
    }

    #[test]
    fn usage_is_clap_s_code() {
        let err = crate::command()
            .try_get_matches_from(["pathstore", "--bogus"])
            .unwrap_err();
        assert_eq!(err.exit_code(), i32::from(USAGE));
    }
}
