// SPDX-License-Identifier: MIT OR Apache-2.0

//! The input of `pathstore txn`: steps as text lines or as a JSON array (see `pathstore txn
//! --help` and docs/cli.md).

use pathstore::dump::decode_bytes;
use pathstore::TxnStep;
use serde::Deserialize;

use crate::CliError;

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Check,
    Absent,
    Set,
    Create,
    SetIf,
    Rm,
    RmIf,
}

impl Verb {
    /// The verb named `name` in either format.
    fn from_name(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"check" => Verb::Check,
            b"absent" => Verb::Absent,
            b"set" => Verb::Set,
            b"create" => Verb::Create,
            b"set-if" => Verb::SetIf,
            b"rm" => Verb::Rm,
            b"rm-if" => Verb::RmIf,
            _ => return None,
        })
    }

    fn takes_value(self) -> bool {
        matches!(self, Verb::Set | Verb::Create | Verb::SetIf)
    }

    fn takes_version(self) -> bool {
        matches!(self, Verb::Check | Verb::SetIf | Verb::RmIf)
    }

    fn takes_recursive(self) -> bool {
        matches!(self, Verb::Rm | Verb::RmIf)
    }
}

/// One parsed step, owning its path and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    verb: Verb,
    path: Vec<u8>,
    value: Vec<u8>,
    version: u64,
    recursive: bool,
    /// The line it came from, in text input.
    pub line: Option<usize>,
}

impl Step {
    /// The step as the library's [`TxnStep`].
    pub fn as_txn(&self) -> TxnStep<'_> {
        let (path, value, version) = (&self.path[..], &self.value[..], self.version);
        match self.verb {
            Verb::Check => TxnStep::check_version(path, version),
            Verb::Absent => TxnStep::check_absent(path),
            Verb::Set => TxnStep::set(path, value),
            Verb::Create => TxnStep::create(path, value),
            Verb::SetIf => TxnStep::set_if_version(path, value, version),
            Verb::Rm => TxnStep::delete(path, self.recursive, None),
            Verb::RmIf => TxnStep::delete(path, self.recursive, Some(version)),
        }
    }
}

/// Parses the text format: one step a line, blank lines skipped.
pub fn parse_text(input: &[u8]) -> Result<Vec<Step>, CliError> {
    let mut steps = Vec::new();
    for (number, line) in input.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut step = text_step(line).map_err(|message| CliError::TxnSyntax {
            place: format!("line {}", number + 1),
            message,
        })?;
        step.line = Some(number + 1);
        steps.push(step);
    }
    Ok(steps)
}

/// Splits `text` at its first space.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[]),
    }
}

/// Parses one line of the text format.
fn text_step(line: &[u8]) -> Result<Step, String> {
    let (verb_name, rest) = split_word(line);
    let unknown = || format!("unknown step {:?}", String::from_utf8_lossy(line));
    let verb = Verb::from_name(verb_name).ok_or_else(unknown)?;
    let parse_version = |text: &[u8]| -> Result<u64, String> {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| format!("{:?} is not a version", String::from_utf8_lossy(text)))
    };
    let (recursive, rest) = match rest.strip_prefix(b"-r ") {
        Some(rest) if verb.takes_recursive() => (true, rest),
        _ => (false, rest),
    };
    let (path, tail) = split_word(rest);
    if path.is_empty() {
        return Err("a path is missing".into());
    }
    let (version, value) = match verb {
        Verb::Check | Verb::RmIf => (parse_version(tail)?, &[][..]),
        Verb::SetIf => {
            let (version, value) = split_word(tail);
            (parse_version(version)?, value)
        }
        Verb::Set | Verb::Create => (0, tail),
        Verb::Absent | Verb::Rm if tail.is_empty() => (0, &[][..]),
        Verb::Absent | Verb::Rm => return Err(unknown()),
    };
    Ok(Step {
        verb,
        path: path.to_vec(),
        value: value.to_vec(),
        version,
        recursive,
        line: None,
    })
}

/// A step of the JSON format, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonStep {
    op: String,
    path: Option<String>,
    path_base64: Option<String>,
    value: Option<String>,
    value_base64: Option<String>,
    version: Option<u64>,
    recursive: Option<bool>,
}

/// Parses the JSON format: an array of step objects.
pub fn parse_json(input: &[u8], what: &str) -> Result<Vec<Step>, CliError> {
    let raw: Vec<JsonStep> = serde_json::from_slice(input).map_err(|source| CliError::Json {
        what: what.to_owned(),
        source,
    })?;
    raw.into_iter()
        .enumerate()
        .map(|(i, step)| {
            json_step(step).map_err(|message| CliError::TxnSyntax {
                place: format!("step {}", i + 1),
                message,
            })
        })
        .collect()
}

