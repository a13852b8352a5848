//! What each subcommand does.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::time::Duration;

use pathstore::dump::{self, Dump, DumpWriter, Entry, RestoreMode};
use pathstore::{abi, sequential_path, Conditional, Pathstore, TxnOutcome, TxnStep};
use serde::ser::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::{tree, CliError, Command, Mode};

/// How the program exits after a command that succeeded.
pub enum Exit {
    /// Status 0.
    Success,
    /// The exit status of the command `set --ephemeral` ran.
    Code(u8),
}

/// Runs `command` against the device at `device`.
pub fn run(device: &Path, command: Command) -> Result<Exit, CliError> {
    match command {
        Command::Set {
            create,
            mode,
            if_version,
            ephemeral,
            sequential,
            stdin,
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
            if sequential {
                let created = sequential_path(path.as_bytes(), done.sequence);
                write_stdout(|out| {
                    out.write_all(&created)?;
                    out.write_all(b"\n")?;
                    out.flush()
                })?;
            }
            if !ephemeral {
                return Ok(Exit::Success);
            }
            // The node lives as long as `store`'s file: hold it.
            if let Some((program, args)) = command.split_first() {
                let status = std::process::Command::new(program)
                    .args(args)
                    .status()
                    .map_err(|source| CliError::Spawn {
                        command: program.to_string_lossy().into_owned(),
                        source,
                    })?;
                drop(store);
                let code = status.code().map_or(128, |c| u8::try_from(c).unwrap_or(1));
                return Ok(if code == 0 {
                    Exit::Success
                } else {
                    Exit::Code(code)
                });
            }
            loop {
                std::thread::park();
            }
        }
        command => run_simple(device, command).map(|()| Exit::Success),
    }
}

/// Splits `text` at its first space.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[]),
    }
}

/// Parses one line of `pathstore txn`.
fn txn_step(line: &[u8]) -> Result<TxnStep<'_>, String> {
    let mut words = line.splitn(2, |&b| b == b' ');
    let verb = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default();
    let version = |text: &[u8]| -> Result<u64, String> {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| format!("{:?} is not a version", String::from_utf8_lossy(text)))
    };
    let (recursive, rest) = match rest.strip_prefix(b"-r ") {
        Some(rest) if verb.starts_with(b"rm") => (true, rest),
        _ => (false, rest),
    };
    let (path, tail) = split_word(rest);
    if path.is_empty() {
        return Err("a path is missing".into());
    }
    Ok(match verb {
        b"check" => TxnStep::check_version(path, version(tail)?),
        b"absent" if tail.is_empty() => TxnStep::check_absent(path),
        b"set" => TxnStep::set(path, tail),
        b"create" => TxnStep::create(path, tail),
        b"set-if" => {
            let (v, value) = split_word(tail);
            TxnStep::set_if_version(path, value, version(v)?)
        }
        b"rm" if tail.is_empty() => TxnStep::delete(path, recursive, None),
        b"rm-if" => TxnStep::delete(path, recursive, Some(version(tail)?)),
        _ => {
            return Err(format!(
                "unknown step {:?}",
                String::from_utf8_lossy(line).into_owned()
            ))
        }
    })
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
        Command::Get { json, mut paths } if paths.len() == 1 => {
            let path = paths.pop().expect("one path");
            let (value, version) = open()?.get_with_version(path.as_bytes())?;
            if json {
                let entry = Entry {
                    path: path.into_vec(),
                    value: Some(value),
                };
                print_json(&GetJson { entry, version })
            } else {
                write_stdout(|out| out.write_all(&value))
            }
        }
        Command::Get { json, paths } => {
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
                        out.write_all(b"\n")
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
        Command::Ls { json, path } => {
            let names = open()?.list(path.as_bytes())?;
            if json {
                let names = names
                    .into_iter()
                    .map(|n| vec![bytes_field("name", "name_base64", n)])
                    .collect();
                print_json(&FieldsList(names))
            } else {
                write_stdout(|out| {
                    names.iter().try_for_each(|name| {
                        out.write_all(name)?;
                        out.write_all(b"\n")
                    })
                })
            }
        }
        Command::Tree { path } => {
            let store = open()?;
            let mut out = BufWriter::new(io::stdout().lock());
            tree::render(store.walk(path.as_bytes()), &mut out)?;
            out.flush().map_err(CliError::io("write stdout"))
        }
        Command::Stat { json, path } => {
            let stat = open()?.stat(path.as_bytes())?;
            let fields = vec![
                bytes_field("path", "path_base64", path.into_vec()),
                ("version", json!(stat.version)),
                ("child_version", json!(stat.child_version)),
                ("ctime_ns", json!(stat.ctime_ns)),
                ("mtime_ns", json!(stat.mtime_ns)),
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
        Command::Set { .. } => unreachable!("set is run by `run`"),
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
            let timeout = timeout.map(Duration::from_millis);
            let mut seen = 0;
            while count.is_none_or(|count| seen < count) {
                let Some(event) = store.watch(path.as_bytes(), recursive, after, timeout)? else {
                    return Err(CliError::Timeout {
                        path: path.to_string_lossy().into_owned(),
                        ms: timeout.map_or(0, |t| t.as_millis() as u64),
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
            let mut steps = Vec::new();
            let mut lines = Vec::new();
            for (number, line) in input.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let step = txn_step(line).map_err(|message| CliError::TxnSyntax {
                    line: number + 1,
                    message,
                })?;
                steps.push(step);
                lines.push(number + 1);
            }
            match open()?.txn(&steps)? {
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
                    line: lines[index],
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
            let module = open()?.version()?;
            let v = module.module_version;
            let module_version = format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff);
            let cli_version = env!("CARGO_PKG_VERSION");
            if json {
                let fields = vec![
                    ("cli_version", json!(cli_version)),
                    ("cli_abi_version", json!(abi::ABI_VERSION)),
                    ("module_version", json!(module_version)),
                    ("module_abi_version", json!(module.abi_version)),
                ];
                print_json(&JsonObject(&fields))
            } else {
                let (cli_abi, module_abi) = (abi::ABI_VERSION, module.abi_version);
                write_stdout(|out| {
                    writeln!(out, "pathstore {cli_version} (ABI {cli_abi})")?;
                    writeln!(out, "module {module_version} (ABI {module_abi})")
                })
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
    fn names_list_as_objects() {
        let list = FieldsList(vec![vec![bytes_field(
            "name",
            "name_base64",
            b"a".to_vec(),
        )]]);
        assert_eq!(serde_json::to_string(&list).unwrap(), r#"[{"name":"a"}]"#);
    }
}
