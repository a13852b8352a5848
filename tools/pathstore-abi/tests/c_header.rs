// SPDX-License-Identifier: MIT OR Apache-2.0

//! Agreement between the ABI's two spellings: this crate's `src/uapi.rs` (which the kernel module
//! includes too) and the C header `include/uapi/linux/pathstore.h` of the repository.
//!
//! The test generates a small C program from the tables below, compiles it against the header with
//! `cc` (or `$CC`) and runs it. The program prints one line per fact (struct size and alignment,
//! every field's offset and size, every constant's value); the test computes the same lines from
//! the Rust definitions and fails listing every line that differs. The program also assigns the
//! address of every field to a pointer of the C type the Rust type maps to (`u64` -> `__u64 *`,
//! `[u64; 2]` -> `__u64 (*)[2]`, ...), so a field whose type differs (even in signedness only)
//! fails the compilation under `-Werror`.
//!
//! Completeness:
//! - struct fields: the table destructures each struct without `..`, so a field added to
//!   `uapi.rs` but not to the table does not compile;
//! - structs and constants: the test scans `uapi.rs` for `pub struct` and `pub const` items
//!   missing from the tables, and the header for `struct pathstore_*` and `#define PATHSTORE_*`
//!   items the tables do not know.
//!
//! To add an item to the ABI: add it to `uapi.rs`, to the header, and to a table below.

use core::mem::{align_of, offset_of, size_of};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pathstore_abi as abi;

/// Maps a Rust field type to the C type of the header.
trait CType {
    /// A C declaration of a pointer named `var` to this type.
    fn pointer_decl(var: &str) -> String;
}

/// Types whose C spelling is a plain name (and which may be array elements).
trait CScalar {
    const C_NAME: &'static str;
}

macro_rules! c_scalar {
    ($($t:ty => $c:literal),* $(,)?) => {$(
        impl CScalar for $t {
            const C_NAME: &'static str = $c;
        }
        impl CType for $t {
            fn pointer_decl(var: &str) -> String {
                format!("{} *{var}", <$t as CScalar>::C_NAME)
            }
        }
    )*};
}

c_scalar! {
    i32 => "__s32",
    u32 => "__u32",
    u64 => "__u64",
    abi::NodeStat => "struct pathstore_node_stat",
}

impl<T: CScalar, const N: usize> CType for [T; N] {
    fn pointer_decl(var: &str) -> String {
        format!("{} (*{var})[{N}]", T::C_NAME)
    }
}

struct Field {
    name: &'static str,
    offset: usize,
    size: usize,
    /// Declares a pointer of the given name to the field's C type.
    c_pointer_decl: fn(&str) -> String,
}

struct Struct {
    rust: &'static str,
    c: &'static str,
    size: usize,
    align: usize,
    fields: Vec<Field>,
}

enum Value {
    Int(u64),
    Str(&'static str),
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}

impl From<&'static str> for Value {
    fn from(v: &'static str) -> Self {
        Value::Str(v)
    }
}

struct Const {
    rust: &'static str,
    c: &'static str,
    value: Value,
}

/// `Rust => "c_name" { field: type, ... }`. Every field must be listed, with its exact type.
macro_rules! structs {
    ($($rust:ident => $c:literal { $($f:ident : $t:ty),* $(,)? })*) => {{
        $(
            // Compile-time checks: the list is complete (no `..`: a field missing from the table
            // fails here, reported by rustc as "pattern requires `..`") and every type is exact.
            {
                #[allow(dead_code)]
                fn exhaustive(s: abi::$rust) {
                    let abi::$rust { $($f: _),* } = s;
                    $(let _: fn(&abi::$rust) -> &$t = |s| &s.$f;)*
                }
            }
        )*
        vec![$(Struct {
            rust: stringify!($rust),
            c: $c,
            size: size_of::<abi::$rust>(),
            align: align_of::<abi::$rust>(),
            fields: vec![$(Field {
                name: stringify!($f),
                offset: offset_of!(abi::$rust, $f),
                size: size_of::<$t>(),
                c_pointer_decl: <$t as CType>::pointer_decl,
            }),*],
        }),*]
    }};
}