/// Checks one JSON step's fields against its `op`.
fn json_step(raw: JsonStep) -> Result<Step, String> {
    let verb =
        Verb::from_name(raw.op.as_bytes()).ok_or_else(|| format!("unknown op {:?}", raw.op))?;
    let op = &raw.op;
    let path = decode_bytes("path", raw.path, raw.path_base64)?
        .ok_or_else(|| format!("`{op}` needs `path` or `path_base64`"))?;
    let value = decode_bytes("value", raw.value, raw.value_base64)?;
    let value = match (verb.takes_value(), value) {
        (true, Some(value)) => value,
        (true, None) => return Err(format!("`{op}` needs `value` or `value_base64`")),
        (false, Some(_)) => return Err(format!("`{op}` takes no value")),
        (false, None) => Vec::new(),
    };
    let version = match (verb.takes_version(), raw.version) {
        (true, Some(version)) => version,
        (true, None) => return Err(format!("`{op}` needs `version`")),
        (false, Some(_)) => return Err(format!("`{op}` takes no `version`")),
        (false, None) => 0,
    };
    let recursive = match (verb.takes_recursive(), raw.recursive) {
        (_, None) => false,
        (true, Some(recursive)) => recursive,
        (false, Some(_)) => return Err(format!("`{op}` takes no `recursive`")),
    };
    Ok(Step {
        verb,
        path,
        value,
        version,
        recursive,
        line: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(verb: Verb, path: &str, value: &[u8], version: u64, recursive: bool) -> Step {
        Step {
            verb,
            path: path.into(),
            value: value.to_vec(),
            version,
            recursive,
            line: None,
        }
    }

    fn text(input: &str) -> Result<Vec<Step>, String> {
        parse_text(input.as_bytes()).map_err(|e| e.to_string())
    }

    fn json(input: &str) -> Result<Vec<Step>, String> {
        parse_json(input.as_bytes(), "stdin").map_err(|e| e.to_string())
    }

    fn without_lines(steps: Vec<Step>) -> Vec<Step> {
        steps
            .into_iter()
            .map(|s| Step { line: None, ..s })
            .collect()
    }

    fn every_verb() -> Vec<Step> {
        vec![
            step(Verb::Check, "/a", b"", 7, false),
            step(Verb::Absent, "/b", b"", 0, false),
            step(Verb::Set, "/b", b"two words", 0, false),
            step(Verb::Create, "/c", b"", 0, false),
            step(Verb::SetIf, "/a", b"x y", 7, false),
            step(Verb::Rm, "/d", b"", 0, true),
            step(Verb::RmIf, "/e", b"", 3, true),
            step(Verb::RmIf, "/f", b"", 4, false),
        ]
    }

    #[test]
    fn text_format() {
        let input = "check /a 7\nabsent /b\n\nset /b two words\ncreate /c\nset-if /a 7 x y\n\
                     rm -r /d\nrm-if -r /e 3\nrm-if /f 4\n";
        let steps = text(input).unwrap();
        assert_eq!(steps[2].line, Some(4));
        assert_eq!(without_lines(steps), every_verb());
    }

    #[test]
    fn json_format() {
        let input = r#"[
            {"op":"check","path":"/a","version":7},
            {"op":"absent","path":"/b"},
            {"op":"set","path":"/b","value":"two words"},
            {"op":"create","path":"/c","value_base64":""},
            {"op":"set-if","path":"/a","version":7,"value":"x y"},
            {"op":"rm","path":"/d","recursive":true},
            {"op":"rm-if","path":"/e","version":3,"recursive":true},
            {"op":"rm-if","path_base64":"L2Y=","version":4,"recursive":false}
        ]"#;
        assert_eq!(json(input).unwrap(), every_verb());
    }

    #[test]
    fn json_carries_binary_values() {
        let steps = json(r#"[{"op":"set","path":"/a","value_base64":"AP8K"}]"#).unwrap();
        assert_eq!(steps[0].value, [0, 0xff, b'\n']);
    }

    #[test]
    fn text_errors() {
        for (input, message) in [
            ("frob /a", "txn: line 1: unknown step \"frob /a\""),
            ("\ncheck /a x", "txn: line 2: \"x\" is not a version"),
            ("set", "txn: line 1: a path is missing"),
            (
                "absent /a extra",
                "txn: line 1: unknown step \"absent /a extra\"",
            ),
            ("rm-if /a", "txn: line 1: \"\" is not a version"),
        ] {
            assert_eq!(text(input).unwrap_err(), message, "{input:?}");
        }
    }

    #[test]
    fn json_errors() {
        for (input, message) in [
            (
                r#"[{"op":"frob","path":"/a"}]"#,
                "txn: step 1: unknown op \"frob\"",
            ),
            (
                r#"[{"op":"set","path":"/a"}]"#,
                "txn: step 1: `set` needs `value` or `value_base64`",
            ),
            (
                r#"[{"op":"check","path":"/a"}]"#,
                "txn: step 1: `check` needs `version`",
            ),
            (
                r#"[{"op":"absent","path":"/a","value":"x"}]"#,
                "txn: step 1: `absent` takes no value",
            ),
            (
                r#"[{"op":"set","path":"/a","value":"x","version":1}]"#,
                "txn: step 1: `set` takes no `version`",
            ),
            (
                r#"[{"op":"check","path":"/a","version":1,"recursive":true}]"#,
                "txn: step 1: `check` takes no `recursive`",
            ),
            (
                r#"[{"op":"rm","path":"/a"},{"op":"rm"}]"#,
                "txn: step 2: `rm` needs `path` or `path_base64`",
            ),
            (
                r#"[{"op":"rm","path":"/a","path_base64":"L2E="}]"#,
                "txn: step 1: both `path` and `path_base64` given",
            ),
            (
                r#"[{"op":"set","path":"/a","value_base64":"!"}]"#,
                "txn: step 1: invalid `value_base64`: Invalid symbol 33, offset 0.",
            ),
        ] {
            assert_eq!(json(input).unwrap_err(), message, "{input}");
        }
        let err = json(r#"[{"op":"rm","path":"/a","recursiv":true}]"#).unwrap_err();
        assert!(err.starts_with("stdin: unknown field `recursiv`"), "{err}");
        assert!(json("{}")
            .unwrap_err()
            .starts_with("stdin: invalid type: map"));
    }
}
