// SPDX-License-Identifier: MIT OR Apache-2.0

//! Shell completions and manual pages, generated from the clap definition of the command line so
//! they cannot drift from it: `pathstore completions SHELL` and `pathstore man [--dir DIR]`.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use clap_mangen::Man;
use roff::{bold, italic, roman, Roff};

use crate::{exit, CliError};

/// Writes the completion script of `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = crate::command();
    clap_complete::generate(shell, &mut command, "pathstore", out);
}

/// The command with every subcommand's names filled in (`pathstore-set`, `pathstore set`), as
/// the man pages of subcommands need, and without clap's `help` subcommand.
fn built_command() -> clap::Command {
    let mut command = crate::command().disable_help_subcommand(true);
    command.build();
    command
}

/// Every man page: `(file name, roff text)`, pathstore.1 first, then one per subcommand.
pub fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let command = built_command();
    let mut pages = vec![page(&command, true)?];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(page(sub, false)?);
    }
    Ok(pages)
}

/// Prints pathstore(1), or with `dir` writes every page into it.
pub fn man(dir: Option<&Path>, out: &mut dyn Write) -> Result<(), CliError> {
    let pages = man_pages().map_err(CliError::io("render the man pages"))?;
    let Some(dir) = dir else {
        return out
            .write_all(&pages[0].1)
            .and_then(|()| out.flush())
            .map_err(CliError::io("write stdout"));
    };
    fs::create_dir_all(dir).map_err(CliError::io(format!("create {}", dir.display())))?;
    for (name, text) in pages {
        let file = dir.join(name);
        fs::write(&file, text).map_err(CliError::io(format!("write {}", file.display())))?;
    }
    Ok(())
}

/// Renders the man page of `command`; `top` for pathstore(1) itself, which also documents the
/// exit status, the environment and the files.
fn page(command: &clap::Command, top: bool) -> io::Result<(String, Vec<u8>)> {
    let man = Man::new(command.clone()).manual("pathstore manual");
    let mut sections: Vec<Vec<u8>> = Vec::new();
    let mut section = |render: &dyn Fn(&mut Vec<u8>) -> io::Result<()>| -> io::Result<()> {
        let mut text = Vec::new();
        render(&mut text)?;
        sections.push(text);
        Ok(())
    };
    section(&|w| man.render_title(w))?;
    section(&|w| man.render_name_section(w))?;
    section(&|w| man.render_synopsis_section(w))?;
    section(&|w| description(command).to_writer(w))?;
    section(&|w| man.render_options_section(w))?;
    if command.has_subcommands() {
        section(&|w| man.render_subcommands_section(w))?;
    }
    if top {
        section(&|w| top_sections().to_writer(w))?;
    }
    section(&|w| see_also(command, top).to_writer(w))?;
    if command.get_version().is_some() {
        section(&|w| man.render_version_section(w))?;
    }
    // Each section starts with roff's preamble (a string definition for apostrophes): keep the
    // first only.
    let preamble = Roff::new().render().into_bytes();
    let mut text = Vec::new();
    for (i, section) in sections.into_iter().enumerate() {
        match section.strip_prefix(preamble.as_slice()) {
            Some(rest) if i > 0 => text.extend_from_slice(rest),
            _ => text.extend_from_slice(&section),
        }
    }
    Ok((man.get_filename(), text))
}

/// The DESCRIPTION section from the command's long help: paragraphs are filled, and a paragraph
/// whose lines are indented (a format or an example) is kept as it is.
fn description(command: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    // No hyphenation from here on: errno names and options must stay whole.
    roff.control("nh", []);
    roff.control("SH", ["DESCRIPTION"]);
    let Some(about) = command.get_long_about().or_else(|| command.get_about()) else {
        return roff;
    };
    let text = about.to_string();
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        let lines: Vec<&str> = paragraph.lines().collect();
        if lines.iter().all(|line| line.starts_with("  ")) {
            roff.control("RS", []).control("nf", []);
            for line in lines {
                roff.text([roman(line.trim_start_matches("  "))]);
            }
            roff.control("fi", []).control("RE", []);
        } else {
            for line in lines {
                roff.text([roman(line.trim())]);
            }
        }
    }
    roff
}

/// EXIT STATUS, ENVIRONMENT and FILES of pathstore(1).
fn top_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit::TABLE {
        roff.control("TP", [])
            .text([bold(*code)])
            .text([roman(*meaning)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    roff.control("TP", [])
        .text([bold("PATHSTORE_DEVICE")])
        .text([roman(
            "The device, unless --device is given (default /dev/pathstore).",
        )]);
    roff.control("TP", [])
        .text([
            bold("PATHSTORE_NODE"),
            roman(", "),
            bold("PATHSTORE_VERSION"),
        ])
        .text([roman(
            "Set for the COMMAND of set --ephemeral: the path and version of the node it holds.",
        )]);
    roff.control("SH", ["FILES"]);
    roff.control("TP", [])
        .text([bold("/dev/pathstore")])
        .text([roman(
            "The misc device of the pathstore kernel module. Its group and mode decide who may \
             open it; the module decides per node who may do what.",
        )]);
    roff
}

/// SEE ALSO: the other pages, and the documentation in the source tree.
fn see_also(command: &clap::Command, top: bool) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SEE ALSO"]);
    let mut refs = Vec::new();
    if top {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = sub.get_display_name().unwrap_or_else(|| sub.get_name());
            refs.push(format!("{name}(1)"));
        }
    } else {
        refs.push("pathstore(1)".to_owned());
    }
    roff.text([roman(refs.join(", "))]);
    roff.control("PP", []).text([
        roman("The full reference of the command line is "),
        italic("docs/cli.md"),
        roman(", the store's semantics "),
        italic("docs/semantics.md"),
        roman(", in pathstore's source tree."),
    ]);
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_subcommand() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names[0], "pathstore.1");
        for sub in [
            "set",
            "get",
            "ls",
            "tree",
            "txn",
            "watch",
            "completions",
            "man",
        ] {
            assert!(
                names.contains(&format!("pathstore-{sub}.1").as_str()),
                "{names:?}"
            );
        }
        assert!(!names.contains(&"pathstore-help.1"));
    }

    #[test]
    fn top_page_documents_exit_status_once() {
        let pages = man_pages().unwrap();
        let top = String::from_utf8(pages[0].1.clone()).unwrap();
        assert!(top.starts_with(&Roff::new().render()));
        assert_eq!(top.matches(".el .ds Aq").count(), 1, "one preamble");
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SUBCOMMANDS"] {
            assert!(top.contains(&format!(".SH {section}\n")), "{section}");
        }
        assert!(top.contains(".SH \"EXIT STATUS\"\n"));
        assert!(top.contains("Condition failed: version mismatch (ESTALE)"));
        assert!(top.contains("PATHSTORE_DEVICE"));
        assert!(top.contains("pathstore\\-txn(1)"));
    }

    #[test]
    fn formats_stay_unfilled() {
        let pages = man_pages().unwrap();
        let (_, txn) = pages
            .iter()
            .find(|(name, _)| name == "pathstore-txn.1")
            .unwrap();
        let txn = String::from_utf8(txn.clone()).unwrap();
        assert!(txn.contains(".nf\ncheck PATH VERSION"), "{txn}");
    }

    #[test]
    fn completions_cover_the_subcommands() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let script = String::from_utf8(out).unwrap();
            for word in ["txn", "completions", "if-version", "device"] {
                assert!(script.contains(word), "{shell}: {word}");
            }
        }
    }
}
