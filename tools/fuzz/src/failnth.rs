//! Systematic fault injection, as syzkaller does it: for each kind of operation, fail the 1st,
//! then the 2nd, 3rd... fault-injection point (slab or page allocation) of one call through
//! `/proc/thread-self/fail-nth`, until a call runs without meeting the injected failure. After
//! each injected failure the call must have failed with `ENOMEM` and left the store exactly as
//! the model says it was, or (when the kernel absorbed the failure: a `kvmalloc` falling back to
//! vmalloc, kmemleak's metadata pool) have done exactly what the model predicts. The kernel log
//! is read after each operation kind: a warning or a stack trace is a failure (a failed
//! allocation without `__GFP_NOWARN` that reaches the page allocator's warning prints one).
//!
//! failslab and fail_page_alloc are set up for it (`ignore-gfp-wait` N so that `GFP_KERNEL`
//! allocations count, fail_page_alloc `min-order` 0 so that order-0 pages do, `probability` 0
//! and `verbose` 0 so that nothing else fails and nothing is printed); every setting is
//! restored at the end.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use pathstore::{abi, Errno};

use crate::abi_dev::{Files, Injector};
use crate::abi_model::{AbiLimits, AbiModel, Caller};
use crate::abi_op::{AOp, AReply, BatchGet, StatsParams, TxnStep};
use crate::fault::{ATTRIBUTES, DEBUGFS};
use crate::fuzzer::Failure;
use crate::model::{join, Limits};

/// `/proc/thread-self/fail-nth`, armed for one call.
struct FailNth {
    file: File,
    /// `/proc/thread-self/make-it-fail`, for failing every slab allocation after the n-th.
    make_it_fail: File,
    n: u32,
    /// Fail the n-th point and every slab allocation after it (else the n-th point only).
    from: bool,
    /// Whether the last call met the injected failure.
    injected: bool,
}

impl Injector for FailNth {
    fn arm(&mut self) -> io::Result<bool> {
        if self.from {
            self.make_it_fail.write_all(b"1")?;
        }
        self.file.write_all(self.n.to_string().as_bytes())?;
        Ok(true)
    }

    fn disarm(&mut self) -> io::Result<()> {
        if self.from {
            self.make_it_fail.write_all(b"0")?;
        }
        // `pread`: the file cannot seek, and opening it again would allocate while armed.
        let mut buf = [0u8; 32];
        let n = rustix::io::pread(&self.file, &mut buf, 0)?;
        let text = String::from_utf8_lossy(&buf[..n]);
        // 0: the n-th point was reached and failed; otherwise the call made fewer.
        self.injected = text.trim() == "0";
        self.file.write_all(b"0")?;
        Ok(())
    }
}

/// The debugfs settings changed, restored on drop.
struct Settings(Vec<(PathBuf, String)>);

impl Settings {
    fn set(&mut self, path: PathBuf, value: &str) -> io::Result<()> {
        let old = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        self.0.push((path.clone(), old.trim().to_string()));
        std::fs::write(&path, value)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }
}

impl Drop for Settings {
    fn drop(&mut self) {
        for (path, old) in self.0.drain(..).rev() {
            if let Err(e) = std::fs::write(&path, &old) {
                eprintln!("fuzz: could not restore {}: {e}", path.display());
            }
        }
    }
}

/// The kernel log from now on (`/dev/kmsg`, not blocking).
struct Kmsg(Option<File>);

impl Kmsg {
    fn open() -> Self {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags_nonblock()
            .open("/dev/kmsg")
            .ok()
            .and_then(|mut f| f.seek(SeekFrom::End(0)).ok().map(|_| f));
        Kmsg(file)
    }

