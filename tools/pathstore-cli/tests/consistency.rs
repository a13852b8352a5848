// SPDX-License-Identifier: MIT OR Apache-2.0

//! The documentation of the command line (docs/cli.md) against the program's own `--help`, and
//! the project's version against the module's.
//!
//! docs/cli.md is read by these rules: its `## Commands` section has one `### \`pathstore NAME\``
//! heading per subcommand, and in it (and in `## Global options`) each option is a list item
//! starting with the option's names in backticks, e.g. ``- `-r`, `--recursive`: ...``. Options
//! that every subcommand has (`--device`, `-h`, `--help`) are listed once, under Global options.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The output of `pathstore ARGS`, which must succeed.
fn pathstore(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pathstore"))
        .args(args)
        .env_remove("PATHSTORE_DEVICE")
        .output()
        .expect("run pathstore");
    assert!(output.status.success(), "pathstore {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 help")
}

/// The lines of `help` after the line `heading` up to the next blank line.
fn help_section<'h>(help: &'h str, heading: &str) -> Vec<&'h str> {
    help.lines()
        .skip_while(|line| *line != heading)
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect()
}

/// The option names (`-r`, `--recursive`) in the `Options:` section of a short help (`-h`).
fn help_options(help: &str) -> BTreeSet<String> {
    help_section(help, "Options:")
        .into_iter()
        // An option's line; a wrapped description continues further indented.
        .filter(|line| line.starts_with("  -") || line.starts_with("      --"))
        .flat_map(|line| {
            line.split_whitespace()
                .map(|word| word.trim_end_matches(','))
                .take_while(|word| word.starts_with('-'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The subcommands in the `Commands:` section of `pathstore -h`, without clap's `help`.
fn help_commands(help: &str) -> BTreeSet<String> {
    help_section(help, "Commands:")
        .into_iter()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// docs/cli.md, split up by the rules at the top of this file.
struct Doc {
    /// The options under `## Global options`.
    global: BTreeSet<String>,
    /// Each subcommand under `## Commands` with its options.
    commands: Vec<(String, BTreeSet<String>)>,
    /// The first column of the table under `## Exit status`.
    exit_codes: Vec<String>,
}

/// The option names at the start of a list item: the backticked words before the first `:`
/// that follows a backtick.
fn item_options(item: &str) -> BTreeSet<String> {
    let head = item.split("`:").next().unwrap_or_default();
    head.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| code.split_whitespace().next())
        .filter(|word| word.starts_with('-'))
        .map(str::to_owned)
        .collect()
}

fn read_doc() -> Doc {
    let path = repo().join("docs/cli.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut doc = Doc {
        global: BTreeSet::new(),
        commands: Vec::new(),
        exit_codes: Vec::new(),
    };
    let mut section = "";
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            section = title;
            continue;
        }
        match section {
            "Global options" if line.starts_with("- `-") => doc.global.extend(item_options(line)),
            "Exit status" if line.starts_with("| ") && !line.starts_with("| Status") => {
                let code = line.split('|').nth(1).unwrap_or_default().trim();
                if !code.starts_with('-') {
                    doc.exit_codes.push(code.to_owned());
                }
            }
            "Commands" => {
                if let Some(heading) = line.strip_prefix("### `pathstore ") {
                    let name = heading.trim_end_matches('`');
                    doc.commands.push((name.to_owned(), BTreeSet::new()));
                } else if line.starts_with("- `-") {
                    let (name, options) = doc.commands.last_mut().expect("an option before ###");
                    let found = item_options(line);
                    assert!(!found.is_empty(), "{name}: no option in {line:?}");
                    options.extend(found);
                }
            }
            _ => {}
        }
    }
    doc
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn the_docs_list_every_subcommand_and_no_other() {
    let doc = read_doc();
    let documented: BTreeSet<String> = doc.commands.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(documented.len(), doc.commands.len(), "a subcommand twice");
    assert_eq!(documented, help_commands(&pathstore(&["-h"])));
}

#[test]
fn the_docs_list_every_global_option_and_no_other() {
    let doc = read_doc();
    assert_eq!(doc.global, help_options(&pathstore(&["-h"])));
    assert_eq!(
        doc.global,
        set(&["--device", "-h", "--help", "-V", "--version"])
    );
}

#[test]
fn the_docs_list_every_option_of_every_subcommand_and_no_other() {
    let doc = read_doc();
    let everywhere = set(&["--device", "-h", "--help"]);
    let mut checked = 0;
    for (name, documented) in &doc.commands {
        let help = pathstore(&[name, "-h"]);
        let own: BTreeSet<String> = help_options(&help)
            .difference(&everywhere)
            .cloned()
            .collect();
        assert!(
            help_options(&help).is_superset(&everywhere),
            "{name}: {help}"
        );
        assert_eq!(documented, &own, "options of `pathstore {name}`");
        checked += own.len();
    }
    // The parsers found something: set alone has eight options.
    assert!(checked >= 20, "{checked} options checked");
}

#[test]
fn the_docs_list_the_exit_statuses_of_the_help() {
    let doc = read_doc();
    let help = pathstore(&["--help"]);
    let codes: Vec<String> = help_section(&help, "Exit status:")
        .into_iter()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(codes.len() >= 10, "{codes:?}");
    assert_eq!(doc.exit_codes, codes);
}

#[test]
fn the_parsers_read_option_lines() {
    let help = "Usage: x\n\nOptions:\n  -r, --recursive       Delete\n                        -x wrapped\n      --if-version <N>  Only\n  -h, --help            Help\n";
    assert_eq!(
        help_options(help),
        set(&["-r", "--recursive", "--if-version", "-h", "--help"])
    );
    assert_eq!(
        item_options("- `-z`, `--null`: end with `-x` NUL"),
        set(&["-z", "--null"])
    );
    assert_eq!(
        item_options("- `--device PATH`: the device"),
        set(&["--device"])
    );
}

/// The `(major, minor, patch)` of `const MODULE_VERSION` in the module's sources.
fn module_version() -> String {
    let src = repo().join("src");
    for entry in std::fs::read_dir(&src).expect("the module's src/") {
        let path = entry.expect("src/ entry").path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        for line in text.lines() {
            if !line.contains("const MODULE_VERSION") {
                continue;
            }
            let tuple = line
                .rsplit_once('=')
                .map(|(_, v)| v.trim().trim_end_matches(';').trim())
                .and_then(|v| v.strip_prefix('(')?.strip_suffix(')'))
                .unwrap_or_else(|| panic!("{path:?}: cannot read {line:?}"));
            let parts: Vec<u32> = tuple
                .split(',')
                .map(|p| p.trim().parse().expect("a number"))
                .collect();
            assert_eq!(parts.len(), 3, "{line}");
            return format!("{}.{}.{}", parts[0], parts[1], parts[2]);
        }
    }
    panic!("no `const MODULE_VERSION` in {src:?}");
}

#[test]
fn one_version_for_the_project() {
    let module = module_version();
    assert_eq!(
        env!("CARGO_PKG_VERSION"),
        module,
        "tools/Cargo.toml's workspace version must be the module's MODULE_VERSION"
    );
    assert_eq!(pathstore(&["--version"]), format!("pathstore {module}\n"));
}
