// SPDX-License-Identifier: MIT OR Apache-2.0

//! The dump format: a JSON backup of a subtree, and restoring it.
//!
//! A dump is one JSON object with a format version and a flat list of entries, one per node of
//! the subtree, parents before children (depth-first, children in byte order). [`DumpWriter`]
//! writes one entry per line, so dumps diff well and stream with bounded memory:
//!
//! ```json
//! {"pathstore_dump":1,"entries":[
//! {"path":"/svc"},
//! {"path":"/svc/api"},
//! {"path":"/svc/api/leader","value":"host-a"},
//! {"path":"/svc/api/empty","value":""},
//! {"path":"/svc/blob","value_base64":"AAEC/w=="}
//! ]}
//! ```
//!
//! - `pathstore_dump` (required): the format version, `1`.
//! - `entries` (required): the nodes. Each entry has exactly one of
//!   - `path`: the absolute path as a string, when it is valid UTF-8, or
//!   - `path_base64`: the path's bytes in standard base64 (with padding), otherwise;
//!
//!   and at most one of
//!   - `value`: the value as a string, when it is valid UTF-8 (`""` is an empty value),
//!   - `value_base64`: the value's bytes in standard base64, otherwise.
//!
//!   An entry with neither value field is a node without a value.
//!
//! Unknown fields are rejected, so a typo is not mistaken for a node without a value. Versions,
//! timestamps and other metadata are not part of a dump: they cannot be restored.
//!
//! To move data elsewhere, e.g. to etcd or ZooKeeper: `jq -r '.entries[] | select(.value) |
//! [.path, .value] | @tsv'` lists every UTF-8 path and value.
//!
//! [`restore`] sets every entry in order; see there for what it does to nodes that exist.

use std::io::{self, Read, Write};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rustix::io::Errno;
use serde::{Deserialize, Deserializer, Serialize};

use crate::client::Pathstore;
use crate::error::Result;
use crate::path;
use crate::walk::Node;

/// The format version written to and accepted in `pathstore_dump`.
pub const FORMAT_VERSION: u32 = 1;

/// Name of the child [`restore`] creates and deletes again to make a node without a value.
const PLACEHOLDER: &[u8] = b".pathstore-load";

/// One node of a dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEntry", into = "RawEntry")]
pub struct Entry {
    /// The node's absolute path.
    pub path: Vec<u8>,
    /// The node's value, or `None` for a node without one.
    pub value: Option<Vec<u8>>,
}

impl From<Node> for Entry {
    fn from(node: Node) -> Self {
        Entry {
            path: node.path,
            value: node.value,
        }
    }
}

/// An [`Entry`] as it appears in JSON.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_base64: Option<String>,
}

/// Encodes bytes as `(Some(text), None)` when they are UTF-8, else as `(None, Some(base64))`.
pub fn encode_bytes(bytes: Vec<u8>) -> (Option<String>, Option<String>) {
    match String::from_utf8(bytes) {
        Ok(text) => (Some(text), None),
        Err(err) => (None, Some(BASE64.encode(err.as_bytes()))),
    }
}

/// Decodes the pair of fields `name` / `name_base64` (the text, or the bytes in standard base64
/// with padding): at most one may be present; `None` when neither is. The error names the
/// fields, e.g. ``both `value` and `value_base64` given``.
pub fn decode_bytes(
    name: &str,
    text: Option<String>,
    base64: Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    match (text, base64) {
        (Some(_), Some(_)) => Err(format!("both `{name}` and `{name}_base64` given")),
        (Some(text), None) => Ok(Some(text.into_bytes())),
        (None, Some(encoded)) => BASE64
            .decode(encoded)
            .map(Some)
            .map_err(|err| format!("invalid `{name}_base64`: {err}")),
        (None, None) => Ok(None),
    }
}

impl TryFrom<RawEntry> for Entry {
    type Error = String;

    fn try_from(raw: RawEntry) -> Result<Self, String> {
        let path = decode_bytes("path", raw.path, raw.path_base64)?
            .ok_or("entry without `path` or `path_base64`")?;
        let value = decode_bytes("value", raw.value, raw.value_base64)?;
        Ok(Entry { path, value })
    }
}

