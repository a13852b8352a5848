// SPDX-License-Identifier: MIT OR Apache-2.0

//! What each subcommand does.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use pathstore::dump::{self, Dump, DumpWriter, Entry, RestoreMode};
use pathstore::{abi, sequential_path, Conditional, Pathstore, TxnOutcome};
use serde::ser::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::{exit, generate, tree, txn, CliError, Command, Mode};

/// Runs `command` against the device at `device`; returns the exit status.
pub fn run(device: &Path, command: Command) -> Result<u8, CliError> {
    match command {
        Command::Set {
            create,
            mode,
            if_version,
            ephemeral,
            sequential,
            stdin,
            json,
            path,
            value,
            command,
        } => {
            let value = match value {
                Some(value) if !stdin && value != "-" => value.into_vec(),
                _ => read_input(Path::new("-"))?,
            };
            let flag = |on: bool, flag: u32| if on { flag } else { 0 };
            let args = abi::SetArgs {
                flags: flag(create, abi::SET_CREATE)
                    | flag(mode.is_some(), abi::SET_MODE)
                    | flag(if_version.is_some(), abi::SET_IF_VERSION)
                    | flag(ephemeral, abi::SET_EPHEMERAL)
                    | flag(sequential, abi::SET_SEQUENTIAL),
                mode: mode.map_or(0, Mode::bits),
                expected_version: if_version.unwrap_or(0),
                ..Default::default()
            };
            let store = Pathstore::open_path(device)?;
            let done = store
                .set_with(path.as_bytes(), &value, args)
                .map_err(|e| stale(e, "set", &path, if_version))?;
            let node = if sequential {
                sequential_path(path.as_bytes(), done.sequence)
            } else {
                path.into_vec()
            };
            if let Some((program, args)) = command.split_first() {
                // The node lives as long as `store`'s file: hold it while COMMAND runs. Standard
                // output is COMMAND's; it learns the node from its environment.
                let status = std::process::Command::new(program)
                    .args(args)
                    .env("PATHSTORE_NODE", OsStr::from_bytes(&node))
                    .env("PATHSTORE_VERSION", done.version.to_string())
                    .status()
                    .map_err(|source| CliError::Spawn {
                        command: program.to_string_lossy().into_owned(),
                        source,
                    })?;
                drop(store);
                return Ok(match (status.code(), status.signal()) {
                    (Some(code), _) => u8::try_from(code).unwrap_or(exit::OTHER),
                    (None, Some(signal)) => {
                        exit::SIGNALLED.saturating_add(u8::try_from(signal).unwrap_or(u8::MAX))
                    }
                    (None, None) => exit::OTHER,
                });
            }
            if json {
                print_json(&JsonObject(&vec![
                    bytes_field("path", "path_base64", node),
                    ("version", json!(done.version)),
                ]))?;
            } else if sequential {
                write_stdout(|out| {
                    out.write_all(&node)?;
                    out.write_all(b"\n")
                })?;
            } else {
                write_stdout(|out| writeln!(out, "{}", done.version))?;
            }
            if ephemeral {
                // Without COMMAND, the node lives until this process is killed.
                loop {
                    std::thread::park();
                }
            }
            Ok(0)
        }
        Command::Completions { shell } => {
            write_stdout(|out| {
                generate::completions(shell, out);
                Ok(())
            })?;
            Ok(0)
        }
        Command::Man { dir } => {
            let mut out = BufWriter::new(io::stdout().lock());
            generate::man(dir.as_deref(), &mut out)?;
            Ok(0)
        }
        command => run_simple(device, command).map(|()| 0),
    }
}

/// `ESTALE` from a conditional call, with the node's current version, as a [`CliError`].
fn stale(err: pathstore::Error, op: &'static str, path: &OsStr, expected: Option<u64>) -> CliError {
    match (err.current_version(), expected) {
        (Some(current), Some(expected)) => CliError::Stale {
            op,
            path: path.to_string_lossy().into_owned(),
            expected,
            current,
        },
        _ => err.into(),
    }
}