    /// New lines that look like a warning, an oops or a stack trace.
    fn splats(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(f) = &mut self.0 else {
            return out;
        };
        let mut buf = vec![0u8; 8192];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let line = String::from_utf8_lossy(&buf[..n]).to_string();
                    let text = line.split_once(';').map_or(line.as_str(), |(_, t)| t);
                    if [
                        "WARNING",
                        "BUG",
                        "allocation failure",
                        "Call Trace",
                        "kmemleak",
                        "Oops",
                        "KASAN",
                        "UBSAN",
                        "vmalloc error",
                    ]
                    .iter()
                    .any(|w| text.contains(w))
                    {
                        out.push(text.trim_end().to_string());
                    }
                }
                // EPIPE: records were overwritten; keep reading.
                Err(e) if e.raw_os_error() == Some(libc_epipe()) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

fn libc_epipe() -> i32 {
    Errno::PIPE.raw_os_error()
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
    }
}

/// One kind of operation swept: its name, the store it starts from (as operations of root's
/// file 0), and the call (built from the model of that store).
struct Case {
    name: &'static str,
    fixture: fn(&mut Vec<AOp>),
    op: fn(&AbiModel) -> AOp,
    /// Needs allocations over a page (a kvmalloc that may fall back to vmalloc).
    large: bool,
}

/// Result of one case.
#[derive(Clone, Debug, Default)]
pub struct CaseResult {
    /// The operation.
    pub name: &'static str,
    /// Injection points the call reached (each failed once).
    pub sites: u32,
    /// Of those, failures the call reported as `ENOMEM`.
    pub enomem: u32,
    /// Failures the kernel absorbed (the call succeeded all the same).
    pub absorbed: u32,
    /// Second pass, failing the n-th point and every slab allocation after it: points reached.
    pub from_sites: u32,
    /// Of those, calls that failed with `ENOMEM`.
    pub from_enomem: u32,
}

fn set(path: &str, value: &[u8]) -> AOp {
    AOp::Set {
        file: 0,
        path: path.into(),
        value: value.to_vec(),
        flags: 0,
        mode: 0,
        expected: 0,
    }
}

fn base(ops: &mut Vec<AOp>) {
    ops.push(set("/f/a", b"one"));
    // Over 256 bytes (a kernel buffer for gets), at most 2048 (the text get's response, the
    // value and `\n`, then stays within a page).
    ops.push(set("/f/b/c", &[b'v'; 2000]));
    ops.push(set("/f/b/d", b"two"));
    ops.push(set("/f/q/item-", b""));
    ops.push(set(&format!("/f/{}", "p".repeat(150)), b"long path"));
}

fn big(ops: &mut Vec<AOp>) {
    base(ops);
    ops.push(set("/f/big", &[b'B'; 60_000]));
    ops.push(set("/f/g3000", &[b'G'; 3000]));
    for i in 0..40 {
        ops.push(set(&format!("/f/many/{}{i}", "n".repeat(200)), b""));
    }
}

/// Forty children of 200-odd bytes (four pages of a text listing), listed as text by root's
/// file, whose first page has been read: the next `read()` fetches the second page.
fn listed(ops: &mut Vec<AOp>) {
    base(ops);
    for i in 0..40 {
        ops.push(set(&format!("/f/many/{}{i}", "n".repeat(200)), b""));
    }
    ops.push(text("ls /f/many"));
    ops.push(AOp::Read { file: 0, len: 4096 });
}

fn text(cmd: &str) -> AOp {
    AOp::Text {
        file: 0,
        command: cmd.as_bytes().to_vec(),
    }
}

fn version_of(m: &AbiModel, path: &str) -> u64 {
    m.node(path.as_bytes()).map_or(0, |n| n.version)
}

