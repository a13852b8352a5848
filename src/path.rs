// SPDX-License-Identifier: GPL-2.0

//! Parsing and validation of store paths.
//!
//! A path is a byte string of `/`-separated components that starts with `/`; `/` is the root and
//! a trailing `/` is ignored. Components are 1 to [`uapi::MAX_NAME_LEN`] bytes of anything but
//! `/` and NUL, and never `.` or `..`.

use kernel::prelude::*;

use crate::{
    error::enametoolong,
    limits::Limits,
    num::FromSafeCast,
    uapi, //
};

/// A validated path, borrowed from the buffer it was parsed from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Path<'a> {
    /// The path without a trailing `/` (except for the root, which is `/`).
    bytes: &'a [u8],
    /// Number of components (0 for the root).
    depth: usize,
}

/// Checks one component: `EINVAL` for an empty, `.` or `..` name or one holding `/` or NUL,
/// `ENAMETOOLONG` for one longer than [`uapi::MAX_NAME_LEN`].
pub(crate) fn check_name(name: &[u8]) -> Result {
    if name.is_empty() || name == b"." || name == b".." || name.iter().any(|&b| b == 0 || b == b'/')
    {
        return Err(EINVAL);
    }
    if name.len() > usize::from_safe_cast(uapi::MAX_NAME_LEN) {
        return Err(enametoolong());
    }
    Ok(())
}

impl<'a> Path<'a> {
    /// Parses and validates `bytes` against `limits`.
    pub(crate) fn parse(bytes: &'a [u8], limits: &Limits) -> Result<Self> {
        if bytes.is_empty() {
            return Err(EINVAL);
        }
        if bytes.len() > usize::from_safe_cast(limits.max_path_len) {
            return Err(enametoolong());
        }
        if bytes[0] != b'/' {
            return Err(EINVAL);
        }
        // One trailing `/` is ignored; `//` at the end is an empty component.
        let bytes = match bytes {
            [rest @ .., b'/'] if !rest.is_empty() && !rest.ends_with(b"/") => rest,
            _ => bytes,
        };
        let mut depth = 0usize;
        if bytes.len() > 1 {
            for name in bytes[1..].split(|&b| b == b'/') {
                check_name(name)?;
                depth += 1;
            }
        }
        if depth > usize::from_safe_cast(limits.max_depth) {
            return Err(enametoolong());
        }
        Ok(Self { bytes, depth })
    }

    /// The path's bytes, without a trailing `/` (except for the root).
    pub(crate) fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether this is the root, `/`.
    pub(crate) fn is_root(&self) -> bool {
        self.depth == 0
    }

    /// Number of components.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// The components, from the root down.
    pub(crate) fn components(&self) -> impl DoubleEndedIterator<Item = &'a [u8]> + 'a {
        let rest: &'a [u8] = if self.is_root() {
            &[]
        } else {
            &self.bytes[1..]
        };
        rest.split(|&b| b == b'/').filter(|c| !c.is_empty())
    }

    /// The last component, `None` for the root.
    pub(crate) fn name(&self) -> Option<&'a [u8]> {
        self.components().last()
    }
}

#[kunit_tests(pathstore_path)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::from_params(64, 64, 4, 100, 1000)
    }

    fn errno(bytes: &[u8]) -> i32 {
        match Path::parse(bytes, &limits()) {
            Ok(_) => 0,
            Err(e) => e.to_errno(),
        }
    }

    #[test]
    fn root() -> Result {
        let l = limits();
        let p = Path::parse(b"/", &l)?;
        assert!(p.is_root());
        assert_eq!(p.depth(), 0);
        assert_eq!(p.components().count(), 0);
        assert!(p.name().is_none());
        Ok(())
    }

    #[test]
    fn components_and_trailing_slash() -> Result {
        let l = limits();
        let p = Path::parse(b"/net/eth0/mtu/", &l)?;
        assert_eq!(p.depth(), 3);
        let mut it = p.components();
        assert_eq!(it.next(), Some(&b"net"[..]));
        assert_eq!(it.next(), Some(&b"eth0"[..]));
        assert_eq!(it.next(), Some(&b"mtu"[..]));
        assert_eq!(it.next(), None);
        assert_eq!(p.name(), Some(&b"mtu"[..]));
        Ok(())
    }

    #[test]
    fn invalid_paths() {
        let einval = EINVAL.to_errno();
        for bad in [
            &b""[..],
            b"a/b",
            b"//",
            b"/a//b",
            b"/a/./b",
            b"/..",
            b"/a\0b",
            b"/a//",
        ] {
            assert_eq!(errno(bad), einval);
        }
    }

    #[test]
    fn too_long() {
        let enametoolong = enametoolong().to_errno();
        // Deeper than max_depth (4).
        assert_eq!(errno(b"/a/b/c/d/e"), enametoolong);
        assert_eq!(errno(b"/a/b/c/d"), 0);
        // Longer than max_path_len (64).
        let mut long = [b'a'; 65];
        long[0] = b'/';
        assert_eq!(errno(&long), enametoolong);
        assert_eq!(errno(&long[..64]), 0);
        // A component longer than 255 bytes.
        let big = Limits::from_params(64, 4096, 4, 100, 1000);
        let mut name = [b'x'; 257];
        name[0] = b'/';
        assert!(Path::parse(&name, &big).is_err());
        assert!(Path::parse(&name[..256], &big).is_ok());
    }
}
