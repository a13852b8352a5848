// SPDX-License-Identifier: MIT OR Apache-2.0

//! The errno table of docs/abi.md against the module's sources: every errno the module can
//! return is documented, and the table documents no errno the module never returns.
//!
//! The module's errnos are the `E...` constants its code names (comments left out) and those its
//! helpers in `src/error.rs` build (`fn enodata()` is `ENODATA`). `ERESTARTSYS` is the kernel's
//! own: userspace sees it as a restarted call or `EINTR`, which the table documents.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The words of `line` that look like errno names: `E` and at least two more capitals or digits.
fn errno_words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| {
            w.len() >= 3
                && w.starts_with('E')
                && w[1..]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
}

/// The errnos the module's code names in `src/`, outside comments. The ABI file (this crate's
/// `src/uapi.rs`, which the module includes) is not scanned: its doc comments name the errnos of
/// each call, which is what is being checked, and its code names none.
fn module_errnos() -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(&repo().join("src"), &mut files);
    let mut errnos = BTreeSet::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("read a module source");
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            errnos.extend(errno_words(code).map(str::to_owned));
            // The helpers of src/error.rs: `fn enodata() -> Error`.
            if let Some(rest) = code.trim().strip_prefix("pub(crate) fn e") {
                if let Some(name) = rest.strip_suffix("() -> Error {") {
                    errnos.insert(format!("E{}", name.to_ascii_uppercase()));
                }
            }
        }
    }
    errnos.remove("ERESTARTSYS");
    errnos
}

/// The errnos in the first column of the table under `## Errors` in docs/abi.md.
fn documented_errnos() -> BTreeSet<String> {
    let doc = fs::read_to_string(repo().join("docs/abi.md")).expect("read docs/abi.md");
    doc.lines()
        .skip_while(|l| *l != "## Errors")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|w| w.starts_with('E'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_errno_table_lists_exactly_the_module_errnos() {
    let module = module_errnos();
    let documented = documented_errnos();
    assert!(
        module.contains("EINVAL") && module.contains("ENAMETOOLONG") && documented.len() > 10,
        "the scan found the module's errnos {module:?} and the table's {documented:?}"
    );
    let undocumented: Vec<_> = module.difference(&documented).collect();
    let unused: Vec<_> = documented.difference(&module).collect();
    assert!(
        undocumented.is_empty() && unused.is_empty(),
        "docs/abi.md's errno table and the module disagree: returned but not documented \
         {undocumented:?}; documented but never returned {unused:?}"
    );
}
