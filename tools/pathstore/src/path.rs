// SPDX-License-Identifier: MIT OR Apache-2.0

//! Helpers for pathstore paths: byte strings of `/`-separated components starting with `/`.
//!
//! These only manipulate bytes; the module is the judge of what is valid (see
//! `docs/semantics.md`).

/// Joins a parent path and a child name: `join(b"/a", b"b") == b"/a/b"`,
/// `join(b"/", b"b") == b"/b"`. A trailing `/` of the parent is not doubled.
pub fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let parent = parent.strip_suffix(b"/").unwrap_or(parent);
    let mut path = Vec::with_capacity(parent.len() + 1 + name.len());
    path.extend_from_slice(parent);
    path.push(b'/');
    path.extend_from_slice(name);
    path
}

/// The last component of a path (`b"c"` for `/a/b/c` and `/a/b/c/`); empty for the root.
pub fn name(path: &[u8]) -> &[u8] {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The path without a trailing `/`, except for the root itself: `/a/b/` becomes `/a/b`.
pub fn trim(path: &[u8]) -> &[u8] {
    match path.strip_suffix(b"/") {
        Some(b"") | None => path,
        Some(trimmed) => trimmed,
    }
}

/// Whether `path` is strictly below `ancestor`: `is_below(b"/a/b", b"/a")`, but not
/// `is_below(b"/ab", b"/a")` nor `is_below(b"/a", b"/a")`. Every other path is below `/`.
pub fn is_below(path: &[u8], ancestor: &[u8]) -> bool {
    let (path, ancestor) = (trim(path), trim(ancestor));
    let ancestor = ancestor.strip_suffix(b"/").unwrap_or(ancestor);
    path.len() > ancestor.len() + 1 && path.starts_with(ancestor) && path[ancestor.len()] == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_paths() {
        assert_eq!(join(b"/", b"a"), b"/a");
        assert_eq!(join(b"/a", b"b"), b"/a/b");
        assert_eq!(join(b"/a/", b"b"), b"/a/b");
        assert_eq!(join(b"/a", b"\xff\x00"), b"/a/\xff\x00");
    }

    #[test]
    fn names() {
        assert_eq!(name(b"/"), b"");
        assert_eq!(name(b"/a"), b"a");
        assert_eq!(name(b"/a/b/c"), b"c");
        assert_eq!(name(b"/a/b/c/"), b"c");
    }

    #[test]
    fn trims() {
        assert_eq!(trim(b"/"), b"/");
        assert_eq!(trim(b"/a/"), b"/a");
        assert_eq!(trim(b"/a"), b"/a");
    }

    #[test]
    fn below() {
        assert!(is_below(b"/a/b", b"/a"));
        assert!(is_below(b"/a/b/c/", b"/a/"));
        assert!(is_below(b"/a", b"/"));
        assert!(!is_below(b"/", b"/"));
        assert!(!is_below(b"/a", b"/a"));
        assert!(!is_below(b"/a/", b"/a"));
        assert!(!is_below(b"/ab", b"/a"));
        assert!(!is_below(b"/a", b"/a/b"));
    }
}
