//! `std::net::SocketAddr` and Unix paths to and from `luminal_socket_addr` (a raw sockaddr the runtime passes to
//! the kernel), and the heap slots the runtime's futures fill.

use crate::ffi;
use crate::io_op::Extra;
use std::ffi::c_void;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

pub(crate) fn empty() -> ffi::luminal_socket_addr {
    ffi::luminal_socket_addr { len: 0, reserved: 0, raw: [0; 128] }
}

/// A sockaddr_in / sockaddr_in6 for `a`.
pub(crate) fn to_raw(a: &SocketAddr) -> ffi::luminal_socket_addr {
    let mut s = empty();
    match a {
        SocketAddr::V4(v4) => {
            s.raw[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
            s.raw[2..4].copy_from_slice(&v4.port().to_be_bytes());
            s.raw[4..8].copy_from_slice(&v4.ip().octets());
            s.len = 16;
        }
        SocketAddr::V6(v6) => {
            s.raw[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
            s.raw[2..4].copy_from_slice(&v6.port().to_be_bytes());
            s.raw[4..8].copy_from_slice(&v6.flowinfo().to_be_bytes());
            s.raw[8..24].copy_from_slice(&v6.ip().octets());
            s.raw[24..28].copy_from_slice(&v6.scope_id().to_ne_bytes());
            s.len = 28;
        }
    }
    s
}

/// The IP address in `s`, or None for another family.
pub(crate) fn from_raw(s: &ffi::luminal_socket_addr) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([s.raw[0], s.raw[1]]);
    let port = u16::from_be_bytes([s.raw[2], s.raw[3]]);
    match family {
        AF_INET if s.len >= 16 => {
            let ip = Ipv4Addr::new(s.raw[4], s.raw[5], s.raw[6], s.raw[7]);
            Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        AF_INET6 if s.len >= 28 => {
            let flow = u32::from_be_bytes(s.raw[4..8].try_into().ok()?);
            let ip = Ipv6Addr::from(<[u8; 16]>::try_from(&s.raw[8..24]).ok()?);
            let scope = u32::from_ne_bytes(s.raw[24..28].try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, port, flow, scope)))
        }
        _ => None,
    }
}

/// A Unix socket address: a path, or (bytes starting with NUL) a Linux abstract name.
pub(crate) fn unix(path: &Path) -> io::Result<ffi::luminal_socket_addr> {
    let bytes = path.as_os_str().as_bytes();
    let mut s = empty();
    // SAFETY: a byte slice and its length; an out-pointer to a local.
    let st = unsafe { ffi::luminal_socket_addr_unix(bytes.as_ptr() as *const _, bytes.len(), &mut s) };
    if st == ffi::LUMINAL_OK {
        Ok(s)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a usable Unix socket path (empty, too long or with a NUL)",
        ))
    }
}

/// The path of a Unix socket address (the name, NUL first, for an abstract one), if it has one.
pub(crate) fn unix_path(s: &ffi::luminal_socket_addr) -> Option<std::path::PathBuf> {
    let family = u16::from_ne_bytes([s.raw[0], s.raw[1]]);
    if family != AF_UNIX || s.len <= 2 {
        return None;
    }
    let mut name = &s.raw[2..(s.len as usize).min(128)];
    if name.first() != Some(&0) {
        name = name.split(|b| *b == 0).next().unwrap_or(&[]);
    }
    Some(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(name)))
}

/// A heap slot of `T` for a runtime future to fill, freed (after the C future) with the Op.
pub(crate) fn slot<T>(value: T) -> (*mut T, Extra) {
    unsafe fn free<T>(p: *mut c_void) {
        // SAFETY: the Box made below, freed once by the Op's source.
        drop(unsafe { Box::from_raw(p as *mut T) });
    }
    let p = Box::into_raw(Box::new(value));
    (p, Extra { ptr: p as *mut c_void, free: free::<T> })
}

/// A `luminal_addr_list` slot for `luminal_resolve`; what it still holds is released with it.
pub(crate) fn addr_list_slot() -> (*mut ffi::luminal_addr_list, Extra) {
    unsafe fn free(p: *mut c_void) {
        let p = p as *mut ffi::luminal_addr_list;
        // SAFETY: the Box made below, freed once; a list the caller already took is zeroed (release ignores it).
        unsafe {
            ffi::luminal_addr_list_release(p);
            drop(Box::from_raw(p));
        }
    }
    let p = Box::into_raw(Box::new(ffi::luminal_addr_list { addrs: std::ptr::null_mut(), count: 0 }));
    (p, Extra { ptr: p as *mut c_void, free })
}