impl From<Entry> for RawEntry {
    fn from(entry: Entry) -> Self {
        let (path, path_base64) = encode_bytes(entry.path);
        let (value, value_base64) = match entry.value {
            Some(value) => encode_bytes(value),
            None => (None, None),
        };
        RawEntry {
            path,
            path_base64,
            value,
            value_base64,
        }
    }
}

/// A whole dump, read into memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    /// The format version; always [`FORMAT_VERSION`].
    #[serde(rename = "pathstore_dump", deserialize_with = "format_version")]
    pub format_version: u32,
    /// The nodes, parents before children.
    pub entries: Vec<Entry>,
}

fn format_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let version = u32::deserialize(deserializer)?;
    if version != FORMAT_VERSION {
        return Err(serde::de::Error::custom(format!(
            "unsupported dump format version {version} (this program reads {FORMAT_VERSION})"
        )));
    }
    Ok(version)
}

impl Dump {
    /// A dump of the given entries.
    pub fn new(entries: Vec<Entry>) -> Self {
        Dump {
            format_version: FORMAT_VERSION,
            entries,
        }
    }

    /// Reads the subtree at `root` from the store (see [`Walk`](crate::Walk)).
    pub fn collect(store: &Pathstore, root: impl AsRef<[u8]>) -> Result<Self> {
        let entries = store
            .walk(root)
            .map(|node| node.map(Entry::from))
            .collect::<Result<_>>()?;
        Ok(Dump::new(entries))
    }

    /// Parses a dump from JSON.
    pub fn from_reader(reader: impl Read) -> serde_json::Result<Self> {
        serde_json::from_reader(reader)
    }

    /// Parses a dump from JSON.
    pub fn from_slice(json: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(json)
    }

    /// Writes the dump as JSON, one entry per line.
    pub fn write_to<W: Write>(&self, writer: W) -> io::Result<W> {
        let mut out = DumpWriter::new(writer)?;
        for entry in &self.entries {
            out.entry(entry)?;
        }
        out.finish()
    }
}

/// Writes a dump entry by entry, one per line, without holding it in memory.
#[derive(Debug)]
pub struct DumpWriter<W: Write> {
    writer: W,
    first: bool,
}

impl<W: Write> DumpWriter<W> {
    /// Starts a dump on `writer` (writes the opening line).
    pub fn new(mut writer: W) -> io::Result<Self> {
        writeln!(
            writer,
            "{{\"pathstore_dump\":{FORMAT_VERSION},\"entries\":["
        )?;
        Ok(DumpWriter {
            writer,
            first: true,
        })
    }

    /// Writes one entry.
    pub fn entry(&mut self, entry: &Entry) -> io::Result<()> {
        if !self.first {
            self.writer.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.writer, entry)?;
        Ok(())
    }

    /// Ends the dump (writes the closing line), flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.first {
            self.writer.write_all(b"\n")?;
        }
        self.writer.write_all(b"]}\n")?;
        self.writer.flush()?;
        Ok(self.writer)
    }
}

/// How [`restore`] treats nodes that already exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestoreMode {
    /// Replace existing values (plain set).
    #[default]
    Overwrite,
    /// Fail with `EEXIST` on an entry with a value whose node exists (set with `SET_CREATE`).
    CreateOnly,
}

/// Writes `entries` to the store, in order, stopping at the first error.
///
/// - An entry with a value is set (with [`RestoreMode::CreateOnly`]: created, failing with
///   `EEXIST` if the node exists, which is always the case for `/`).
/// - An entry without a value makes sure the node exists; an existing node is left as it is.
///   When the next entry is below it, setting that one creates it; otherwise a missing node is
///   created without a value by setting a child named `.pathstore-load` and deleting it again.
///
/// Nothing is deleted: restoring into an empty subtree (e.g. after `delete_recursive`) gives
/// exactly the dumped tree, restoring over existing nodes merges. Returns the number of entries
/// written.
pub fn restore(store: &Pathstore, entries: &[Entry], mode: RestoreMode) -> Result<usize> {
    for (i, entry) in entries.iter().enumerate() {
        match (&entry.value, mode) {
            (Some(value), RestoreMode::Overwrite) => drop(store.set(&entry.path, value)?),
            (Some(value), RestoreMode::CreateOnly) => drop(store.create(&entry.path, value)?),
            (None, _) => {
                let next = entries.get(i + 1);
                if !next.is_some_and(|next| path::is_below(&next.path, &entry.path)) {
                    ensure_exists(store, &entry.path)?;
                }
            }
        }
    }
    Ok(entries.len())
}