/// Runs a command that needs no more than one call to the store.
fn run_simple(device: &Path, command: Command) -> Result<(), CliError> {
    let open = || Pathstore::open_path(device);
    match command {
        Command::Get {
            json,
            null,
            mut paths,
        } if paths.len() == 1 => {
            let path = paths.pop().expect("one path");
            let (value, version) = open()?.get_with_version(path.as_bytes())?;
            if json {
                let entry = Entry {
                    path: path.into_vec(),
                    value: Some(value),
                };
                print_json(&GetJson { entry, version })
            } else {
                write_stdout(|out| {
                    out.write_all(&value)?;
                    out.write_all(if null { b"\0" } else { b"" })
                })
            }
        }
        Command::Get { json, null, paths } => {
            let keys: Vec<&[u8]> = paths.iter().map(|p| p.as_bytes()).collect();
            let mut entries = Vec::with_capacity(paths.len());
            for (path, result) in paths.iter().zip(open()?.get_batch(&keys)?) {
                let (value, version) = result?;
                entries.push(GetJson {
                    entry: Entry {
                        path: path.as_bytes().to_vec(),
                        value: Some(value),
                    },
                    version,
                });
            }
            if json {
                print_json(&entries)
            } else {
                write_stdout(|out| {
                    entries.iter().try_for_each(|e| {
                        out.write_all(e.entry.value.as_deref().unwrap_or_default())?;
                        out.write_all(if null { b"\0" } else { b"\n" })
                    })
                })
            }
        }
        Command::Rm {
            recursive,
            if_version,
            path,
        } => {
            let store = open()?;
            match if_version {
                Some(expected) => {
                    match store.delete_if_version(path.as_bytes(), expected, recursive)? {
                        Conditional::Done(()) => {}
                        Conditional::Stale(current) => {
                            return Err(CliError::Stale {
                                op: "rm",
                                path: path.to_string_lossy().into_owned(),
                                expected,
                                current,
                            })
                        }
                    }
                }
                None if recursive => store.delete_recursive(path.as_bytes())?,
                None => store.delete(path.as_bytes())?,
            }
            Ok(())
        }
        Command::Ls {
            recursive,
            json,
            null,
            path,
        } => {
            let store = open()?;
            let (key, key_base64, names) = if recursive {
                let mut paths = Vec::new();
                for node in store.walk(path.as_bytes()) {
                    let node = node?;
                    // Not PATH itself (depth 0), whose failure still counts.
                    if node.depth > 0 {
                        paths.push(node.path);
                    }
                }
                ("path", "path_base64", paths)
            } else {
                ("name", "name_base64", store.list(path.as_bytes())?)
            };
            if json {
                let names = names
                    .into_iter()
                    .map(|n| vec![bytes_field(key, key_base64, n)])
                    .collect();
                print_json(&FieldsList(names))
            } else {
                write_stdout(|out| {
                    names.iter().try_for_each(|name| {
                        out.write_all(name)?;
                        out.write_all(if null { b"\0" } else { b"\n" })
                    })
                })
            }
        }
        Command::Tree { json, path } => {
            let store = open()?;
            let mut out = BufWriter::new(io::stdout().lock());
            if json {
                tree::render_json(store.walk(path.as_bytes()), &mut out)?;
            } else {
                tree::render(store.walk(path.as_bytes()), &mut out)?;
            }
            out.flush().map_err(CliError::io("write stdout"))
        }
        Command::Stat { json, path } => {
            let stat = open()?.stat(path.as_bytes())?;
            // Raw nanoseconds in JSON; UTC times for people.
            let time = |key: &'static str, key_ns: &'static str, ns: u64| {
                if json {
                    (key_ns, json!(ns))
                } else {
                    (key, json!(format_time(ns)))
                }
            };
            let fields = vec![
                bytes_field("path", "path_base64", path.into_vec()),
                ("version", json!(stat.version)),
                ("child_version", json!(stat.child_version)),
                time("ctime", "ctime_ns", stat.ctime_ns),
                time("mtime", "mtime_ns", stat.mtime_ns),
                ("num_children", json!(stat.num_children)),
                ("value_len", json!(stat.value_len)),
                ("has_value", json!(stat.flags & abi::STAT_HAS_VALUE != 0)),
                ("uid", json!(stat.uid)),
                ("mode", json!(Mode::describe(stat.mode))),
                ("session", json!(stat.session)),
            ];
            print_fields(&fields, json)
        }
        Command::Stats { json } => {
            let stats = open()?.store_stats()?;
            let fields = vec![
                ("nodes", json!(stats.nodes)),
                ("bytes", json!(stats.bytes)),
                ("max_nodes", json!(stats.max_nodes)),
                ("max_bytes", json!(stats.max_bytes)),
                ("max_value_len", json!(stats.max_value_len)),
                ("max_path_len", json!(stats.max_path_len)),
                ("max_depth", json!(stats.max_depth)),
                ("sequence", json!(stats.sequence)),
                ("uid_nodes", json!(stats.uid_nodes)),
                ("uid_bytes", json!(stats.uid_bytes)),
                ("uid_max_nodes", json!(stats.uid_max_nodes)),
                ("uid_max_bytes", json!(stats.uid_max_bytes)),
            ];
            // The module parameters a module reports since they were added (a module from
            // before answers without them, and its watch_events is then zero, never so else).
            let params = [
                ("dev_mode", json!(format!("{:04o}", stats.dev_mode))),
                ("reserve_nodes", json!(stats.reserve_nodes)),
                ("reserve_bytes", json!(stats.reserve_bytes)),
                ("watch_events", json!(stats.watch_events)),
                ("watch_bytes", json!(stats.watch_bytes)),
            ];
            let fields = if stats.watch_events == 0 {
                fields
            } else {
                fields.into_iter().chain(params).collect()
            };
            print_fields(&fields, json)
        }
        Command::Dump { path } => {
            let store = open()?;
            let write = || CliError::io("write stdout");
            let mut out = DumpWriter::new(BufWriter::new(io::stdout().lock())).map_err(write())?;
            for node in store.walk(path.as_bytes()) {
                out.entry(&Entry::from(node?)).map_err(write())?;
            }
            out.finish().map_err(write())?;
            Ok(())
        }
        Command::Load { create, file } => {
            let input = read_input(&file)?;
            let dump = Dump::from_slice(&input).map_err(|source| CliError::Json {
                what: input_name(&file),
                source,
            })?;
            let mode = if create {
                RestoreMode::CreateOnly
            } else {
                RestoreMode::Overwrite
            };
            dump::restore(&open()?, &dump.entries, mode)?;
            Ok(())
        }
        Command::Set { .. } | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("run by `run`")
        }
        Command::Watch {
            recursive,
            after,
            count,
            timeout,
            json,
            path,
        } => {
            let store = open()?;
            let mut after = match after {
                Some(after) => after,
                None => store.store_stats()?.sequence,
            };
            let mut seen = 0;
            while count.is_none_or(|count| seen < count) {
                let Some(event) = store.watch(path.as_bytes(), recursive, after, timeout)? else {
                    return Err(CliError::Timeout {
                        path: path.to_string_lossy().into_owned(),
                        timeout: timeout.unwrap_or(Duration::ZERO),
                    });
                };
                after = event.version;
                seen += 1;
                if json {
                    let fields = vec![
                        ("version", json!(event.version)),
                        ("kind", json!(event.kind.name())),
                        bytes_field("path", "path_base64", event.path),
                    ];
                    print_json(&JsonObject(&fields))?;
                } else {
                    write_stdout(|out| {
                        write!(out, "{} {} ", event.version, event.kind.name())?;
                        out.write_all(&event.path)?;
                        out.write_all(b"\n")?;
                        out.flush()
                    })?;
                }
            }
            Ok(())
        }
        Command::Txn { json, file } => {
            let input = read_input(&file)?;
            let steps = if json {
                txn::parse_json(&input, &input_name(&file))?
            } else {
                txn::parse_text(&input)?
            };
            let ops: Vec<_> = steps.iter().map(txn::Step::as_txn).collect();
            match open()?.txn(&ops)? {
                TxnOutcome::Committed(version) => {
                    if json {
                        print_json(&JsonObject(&vec![("version", json!(version))]))
                    } else {
                        write_stdout(|out| writeln!(out, "committed {version}"))
                    }
                }
                TxnOutcome::Failed {
                    index,
                    errno,
                    current,
                } => Err(CliError::TxnFailed {
                    step: index + 1,
                    line: steps[index].line,
                    errno,
                    current,
                }),
            }
        }
        Command::Check { json } => {
            let report = open()?.check()?;
            let fields = vec![
                ("consistent", json!(true)),
                ("nodes", json!(report.nodes)),
                ("bytes", json!(report.bytes)),
                ("owners", json!(report.owners)),
            ];
            print_fields(&fields, json)
        }
        Command::Version { json } => {
            let cli_version = env!("CARGO_PKG_VERSION");
            let cli_abi = abi::ABI_VERSION;
            if !json {
                // This program's line even when the module cannot be reached.
                write_stdout(|out| writeln!(out, "pathstore {cli_version} (ABI {cli_abi})"))?;
            }
            let module = open()?.version()?;
            let v = module.module_version;
            let module_version = format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff);
            if json {
                let fields = vec![
                    ("cli_version", json!(cli_version)),
                    ("cli_abi_version", json!(abi::ABI_VERSION)),
                    ("module_version", json!(module_version)),
                    ("module_abi_version", json!(module.abi_version)),
                ];
                print_json(&JsonObject(&fields))
            } else {
                let module_abi = module.abi_version;
                write_stdout(|out| writeln!(out, "module {module_version} (ABI {module_abi})"))
            }
        }
    }
}