/// `"C_NAME" => RUST_NAME`: the C macro and the Rust constant that must have the same value.
macro_rules! consts {
    ($($c:literal => $rust:ident),* $(,)?) => {
        vec![$(Const { rust: stringify!($rust), c: $c, value: Value::from(abi::$rust) }),*]
    };
}

/// The single table of structures: (Rust name, C name, every field with its type).
fn struct_table() -> Vec<Struct> {
    structs! {
        VersionArgs => "pathstore_version" {
            abi_version: u32, module_version: u32, session: u64, reserved: [u64; 2],
        }
        SetArgs => "pathstore_set" {
            path: u64, value: u64, path_len: u32, value_len: u32, flags: u32, mode: u32,
            version: u64, expected_version: u64, sequence: u64,
        }
        GetArgs => "pathstore_get" {
            path: u64, buf: u64, path_len: u32, buf_len: u32, value_len: u32, flags: u32,
            version: u64, reserved: [u64; 2],
        }
        DeleteArgs => "pathstore_delete" {
            path: u64, path_len: u32, flags: u32, expected_version: u64, version: u64,
        }
        ListArgs => "pathstore_list" {
            path: u64, after: u64, buf: u64, path_len: u32, after_len: u32, buf_len: u32,
            buf_used: u32, count: u32, flags: u32, result_flags: u32, pad: u32,
            reserved: [u64; 2],
        }
        NodeStat => "pathstore_node_stat" {
            version: u64, child_version: u64, ctime_ns: u64, mtime_ns: u64, num_children: u64,
            value_len: u32, flags: u32, uid: u32, mode: u32, session: u64,
        }
        StatArgs => "pathstore_stat" {
            path: u64, path_len: u32, flags: u32, stat: abi::NodeStat,
        }
        StoreStats => "pathstore_store_stats" {
            nodes: u64, bytes: u64, max_nodes: u64, max_bytes: u64, sequence: u64,
            max_value_len: u32, max_path_len: u32, max_depth: u32, dev_mode: u32,
            uid_nodes: u64, uid_bytes: u64, uid_max_nodes: u64, uid_max_bytes: u64,
            reserve_nodes: u64, reserve_bytes: u64, watch_events: u32, watch_bytes: u32,
        }
        CheckArgs => "pathstore_check" {
            nodes: u64, bytes: u64, owners: u64, reserved: [u64; 1],
        }
        TxnOp => "pathstore_txn_op" {
            path: u64, value: u64, path_len: u32, value_len: u32, op: u32, flags: u32,
            expected_version: u64, mode: u32, pad: u32, reserved: [u64; 2],
        }
        TxnArgs => "pathstore_txn" {
            ops: u64, count: u32, flags: u32, version: u64, current: u64, failed: u32, pad: u32,
            reserved: [u64; 2],
        }
        GetOp => "pathstore_get_op" {
            path: u64, buf: u64, path_len: u32, buf_len: u32, value_len: u32, error: i32,
            version: u64,
        }
        GetBatchArgs => "pathstore_get_batch" {
            ops: u64, count: u32, flags: u32, done: u32, pad: u32, reserved: [u64; 2],
        }
        WatchArgs => "pathstore_watch" {
            path: u64, buf: u64, after: u64, version: u64, path_len: u32, buf_len: u32,
            timeout_ms: u32, flags: u32, event: u32, changed_len: u32, reserved: [u64; 2],
        }
    }
}