/// Creates `path` without a value unless it exists.
fn ensure_exists(store: &Pathstore, path: &[u8]) -> Result<()> {
    if store.exists(path)? {
        return Ok(());
    }
    let placeholder = path::join(path, PLACEHOLDER);
    store.create(&placeholder, b"")?;
    match store.delete(&placeholder) {
        Err(err) if err.errno() != Errno::NOENT => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &[u8], value: Option<&[u8]>) -> Entry {
        Entry {
            path: path.to_vec(),
            value: value.map(<[u8]>::to_vec),
        }
    }

    fn sample() -> Dump {
        Dump::new(vec![
            entry(b"/", None),
            entry(b"/svc", Some(b"")),
            entry(b"/svc/api", Some(b"host-a \"quoted\"\n")),
            entry(b"/svc/bin", Some(b"\x00\x01\x02\xff")),
            entry(b"/svc/\xff\xfe", None),
        ])
    }

    #[test]
    fn round_trip() {
        let dump = sample();
        let json = dump.write_to(Vec::new()).unwrap();
        assert_eq!(Dump::from_slice(&json).unwrap(), dump);
        // serde's own serialization agrees.
        let compact = serde_json::to_vec(&dump).unwrap();
        assert_eq!(Dump::from_slice(&compact).unwrap(), dump);
    }

    #[test]
    fn written_format() {
        let json = String::from_utf8(sample().write_to(Vec::new()).unwrap()).unwrap();
        let expected = r#"{"pathstore_dump":1,"entries":[
{"path":"/"},
{"path":"/svc","value":""},
{"path":"/svc/api","value":"host-a \"quoted\"\n"},
{"path":"/svc/bin","value_base64":"AAEC/w=="},
{"path_base64":"L3N2Yy///g=="}
]}
"#;
        assert_eq!(json, expected);
    }

    #[test]
    fn empty_dump() {
        let json = Dump::new(Vec::new()).write_to(Vec::new()).unwrap();
        assert_eq!(json, b"{\"pathstore_dump\":1,\"entries\":[\n]}\n");
        assert_eq!(Dump::from_slice(&json).unwrap(), Dump::new(Vec::new()));
    }

    #[test]
    fn rejects_bad_input() {
        let bad = [
            (r#"{"entries":[]}"#, "missing field `pathstore_dump`"),
            (
                r#"{"pathstore_dump":2,"entries":[]}"#,
                "unsupported dump format version 2",
            ),
            (r#"{"pathstore_dump":1}"#, "missing field `entries`"),
            (
                r#"{"pathstore_dump":1,"entries":[],"x":1}"#,
                "unknown field `x`",
            ),
            (r#"{"pathstore_dump":1,"entries":[{}]}"#, "without `path`"),
            (
                r#"{"pathstore_dump":1,"entries":[{"path":"/a","valeu":"x"}]}"#,
                "unknown field",
            ),
            (
                r#"{"pathstore_dump":1,"entries":[{"path":"/a","path_base64":"L2E="}]}"#,
                "both `path` and `path_base64`",
            ),
            (
                r#"{"pathstore_dump":1,"entries":[{"path":"/a","value":"","value_base64":""}]}"#,
                "both `value` and `value_base64`",
            ),
            (
                r#"{"pathstore_dump":1,"entries":[{"path":"/a","value_base64":"!"}]}"#,
                "invalid",
            ),
            (
                r#"{"pathstore_dump":1,"entries":[{"path":"/a","value":1}]}"#,
                "invalid type",
            ),
        ];
        for (json, message) in bad {
            let err = Dump::from_slice(json.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(message), "{json}: {err}");
        }
    }

    #[test]
    fn base64_forms() {
        let json = r#"{"pathstore_dump":1,"entries":[{"path_base64":"L2E=","value_base64":""}]}"#;
        let dump = Dump::from_slice(json.as_bytes()).unwrap();
        assert_eq!(dump.entries, [entry(b"/a", Some(b""))]);
    }
}