/// What `get --json` prints: the entry's fields plus the version.
#[derive(serde::Serialize)]
struct GetJson {
    #[serde(flatten)]
    entry: Entry,
    version: u64,
}

/// Named values printed in order, as JSON or as aligned `key: value` lines.
type Fields = Vec<(&'static str, Value)>;

/// The field for a byte string: `key` when it is UTF-8, else `key_base64` with its base64.
fn bytes_field(
    key: &'static str,
    key_base64: &'static str,
    bytes: Vec<u8>,
) -> (&'static str, Value) {
    match dump::encode_bytes(bytes) {
        (Some(text), _) => (key, Value::String(text)),
        (None, base64) => (key_base64, Value::String(base64.unwrap_or_default())),
    }
}

/// Serializes [`Fields`] as a JSON object, keeping their order.
struct JsonObject<'a>(&'a Fields);

impl Serialize for JsonObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// A list of [`Fields`], serialized as an array of objects.
struct FieldsList(Vec<Fields>);

impl Serialize for FieldsList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonObject))
    }
}

/// Prints `fields` as a JSON object, or as `key: value` lines.
fn print_fields(fields: &Fields, json: bool) -> Result<(), CliError> {
    if json {
        return print_json(&JsonObject(fields));
    }
    write_stdout(|out| {
        fields.iter().try_for_each(|(key, value)| match value {
            Value::String(text) => writeln!(out, "{:<15}{text}", format!("{key}:")),
            other => writeln!(out, "{:<15}{other}", format!("{key}:")),
        })
    })
}