fn cases() -> Vec<Case> {
    let c = |name, fixture: fn(&mut Vec<AOp>), op, large| Case {
        name,
        fixture,
        op,
        large,
    };
    vec![
        c("set-new", base, |_| set("/f/a2", b"x"), false),
        // A text get's response grows (doubles) past a page for values over 2048 bytes.
        c("text-get-3000", big, |_| text("get /f/g3000"), true),
        c("set-chain", base, |_| set("/f/x/y/z", b"x"), false),
        c("set-replace", base, |_| set("/f/a", b"replaced"), false),
        c(
            "set-page-value",
            base,
            |_| set("/f/a", &[b'p'; 4000]),
            false,
        ),
        c(
            "set-mode",
            base,
            |_| AOp::Set {
                file: 0,
                path: b"/f/m/n".to_vec(),
                value: b"x".to_vec(),
                flags: abi::SET_MODE,
                mode: abi::MODE_ALL,
                expected: 0,
            },
            false,
        ),
        c(
            "set-if",
            base,
            |m| AOp::Set {
                file: 0,
                path: b"/f/a".to_vec(),
                value: b"cas".to_vec(),
                flags: abi::SET_IF_VERSION,
                mode: 0,
                expected: version_of(m, "/f/a"),
            },
            false,
        ),
        c(
            "set-ephemeral",
            base,
            |_| AOp::Set {
                file: 0,
                path: b"/f/e".to_vec(),
                value: b"x".to_vec(),
                flags: abi::SET_EPHEMERAL,
                mode: 0,
                expected: 0,
            },
            false,
        ),
        c(
            "set-sequential",
            base,
            |_| AOp::Set {
                file: 0,
                path: b"/f/q/item-".to_vec(),
                value: b"x".to_vec(),
                flags: abi::SET_SEQUENTIAL | abi::SET_EPHEMERAL,
                mode: 0,
                expected: 0,
            },
            false,
        ),
        c(
            "get",
            base,
            |_| AOp::Get {
                file: 0,
                path: b"/f/a".to_vec(),
                buf_len: 100,
                flags: 0,
            },
            false,
        ),
        c(
            "get-page-value",
            base,
            |_| AOp::Get {
                file: 0,
                path: b"/f/b/c".to_vec(),
                buf_len: 4096,
                flags: 0,
            },
            false,
        ),
        c(
            "get-long-path",
            base,
            |_| AOp::Get {
                file: 0,
                path: format!("/f/{}", "p".repeat(150)).into_bytes(),
                buf_len: 100,
                flags: 0,
            },
            false,
        ),
        c(
            "delete",
            base,
            |_| AOp::Delete {
                file: 0,
                path: b"/f/a".to_vec(),
                flags: 0,
                expected: 0,
            },
            false,
        ),
        c(
            "delete-r",
            base,
            |_| AOp::Delete {
                file: 0,
                path: b"/f/b".to_vec(),
                flags: abi::DELETE_RECURSIVE,
                expected: 0,
            },
            false,
        ),
        c(
            "delete-if",
            base,
            |m| AOp::Delete {
                file: 0,
                path: b"/f/a".to_vec(),
                flags: abi::DELETE_IF_VERSION,
                expected: version_of(m, "/f/a"),
            },
            false,
        ),
        c(
            "list",
            base,
            |_| AOp::List {
                file: 0,
                path: b"/f".to_vec(),
                after: b"a".to_vec(),
                buf_len: 4096,
                flags: 0,
            },
            false,
        ),
        c(
            "stat",
            base,
            |_| AOp::Stat {
                file: 0,
                path: b"/f/b".to_vec(),
            },
            false,
        ),
        c("stats", base, |_| AOp::Stats { file: 0 }, false),
        c("check", base, |_| AOp::Check { file: 0 }, false),
        c(
            "watch",
            base,
            |m| AOp::Watch {
                file: 0,
                path: b"/f".to_vec(),
                after: m.sequence() - 2,
                flags: abi::WATCH_SUBTREE,
                buf_len: 256,
            },
            false,
        ),
        c(
            "txn",
            base,
            |m| AOp::Txn {
                file: 0,
                steps: vec![
                    step(
                        abi::TXN_CHECK_VERSION,
                        "/f/a",
                        b"",
                        0,
                        version_of(m, "/f/a"),
                    ),
                    step(abi::TXN_SET, "/f/t/u", b"new", abi::SET_MODE, 0),
                    step(abi::TXN_SET, "/f/a", b"replaced", 0, 0),
                    step(abi::TXN_DELETE, "/f/b", b"", abi::DELETE_RECURSIVE, 0),
                    step(abi::TXN_CHECK_ABSENT, "/f/b/c", b"", 0, 0),
                ],
                flags: 0,
            },
            false,
        ),
        c(
            "txn-failing",
            base,
            |_| AOp::Txn {
                file: 0,
                steps: vec![
                    step(abi::TXN_SET, "/f/t/u", b"new", 0, 0),
                    step(abi::TXN_DELETE, "/f/b", b"", abi::DELETE_RECURSIVE, 0),
                    step(abi::TXN_CHECK_VERSION, "/f/a", b"", 0, 1),
                ],
                flags: 0,
            },
            false,
        ),
        c(
            "get-batch",
            base,
            |_| AOp::Batch {
                file: 0,
                gets: vec![
                    BatchGet {
                        path: b"/f/a".to_vec(),
                        buf_len: 64,
                    },
                    BatchGet {
                        path: b"/f/b/c".to_vec(),
                        buf_len: 4096,
                    },
                    BatchGet {
                        path: format!("/f/{}", "p".repeat(150)).into_bytes(),
                        buf_len: 64,
                    },
                ],
                flags: 0,
            },
            false,
        ),
        c("text-set", base, |_| text("set /f/a text"), false),
        c(
            "text-create-chain",
            base,
            |_| text("create /f/x/y/z v"),
            false,
        ),
        c("text-get", base, |_| text("get /f/b/c"), false),
        c("text-stat", base, |_| text("stat /f/b"), false),
        c("text-stats", base, |_| text("stats"), false),
        c("text-rm-r", base, |_| text("rm -r /f/b"), false),
        c("text-seq", base, |_| text("seq /f/q/item- x"), false),
        c("text-ephemeral", base, |_| text("ephemeral /f/e x"), false),
        // A text listing's next page, which `read()` fetches.
        c(
            "text-ls-next-page",
            listed,
            |_| AOp::Read { file: 0, len: 4096 },
            false,
        ),
        c(
            "text-set-if",
            base,
            |m| AOp::Text {
                file: 0,
                command: format!("set-if /f/a {} v", version_of(m, "/f/a")).into_bytes(),
            },
            false,
        ),
        c(
            "text-watch",
            base,
            |m| AOp::Text {
                file: 0,
                command: format!("watch -r /f {}", m.sequence() - 2).into_bytes(),
            },
            false,
        ),
        // Over a page: kvmalloc may fall back to vmalloc, whose failure warns unless the
        // module passes __GFP_NOWARN.
        c(
            "set-large-value",
            big,
            |_| set("/f/a", &[b'L'; 60_000]),
            true,
        ),
        c(
            "get-large-value",
            big,
            |_| AOp::Get {
                file: 0,
                path: b"/f/big".to_vec(),
                buf_len: 65536,
                flags: 0,
            },
            true,
        ),
        c(
            "list-large-buffer",
            big,
            |_| AOp::List {
                file: 0,
                path: b"/f/many".to_vec(),
                after: Vec::new(),
                buf_len: 65536,
                flags: 0,
            },
            true,
        ),
        c("text-ls", big, |_| text("ls /f/many"), true),
        c("text-get-large", big, |_| text("get /f/big"), true),
        c(
            "text-set-large",
            big,
            |_| AOp::Text {
                file: 0,
                command: {
                    let mut c = b"set /f/a ".to_vec();
                    c.extend_from_slice(&[b'T'; 20_000]);
                    c
                },
            },
            true,
        ),
    ]
}