/// The single table of constants: (C name, Rust value).
fn const_table() -> Vec<Const> {
    consts! {
        "PATHSTORE_ABI_VERSION" => ABI_VERSION,
        "PATHSTORE_IOC_MAGIC" => IOC_MAGIC,
        "PATHSTORE_DEVICE_NAME" => DEVICE_NAME,
        "PATHSTORE_MAX_NAME_LEN" => MAX_NAME_LEN,
        "PATHSTORE_IOC_VERSION" => IOC_VERSION,
        "PATHSTORE_IOC_SET" => IOC_SET,
        "PATHSTORE_IOC_GET" => IOC_GET,
        "PATHSTORE_IOC_DELETE" => IOC_DELETE,
        "PATHSTORE_IOC_LIST" => IOC_LIST,
        "PATHSTORE_IOC_STAT" => IOC_STAT,
        "PATHSTORE_IOC_STORE_STATS" => IOC_STORE_STATS,
        "PATHSTORE_IOC_STORE_STATS_V1" => IOC_STORE_STATS_V1,
        "PATHSTORE_STORE_STATS_V1_SIZE" => STORE_STATS_V1_SIZE,
        "PATHSTORE_IOC_CHECK" => IOC_CHECK,
        "PATHSTORE_IOC_WATCH" => IOC_WATCH,
        "PATHSTORE_IOC_TXN" => IOC_TXN,
        "PATHSTORE_IOC_GET_BATCH" => IOC_GET_BATCH,
        "PATHSTORE_GET_BATCH_MAX" => GET_BATCH_MAX,
        "PATHSTORE_TXN_CHECK_VERSION" => TXN_CHECK_VERSION,
        "PATHSTORE_TXN_CHECK_ABSENT" => TXN_CHECK_ABSENT,
        "PATHSTORE_TXN_SET" => TXN_SET,
        "PATHSTORE_TXN_DELETE" => TXN_DELETE,
        "PATHSTORE_TXN_MAX_OPS" => TXN_MAX_OPS,
        "PATHSTORE_WATCH_SUBTREE" => WATCH_SUBTREE,
        "PATHSTORE_WATCH_FLAGS_ALL" => WATCH_FLAGS_ALL,
        "PATHSTORE_WATCH_FOREVER" => WATCH_FOREVER,
        "PATHSTORE_EVENT_CREATED" => EVENT_CREATED,
        "PATHSTORE_EVENT_CHANGED" => EVENT_CHANGED,
        "PATHSTORE_EVENT_DELETED" => EVENT_DELETED,
        "PATHSTORE_EVENT_LOST" => EVENT_LOST,
        "PATHSTORE_SET_CREATE" => SET_CREATE,
        "PATHSTORE_SET_MODE" => SET_MODE,
        "PATHSTORE_SET_IF_VERSION" => SET_IF_VERSION,
        "PATHSTORE_SET_EPHEMERAL" => SET_EPHEMERAL,
        "PATHSTORE_SET_SEQUENTIAL" => SET_SEQUENTIAL,
        "PATHSTORE_DELETE_IF_VERSION" => DELETE_IF_VERSION,
        "PATHSTORE_SEQUENTIAL_DIGITS" => SEQUENTIAL_DIGITS,
        "PATHSTORE_MODE_OTHERS_READ" => MODE_OTHERS_READ,
        "PATHSTORE_MODE_OTHERS_WRITE" => MODE_OTHERS_WRITE,
        "PATHSTORE_MODE_ALL" => MODE_ALL,
        "PATHSTORE_MODE_DEFAULT" => MODE_DEFAULT,
        "PATHSTORE_MODE_ROOT" => MODE_ROOT,
        "PATHSTORE_SET_FLAGS_ALL" => SET_FLAGS_ALL,
        "PATHSTORE_DELETE_RECURSIVE" => DELETE_RECURSIVE,
        "PATHSTORE_DELETE_FLAGS_ALL" => DELETE_FLAGS_ALL,
        "PATHSTORE_LIST_MORE" => LIST_MORE,
        "PATHSTORE_STAT_HAS_VALUE" => STAT_HAS_VALUE,
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The lines the C program must print, in its order.
fn expected_lines(structs: &[Struct], consts: &[Const]) -> Vec<String> {
    let mut lines = Vec::new();
    for s in structs {
        lines.push(format!("sizeof {} {}", s.c, s.size));
        lines.push(format!("alignof {} {}", s.c, s.align));
        for f in &s.fields {
            lines.push(format!("offsetof {}.{} {}", s.c, f.name, f.offset));
            lines.push(format!("fieldsize {}.{} {}", s.c, f.name, f.size));
        }
    }
    for c in consts {
        match c.value {
            Value::Int(v) => lines.push(format!("const {} {v}", c.c)),
            Value::Str(v) => lines.push(format!("const {} {v:?}", c.c)),
        }
    }
    lines
}

/// The C program printing the same lines from the header.
fn c_program(structs: &[Struct], consts: &[Const]) -> String {
    let mut p = String::new();
    p.push_str("#include <stddef.h>\n#include <stdio.h>\n#include <uapi/linux/pathstore.h>\n\n");
    for s in structs {
        writeln!(p, "struct align_{0} {{ char c; struct {0} t; }};", s.c).unwrap();
        // Type checks: never called, compiled under -Werror.
        writeln!(
            p,
            "void types_{0}(struct {0} *s);\nvoid types_{0}(struct {0} *s)\n{{",
            s.c
        )
        .unwrap();
        for f in &s.fields {
            let decl = (f.c_pointer_decl)(&format!("p_{}", f.name));
            writeln!(p, "\t{decl} = &s->{};\n\t(void)p_{};", f.name, f.name).unwrap();
        }
        p.push_str("}\n\n");
    }
    p.push_str("int main(void)\n{\n");
    for s in structs {
        writeln!(
            p,
            "\tprintf(\"sizeof {0} %lu\\n\", (unsigned long)sizeof(struct {0}));",
            s.c
        )
        .unwrap();
        writeln!(
            p,
            "\tprintf(\"alignof {0} %lu\\n\", (unsigned long)offsetof(struct align_{0}, t));",
            s.c
        )
        .unwrap();
        for f in &s.fields {
            writeln!(
                p,
                "\tprintf(\"offsetof {0}.{1} %lu\\n\", (unsigned long)offsetof(struct {0}, {1}));",
                s.c, f.name
            )
            .unwrap();
            writeln!(
                p,
                "\tprintf(\"fieldsize {0}.{1} %lu\\n\", \
                 (unsigned long)sizeof(((struct {0} *)0)->{1}));",
                s.c, f.name
            )
            .unwrap();
        }
    }
    for c in consts {
        writeln!(p, "#ifdef {}", c.c).unwrap();
        match c.value {
            Value::Int(_) => writeln!(
                p,
                "\tprintf(\"const {0} %llu\\n\", (unsigned long long)({0}));",
                c.c
            ),
            Value::Str(_) => writeln!(p, "\tprintf(\"const {0} \\\"%s\\\"\\n\", {0});", c.c),
        }
        .unwrap();
        writeln!(
            p,
            "#else\n\tprintf(\"const {} <not defined in the header>\\n\");\n#endif",
            c.c
        )
        .unwrap();
    }
    p.push_str("\treturn 0;\n}\n");
    p
}

/// Names of `pub struct` and `pub const` items of `uapi.rs`.
fn rust_items(uapi: &str) -> (Vec<String>, Vec<String>) {
    let name = |rest: &str| -> String {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut structs = Vec::new();
    let mut consts = Vec::new();
    for line in uapi.lines().map(str::trim_start) {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            structs.push(name(rest));
        } else if let Some(rest) = line.strip_prefix("pub const ") {
            // `pub const fn` is not a constant of the ABI.
            if !rest.starts_with("fn ") {
                consts.push(name(rest));
            }
        }
    }
    (structs, consts)
}

/// Names of `struct pathstore_*` definitions and `#define PATHSTORE_*` macros of the header.
fn c_items(header: &str) -> (Vec<String>, Vec<String>) {
    let name = |rest: &str| -> String {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut structs = Vec::new();
    let mut macros = Vec::new();
    for line in header.lines() {
        if let Some(rest) = line.strip_prefix("struct ") {
            if line.trim_end().ends_with('{') {
                structs.push(name(rest));
            }
        } else if let Some(rest) = line.strip_prefix("#define ") {
            let n = name(rest.trim_start());
            if n.starts_with("PATHSTORE_") {
                macros.push(n);
            }
        }
    }
    (structs, macros)
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}): {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("output is not UTF-8")
}

#[test]
fn c_header_agrees_with_uapi_rs() {
    let root = repo_root();
    let include = root.join("include");
    let header_path = include.join("uapi/linux/pathstore.h");
    let uapi_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/uapi.rs");
    let header = std::fs::read_to_string(&header_path)
        .unwrap_or_else(|e| panic!("cannot read the C header {}: {e}", header_path.display()));
    let uapi = std::fs::read_to_string(&uapi_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", uapi_path.display()));

    let structs = struct_table();
    let consts = const_table();
    let mut problems = Vec::new();

    // Completeness of the tables against both files.
    let (rust_structs, rust_consts) = rust_items(&uapi);
    for s in &rust_structs {
        if !structs.iter().any(|t| t.rust == s) {
            problems.push(format!(
                "pub struct {s} of uapi.rs is missing from the test's table"
            ));
        }
    }
    for c in &rust_consts {
        if !consts.iter().any(|t| t.rust == c) {
            problems.push(format!(
                "pub const {c} of uapi.rs is missing from the test's table"
            ));
        }
    }
    let (c_structs, c_macros) = c_items(&header);
    for s in &c_structs {
        if !structs.iter().any(|t| t.c == s) {
            problems.push(format!(
                "struct {s} of the header has no Rust counterpart in the table"
            ));
        }
    }
    for m in &c_macros {
        if !consts.iter().any(|t| t.c == m) {
            problems.push(format!(
                "#define {m} of the header has no Rust counterpart in the table"
            ));
        }
    }
    for s in &structs {
        if !c_structs.iter().any(|c| c == s.c) {
            problems.push(format!(
                "struct {} ({}) is not defined in the header",
                s.c, s.rust
            ));
        }
    }

    // Build and run the C program.
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("c_header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let src = dir.join("pathstore_abi_check.c");
    let exe = dir.join("pathstore_abi_check");
    std::fs::write(&src, c_program(&structs, &consts)).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    run(
        Command::new(&cc)
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
            .arg(&include)
            .arg(&src)
            .arg("-o")
            .arg(&exe),
        "compiling the header check (a field of the wrong type or a missing name fails here)",
    );
    let output = run(&mut Command::new(&exe), "running the header check");

    // Compare line by line, keyed by everything before the value.
    let key_value = |line: &str| -> (String, String) {
        let mut parts = line.splitn(3, ' ');
        let kind = parts.next().unwrap_or_default();
        let name = parts.next().unwrap_or_default();
        (
            format!("{kind} {name}"),
            parts.next().unwrap_or_default().to_string(),
        )
    };
    let c: BTreeMap<String, String> = output.lines().map(key_value).collect();
    let expected = expected_lines(&structs, &consts);
    let mut checked = 0;
    for line in &expected {
        let (key, want) = key_value(line);
        match c.get(&key) {
            None => problems.push(format!("{key}: Rust {want}, C printed nothing")),
            Some(got) if *got != want => problems.push(format!("{key}: Rust {want}, C {got}")),
            Some(_) => checked += 1,
        }
    }
    for key in c.keys() {
        if !expected.iter().any(|l| key_value(l).0 == *key) {
            problems.push(format!("{key}: printed by C, unknown to Rust"));
        }
    }

    if !problems.is_empty() {
        panic!(
            "include/uapi/linux/pathstore.h disagrees with uapi.rs ({} problem(s), {} fact(s) \
             agree; the C program is {}):\n  {}\n",
            problems.len(),
            checked,
            src.display(),
            problems.join("\n  ")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{checked} facts agree between the C header and uapi.rs");
}
