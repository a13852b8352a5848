// SPDX-License-Identifier: MIT OR Apache-2.0

//! Tests of the `pathstore` binary that need no pathstore device: usage, exit codes, messages and
//! dump parsing (which happens before the device is opened).

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `pathstore ARGS` with `stdin` as standard input and no `PATHSTORE_DEVICE`.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pathstore"))
        .args(args)
        .env_remove("PATHSTORE_DEVICE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pathstore");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Exit status of a failure that fits no other class (docs/cli.md, "Exit status").
const OTHER: i32 = 1;
/// Exit status when the device is missing or is not a pathstore device.
const NO_STORE: i32 = 7;

/// Asserts exit status `code` and exactly one line `pathstore: MESSAGE` on stderr.
fn assert_fails(output: &Output, code: i32, message: &str) {
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    assert_eq!(stderr(output), format!("pathstore: {message}\n"));
    assert!(output.stdout.is_empty());
}

#[test]
fn help_lists_the_commands() {
    let output = run(&["--help"], b"");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for command in [
        "set", "get", "rm", "ls", "tree", "stat", "stats", "dump", "load", "version",
    ] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "{command} missing from:\n{help}"
        );
    }
    assert!(help.contains("--device <PATH>"));
}

#[test]
fn version_flag_needs_no_device() {
    let output = run(&["--version"], b"");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        output.stdout,
        format!("pathstore {}\n", env!("CARGO_PKG_VERSION")).as_bytes()
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["get"],
        &["set", "/a"],
        &["set", "--stdin", "/a", "value"],
        &["rm", "--bogus", "/a"],
    ] {
        let output = run(args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    }
}

#[test]
fn missing_device_is_one_line_exit_7() {
    let output = run(&["--device", "/nonexistent/pathstore", "get", "/a"], b"");
    assert_fails(
        &output,
        NO_STORE,
        "open /nonexistent/pathstore: No such file or directory (ENOENT)",
    );
}

#[test]
fn device_from_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_pathstore"))
        .args(["stats"])
        .env("PATHSTORE_DEVICE", "/nonexistent/from-env")
        .output()
        .unwrap();
    assert_fails(
        &output,
        NO_STORE,
        "open /nonexistent/from-env: No such file or directory (ENOENT)",
    );
}

#[test]
fn other_device_fails_the_handshake() {
    let output = run(&["--device", "/dev/null", "ls", "/"], b"");
    assert_fails(
        &output,
        NO_STORE,
        "handshake /dev/null: not a pathstore device (ENOTTY)",
    );
}

#[test]
fn load_rejects_a_malformed_dump_before_opening_the_device() {
    let device = ["--device", "/nonexistent/pathstore"];
    let load = |input: &str| run(&[&device[..], &["load", "-"]].concat(), input.as_bytes());

    assert_fails(
        &load("not json"),
        OTHER,
        "stdin: expected ident at line 1 column 2",
    );
    assert_fails(
        &load(r#"{"pathstore_dump":1,"entries":[{"path":"/a","valu":"x"}]}"#),
        OTHER,
        "stdin: unknown field `valu`, expected one of `path`, `path_base64`, `value`, \
         `value_base64` at line 1 column 50",
    );
    // A well-formed dump gets as far as opening the device.
    assert_fails(
        &load("{\"pathstore_dump\":1,\"entries\":[\n{\"path\":\"/a\",\"value_base64\":\"AP8=\"}\n]}\n"),
        NO_STORE,
        "open /nonexistent/pathstore: No such file or directory (ENOENT)",
    );
}

#[test]
fn load_from_a_missing_file() {
    let output = run(
        &[
            "--device",
            "/nonexistent/pathstore",
            "load",
            "/nonexistent/dump.json",
        ],
        b"",
    );
    assert_fails(
        &output,
        OTHER,
        "read /nonexistent/dump.json: No such file or directory (ENOENT)",
    );
}

#[test]
fn txn_input_is_checked_before_opening_the_device() {
    let device = ["--device", "/nonexistent/pathstore"];
    let txn = |args: &[&str], input: &str| run(&[&device[..], args].concat(), input.as_bytes());
    assert_fails(
        &txn(&["txn"], "check /a 1\nfrob /b\n"),
        OTHER,
        "txn: line 2: unknown step \"frob /b\"",
    );
    assert_fails(
        &txn(&["txn", "--json"], r#"[{"op":"set","path":"/a"}]"#),
        OTHER,
        "txn: step 1: `set` needs `value` or `value_base64`",
    );
    assert_fails(
        &txn(&["txn", "--json"], "check /a 1"),
        OTHER,
        "stdin: expected value at line 1 column 1",
    );
    assert_fails(
        &txn(
            &["txn", "--json"],
            r#"[{"op":"set","path":"/a","value_base64":"AP8="}]"#,
        ),
        NO_STORE,
        "open /nonexistent/pathstore: No such file or directory (ENOENT)",
    );
}

#[test]
fn bad_durations_and_conflicting_formats_are_usage_errors() {
    for args in [
        &["watch", "--timeout", "5 parsecs", "/a"][..],
        &["watch", "--timeout", "-1s", "/a"],
        &["get", "-z", "--json", "/a"],
        &["ls", "-z", "--json", "/a"],
        &["completions", "tcsh"],
    ] {
        let output = run(args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn version_prints_its_own_line_without_a_module() {
    let output = run(&["--device", "/nonexistent/pathstore", "version"], b"");
    assert_eq!(output.status.code(), Some(NO_STORE), "{output:?}");
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        stdout.starts_with(&format!("pathstore {} (ABI ", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(
        stderr(&output),
        "pathstore: open /nonexistent/pathstore: No such file or directory (ENOENT)\n"
    );
}

#[test]
fn completions_and_man_pages_need_no_device() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = run(&["--device", "/nonexistent", "completions", shell], b"");
        assert_eq!(output.status.code(), Some(0), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(
            script.contains("pathstore") && script.contains("watch"),
            "{shell}"
        );
    }
    let output = run(&["man"], b"");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.contains(".TH pathstore 1"), "{page}");
    assert!(page.contains(".SH \"EXIT STATUS\""));

    let dir = std::env::temp_dir().join(format!("pathstore-man-{}", std::process::id()));
    let output = run(&["man", "--dir", dir.to_str().unwrap()], b"");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(pages.len(), 16, "{pages:?}");
    assert!(pages.contains(&"pathstore-txn.1".to_owned()));

    let output = run(&["man", "--dir", "/proc/no/such/dir"], b"");
    assert_eq!(output.status.code(), Some(OTHER), "{output:?}");
    assert!(stderr(&output).starts_with("pathstore: create /proc/no/such/dir: "));
}