fn step(op: u32, path: &str, value: &[u8], flags: u32, expected: u64) -> TxnStep {
    TxnStep {
        op,
        path: path.into(),
        value: value.to_vec(),
        flags,
        expected,
        mode: if flags & abi::SET_MODE != 0 && op == abi::TXN_SET {
            abi::MODE_ALL
        } else {
            0
        },
        pad: 0,
    }
}

/// Settings of a sweep.
#[derive(Clone, Debug)]
pub struct FailNthConfig {
    /// The device.
    pub device: String,
    /// Include the operations whose allocations exceed a page.
    pub large: bool,
    /// Only the operations whose names contain this.
    pub only: Option<String>,
    /// Most points failed per operation (a bound against a call that never completes).
    pub max_sites: u32,
}

struct Sweep {
    files: Files,
    model: AbiModel,
    nth: FailNth,
}

fn mismatch(case: &str, n: u32, what: &str, op: &AOp, got: &AReply, want: &AReply) -> Failure {
    Failure::Mismatch(format!(
        "fuzz: FAIL-NTH MISMATCH in {case}, point {n}: {what}\n  call:   {op}\n  device: \
         {got}\n  model:  {want}\nfuzz: reproduce: pathstore-fuzz --mode fail-nth --only {case}"
    ))
}