/// Prints a value as one line of JSON.
fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let line = serde_json::to_string(value).expect("JSON output is serializable");
    write_stdout(|out| writeln!(out, "{line}"))
}

/// Runs `f` on a buffered, locked standard output and flushes it.
fn write_stdout(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), CliError> {
    let mut out = BufWriter::new(io::stdout().lock());
    f(&mut out)
        .and_then(|()| out.flush())
        .map_err(CliError::io("write stdout"))
}

/// A time in nanoseconds since the epoch as UTC in RFC 3339: `2026-12-01T01:02:03.000000004Z`.
fn format_time(ns: u64) -> String {
    let time = SystemTime::UNIX_EPOCH + Duration::from_nanos(ns);
    humantime::format_rfc3339_nanos(time).to_string()
}

/// Reads all of `file`, or of standard input for `-`.
fn read_input(file: &Path) -> Result<Vec<u8>, CliError> {
    let what = format!("read {}", input_name(file));
    if file == Path::new("-") {
        let mut input = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut input)
            .map_err(CliError::io(what))?;
        Ok(input)
    } else {
        fs::read(file).map_err(CliError::io(what))
    }
}

/// How messages name an input file.
fn input_name(file: &Path) -> String {
    if file == Path::new("-") {
        "stdin".to_owned()
    } else {
        file.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_json(fields: &Fields) -> String {
        serde_json::to_string(&JsonObject(fields)).unwrap()
    }

    #[test]
    fn byte_string_fields() {
        assert_eq!(
            to_json(&vec![bytes_field("path", "path_base64", b"/a".to_vec())]),
            r#"{"path":"/a"}"#
        );
        assert_eq!(
            to_json(&vec![bytes_field("name", "name_base64", vec![0xff])]),
            r#"{"name_base64":"/w=="}"#
        );
    }

    #[test]
    fn fields_keep_their_order() {
        let fields = vec![("z", json!(1)), ("a", json!(true))];
        assert_eq!(to_json(&fields), r#"{"z":1,"a":true}"#);
    }

    #[test]
    fn get_json_flattens_the_entry() {
        let entry = Entry {
            path: b"/a".to_vec(),
            value: Some(vec![0, 0xff]),
        };
        let json = serde_json::to_string(&GetJson { entry, version: 7 }).unwrap();
        assert_eq!(json, r#"{"path":"/a","value_base64":"AP8=","version":7}"#);
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_time(1_796_000_000_123_456_789),
            "2026-11-30T00:53:20.123456789Z"
        );
    }

    #[test]
    fn names_list_as_objects() {
        let list = FieldsList(vec![vec![bytes_field(
            "name",
            "name_base64",
            b"a".to_vec(),
        )]]);
        assert_eq!(serde_json::to_string(&list).unwrap(), r#"[{"name":"a"}]"#);
    }
}
