// SPDX-License-Identifier: MIT OR Apache-2.0

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
//!
//! `pathstore tree --json` prints the same subtree as one nested JSON object instead
//! ([`render_json`]).

use std::io::Write;

use pathstore::dump::encode_bytes;
use pathstore::Node;
use serde_json::Value;

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

/// Writes the nodes of a walk (pre-order, with depths) to `out` as one line of nested JSON:
/// `{"path":"/svc","children":[{"name":"api","value":"x","children":[]}]}`. The root has
/// `path`, the others `name`; a node with a value has `value`; every node has `children`.
/// Byte strings that are not UTF-8 appear as `path_base64`, `name_base64`, `value_base64`.
///
/// Streams: memory grows with the depth of the tree, not its size.
pub fn render_json(
    nodes: impl IntoIterator<Item = pathstore::Result<Node>>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let write = |out: &mut dyn Write, text: &[u8]| -> Result<(), CliError> {
        out.write_all(text).map_err(CliError::io("write stdout"))
    };
    // For each node on the way to the current one: whether its `children` array was opened.
    let mut open: Vec<bool> = Vec::new();
    for node in nodes {
        let node = node?;
        close_to(&mut open, node.depth, out)?;
        if let Some(parent) = open.last_mut() {
            write(out, if *parent { b"," } else { b",\"children\":[" })?;
            *parent = true;
        }
        let (key, name) = if node.depth == 0 {
            ("path", node.path.clone())
        } else {
            ("name", node.name().to_vec())
        };
        write(out, b"{")?;
        write(out, &json_bytes_field(key, name))?;
        if let Some(value) = node.value {
            write(out, b",")?;
            write(out, &json_bytes_field("value", value))?;
        }
        open.push(false);
    }
    close_to(&mut open, 0, out)?;
    write(out, b"\n")
}

/// Closes the JSON objects of `open` down to `depth` of them.
fn close_to(open: &mut Vec<bool>, depth: usize, out: &mut impl Write) -> Result<(), CliError> {
    while open.len() > depth {
        let had_children = open.pop().unwrap_or_default();
        out.write_all(if had_children {
            b"]}"
        } else {
            b",\"children\":[]}"
        })
        .map_err(CliError::io("write stdout"))?;
    }
    Ok(())
}

/// `"key":"text"` when `bytes` are UTF-8, else `"key_base64":"..."`.
fn json_bytes_field(key: &str, bytes: Vec<u8>) -> Vec<u8> {
    let (key, value) = match encode_bytes(bytes) {
        (Some(text), _) => (key.to_owned(), text),
        (None, base64) => (format!("{key}_base64"), base64.unwrap_or_default()),
    };
    format!("{}:{}", Value::String(key), Value::String(value)).into_bytes()
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
    fn json_nests_the_children() {
        let nodes = [
            node("/s", 0, true, None),
            node("/s/a", 1, false, Some(b"x")),
            node("/s/a/b", 2, false, None),
            node("/s/a/b/c", 3, true, Some(b"")),
            node("/s/a/d", 2, true, Some(&[0xff, 0])),
            node("/s/e\"", 1, true, Some(b"q\n")),
        ];
        let mut out = Vec::new();
        render_json(nodes.into_iter().map(Ok), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = r#"{"path":"/s","children":[{"name":"a","value":"x","children":[{"name":"b","children":[{"name":"c","value":"","children":[]}]},{"name":"d","value_base64":"/wA=","children":[]}]},{"name":"e\"","value":"q\n","children":[]}]}"#;
        assert_eq!(text, format!("{expected}\n"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed["children"][0]["children"][0]["children"][0]["name"],
            "c"
        );
    }

    #[test]
    fn json_of_a_single_node() {
        let mut out = Vec::new();
        render_json([Ok(node("/", 0, true, Some(b"v")))], &mut out).unwrap();
        assert_eq!(out, b"{\"path\":\"/\",\"value\":\"v\",\"children\":[]}\n");
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