impl Sweep {
    /// Empties the store and builds a case's fixture through root's file 0, checking each reply.
    fn reset(&mut self, case: &Case) -> Result<(), Failure> {
        // A fresh file 0 (its ephemeral nodes go with the old one).
        if self.model.files().contains_key(&0) {
            self.run_plain(&AOp::Close { file: 0 }, case.name)?;
        }
        let session = self
            .files
            .open(0, 0)
            .map_err(|e| Failure::Setup(format!("open: {e}")))?;
        self.model.open(
            0,
            Caller {
                uid: 0,
                admin: true,
            },
            session,
        );
        let mut ops = vec![AOp::Delete {
            file: 0,
            path: b"/".to_vec(),
            flags: abi::DELETE_RECURSIVE,
            expected: 0,
        }];
        (case.fixture)(&mut ops);
        for op in &ops {
            self.run_plain(op, case.name)?;
        }
        Ok(())
    }

    fn run_plain(&mut self, op: &AOp, case: &str) -> Result<AReply, Failure> {
        let got = self
            .files
            .exec(op, None)
            .map_err(|e| Failure::Setup(format!("{op}: {e}")))?;
        let want = self.model.apply(op);
        if got != want {
            return Err(mismatch(case, 0, "fixture", op, &got, &want));
        }
        Ok(got)
    }

    /// Compares the whole store with the model.
    fn compare(&mut self, case: &str, n: u32, op: &AOp) -> Result<(), Failure> {
        let mut queries = vec![AOp::Stats { file: 0 }, AOp::Check { file: 0 }];
        let mut stack = vec![Vec::<Vec<u8>>::new()];
        while let Some(comps) = stack.pop() {
            let path = join(&comps);
            queries.push(AOp::Stat {
                file: 0,
                path: path.clone(),
            });
            queries.push(AOp::Get {
                file: 0,
                path: path.clone(),
                buf_len: 70_000,
                flags: 0,
            });
            queries.push(AOp::List {
                file: 0,
                path: path.clone(),
                after: Vec::new(),
                buf_len: 65536,
                flags: 0,
            });
            if let Some(node) = self.model.node(&path) {
                for name in node.children.keys() {
                    let mut c = comps.clone();
                    c.push(name.clone());
                    stack.push(c);
                }
            }
        }
        for q in queries {
            let got = self
                .files
                .exec(&q, None)
                .map_err(|e| Failure::Setup(format!("{q}: {e}")))?;
            let want = self.model.apply(&q);
            if got != want {
                return Err(mismatch(
                    case,
                    n,
                    &format!("after the call ({op}), the store differs from the model"),
                    &q,
                    &got,
                    &want,
                ));
            }
        }
        Ok(())
    }

