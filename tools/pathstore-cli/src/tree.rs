//! The picture `pathstore tree` draws:
//!
//! ```text
//! /svc
//! ├── api
//! │   ├── leader = "host-a"
//! │   └── members
//! └── blob (70000 bytes)
//! ```
//!
//! A value is shown quoted (with Rust's escapes) when it is UTF-8 of at most
//! [`MAX_SHOWN_CHARS`] characters, otherwise only its length is; a node without a value shows
//! nothing.

use std::io::Write;

use pathstore::Node;

use crate::CliError;

/// Longest value, in characters, shown in full.
const MAX_SHOWN_CHARS: usize = 40;

/// Draws the nodes of a walk (pre-order, with depths and last-child flags) to `out`.
pub fn render(
    nodes: impl IntoIterator<Item = pathstore::Result<Node>>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    // For each depth on the way to the current node: whether that ancestor was a last child.
    let mut lasts: Vec<bool> = Vec::new();
    for node in nodes {
        let node = node?;
        // Pre-order: `lasts` holds at least `node.depth` entries here.
        lasts.truncate(node.depth);
        lasts.push(node.last);
        let mut line = Vec::new();
        if node.depth == 0 {
            line.extend_from_slice(&node.path);
        } else {
            for &last in &lasts[1..node.depth] {
                line.extend_from_slice(if last { "    " } else { "│   " }.as_bytes());
            }
            line.extend_from_slice(
                if node.last {
                    "└── "
                } else {
                    "├── "
                }
                .as_bytes(),
            );
            line.extend_from_slice(node.name());
        }
        let mut line = String::from_utf8_lossy(&line).into_owned();
        line.push_str(&describe(node.value.as_deref()));
        writeln!(out, "{line}").map_err(CliError::io("write stdout"))?;
    }
    Ok(())
}

/// What follows a node's name: ` = "value"`, ` (N bytes)` or nothing.
fn describe(value: Option<&[u8]>) -> String {
    match value.map(std::str::from_utf8) {
        None => String::new(),
        Some(Ok(text)) if text.chars().count() <= MAX_SHOWN_CHARS => {
            format!(" = \"{}\"", text.escape_debug())
        }
        Some(_) => format!(" ({} bytes)", value.unwrap_or_default().len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, depth: usize, last: bool, value: Option<&[u8]>) -> Node {
        Node {
            path: path.into(),
            depth,
            last,
            value: value.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn draws_a_tree() {
        let nodes = [
            node("/", 0, true, None),
            node("/a", 1, false, Some(b"x")),
            node("/a/b", 2, false, None),
            node("/a/b/c", 3, true, Some(b"")),
            node("/a/d", 2, true, Some(&[0xff; 3])),
            node("/e", 1, true, Some("line\n\"q\"".as_bytes())),
            node("/e/f", 2, true, Some(&[b'y'; 41])),
        ];
        let mut out = Vec::new();
        render(nodes.into_iter().map(Ok), &mut out).unwrap();
        let expected = "\
/
├── a = \"x\"
│   ├── b
│   │   └── c = \"\"
│   └── d (3 bytes)
└── e = \"line\\n\\\"q\\\"\"
    └── f (41 bytes)
";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