    /// One pass over a case: fail the n-th point (with `from`, and every slab allocation
    /// after it) for n = 1, 2, ... until the call reaches fewer than n points.
    fn sweep(&mut self, case: &Case, max_sites: u32, from: bool) -> Result<CaseResult, Failure> {
        let mut result = CaseResult {
            name: case.name,
            ..Default::default()
        };
        self.nth.from = from;
        self.reset(case)?;
        for n in 1..=max_sites {
            let op = (case.op)(&self.model);
            self.nth.n = n;
            self.nth.injected = false;
            let got = self
                .files
                .exec(&op, Some(&mut self.nth))
                .map_err(|e| Failure::Setup(format!("{op}: {e}")))?;
            if !self.nth.injected {
                // The call reached fewer than n points: it ran without a failure.
                let want = self.model.apply(&op);
                if got != want {
                    return Err(mismatch(
                        case.name,
                        n,
                        "without a failure",
                        &op,
                        &got,
                        &want,
                    ));
                }
                if matches!(want, AReply::Err(_)) && case.name != "txn-failing" {
                    return Err(mismatch(
                        case.name,
                        n,
                        "the call should succeed",
                        &op,
                        &got,
                        &want,
                    ));
                }
                self.compare(case.name, n, &op)?;
                result.sites = n - 1;
                return Ok(result);
            }
            let (got, batch_enomem) = self.model.merge_batch_enomem(&op, got);
            let enomem = batch_enomem > 0
                || matches!(
                    got,
                    AReply::Err(Errno::NOMEM)
                        | AReply::TxnErr {
                            errno: Errno::NOMEM,
                            ..
                        }
                );
            if batch_enomem > 0 {
                // The other gets of the batch are right (a batch changes nothing).
                let want = self.model.apply(&op);
                if got != want {
                    return Err(mismatch(case.name, n, "batch", &op, &got, &want));
                }
            }
            if enomem {
                result.enomem += 1;
                // Nothing changed: the model, which did not apply the call, still holds.
                self.model.failed_with_enomem(&op);
                self.compare(case.name, n, &op)?;
                if matches!(op, AOp::Read { .. }) {
                    // The listing ended with the failed read: list again for the next point.
                    self.reset(case)?;
                }
            } else {
                let want = self.model.apply(&op);
                if got != want {
                    return Err(mismatch(
                        case.name,
                        n,
                        "an injected failure gave neither ENOMEM nor the right result",
                        &op,
                        &got,
                        &want,
                    ));
                }
                result.absorbed += 1;
                self.compare(case.name, n, &op)?;
                self.reset(case)?;
            }
        }
        Err(Failure::Mismatch(format!(
            "fuzz: fail-nth {}: the call still met an injected failure at point {max_sites}",
            case.name
        )))
    }
}

/// Runs the sweep: one result per operation kind.
pub fn run(cfg: &FailNthConfig) -> (Vec<CaseResult>, Result<(), Failure>) {
    let mut results = Vec::new();
    let setup = |e: io::Error| Failure::Setup(format!("fail-nth: {e}"));
    let mut settings = Settings(Vec::new());
    for attr in ATTRIBUTES {
        let dir = Path::new(DEBUGFS).join(attr);
        let verbose = if std::env::var_os("PATHSTORE_FAILNTH_VERBOSE").is_some() {
            "2"
        } else {
            "0"
        };
        // failslab fails every allocation of a task with `make-it-fail` (set for the "from"
        // pass only, once the n-th point has failed); fail_page_alloc only through fail-nth,
        // but with `--large` like failslab, so that a kvmalloc over 8 KiB (whose kmalloc goes
        // to the page allocator) reaches its vmalloc fallback and fails there too.
        let probability = if attr == "failslab" || cfg.large {
            "100"
        } else {
            "0"
        };
        let mut want = vec![
            ("verbose", verbose),
            ("task-filter", "Y"),
            ("interval", "1"),
            ("times", "-1"),
            ("space", "0"),
            ("ignore-gfp-wait", "N"),
            ("probability", probability),
        ];
        if attr == "fail_page_alloc" {
            want.push(("min-order", "0"));
            want.push(("ignore-gfp-highmem", "N"));
        }
        for (name, value) in want {
            if let Err(e) = settings.set(dir.join(name), value) {
                return (results, Err(setup(e)));
            }
        }
    }
    if let Err(e) =
        rustix::mm::mlockall(rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE)
    {
        eprintln!("fuzz: mlockall failed ({e}); continuing without it");
    }
    let open = |path: &str| OpenOptions::new().read(true).write(true).open(path);
    let mut nth = match (
        open("/proc/thread-self/fail-nth"),
        open("/proc/thread-self/make-it-fail"),
    ) {
        (Ok(file), Ok(make_it_fail)) => Some(FailNth {
            file,
            make_it_fail,
            n: 0,
            from: false,
            injected: false,
        }),
        (Err(e), _) | (_, Err(e)) => return (results, Err(setup(e))),
    };
    let checker = match pathstore::Pathstore::open_path(&cfg.device) {
        Ok(c) => c,
        Err(e) => return (results, Err(Failure::Setup(format!("{e}")))),
    };
    let s = match checker.store_stats() {
        Ok(s) => s,
        Err(e) => return (results, Err(Failure::Setup(format!("{e}")))),
    };
    let limits = AbiLimits {
        store: Limits {
            max_value_len: s.max_value_len,
            max_path_len: s.max_path_len,
            max_depth: s.max_depth,
            max_nodes: s.max_nodes,
            max_bytes: s.max_bytes,
        },
        uid_max_nodes: s.uid_max_nodes,
        uid_max_bytes: s.uid_max_bytes,
        watch_events: u64::MAX,
        watch_bytes: u64::MAX,
        params: StatsParams::of(&s),
    };
    if s.max_value_len < 65536 || s.max_path_len < 4096 {
        return (
            results,
            Err(Failure::Setup(
                "fail-nth needs the default max_value_len and max_path_len".into(),
            )),
        );
    }
    let mut kmsg = Kmsg::open();
    let mut failed: Vec<&'static str> = Vec::new();
    let mut sweep: Option<Sweep> = None;
    for case in cases() {
        if case.large && !cfg.large {
            continue;
        }
        if cfg
            .only
            .as_ref()
            .is_some_and(|o| !case.name.contains(o.as_str()))
        {
            continue;
        }
        // A fresh model per case, of the store emptied by root.
        if let Err(e) = crate::abi_fuzz::reset_root(&checker) {
            return (results, Err(Failure::Setup(format!("{e}"))));
        }
        let root = match (checker.stat("/"), checker.store_stats()) {
            (Ok(r), Ok(s)) => (r, s),
            _ => return (results, Err(Failure::Setup("stat of /".into()))),
        };
        // The root's sequential counter is never needed: no case numbers children of `/`.
        let model = AbiModel::new(
            limits,
            root.1.sequence,
            root.0.version,
            root.0.child_version,
            0,
        );
        let files = Files::new(&cfg.device, 70_000);
        let mut sw = match sweep.take() {
            Some(mut old) => {
                // Close the previous file 0 outside the model: the store is emptied anyway.
                old.files.exec(&AOp::Close { file: 0 }, None).ok();
                Sweep {
                    files,
                    model,
                    nth: old.nth,
                }
            }
            None => Sweep {
                files,
                model,
                nth: nth.take().expect("the fail-nth file"),
            },
        };
        let r = sw
            .sweep(&case, cfg.max_sites, false)
            .and_then(|mut single| {
                let from = sw.sweep(&case, cfg.max_sites, true)?;
                single.from_sites = from.sites;
                single.from_enomem = from.enomem;
                Ok(single)
            });
        let splats = kmsg.splats();
        match r {
            Ok(res) => {
                println!(
                    "fail-nth: {:<18} sites={:<3} enomem={:<3} absorbed={:<3} | fail-from-nth: \
                     sites={:<3} enomem={}",
                    res.name, res.sites, res.enomem, res.absorbed, res.from_sites, res.from_enomem
                );
                results.push(res);
            }
            // Report, and go on with the other operations.
            Err(Failure::Mismatch(report)) => {
                println!("{report}");
                failed.push(case.name);
            }
            Err(e) => return (results, Err(e)),
        }
        if !splats.is_empty() {
            println!(
                "fuzz: fail-nth {}: the kernel log shows a warning:\n  {}",
                case.name,
                splats.join("\n  ")
            );
            failed.push(case.name);
        }
        sweep = Some(sw);
    }
    if let Some(mut sw) = sweep {
        sw.files.exec(&AOp::Close { file: 0 }, None).ok();
    }
    let _ = crate::abi_fuzz::reset_root(&checker);
    drop(settings);
    if !failed.is_empty() {
        return (
            results,
            Err(Failure::Mismatch(format!(
                "fuzz: fail-nth: {} operation(s) failed: {}",
                failed.len(),
                failed.join(", ")
            ))),
        );
    }
    (results, Ok(()))
}
