//! UDP sockets on the runtime's IO backend.

use super::{check, first_addr, get_option, ip_name, set_option};
use crate::addr;
use crate::ffi;
use crate::io_op::Op;
use crate::Runtime;
use std::ffi::c_void;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A UDP socket (`luminal_udp_bind`); closed on drop. Sends and receives take `&self`.
pub struct UdpSocket {
    fd: OwnedFd,
    rt: Runtime,
}

impl UdpSocket {
    /// A socket bound to `addr` (an IPv4 or IPv6 literal; port 0 = any).
    pub fn bind<R: AsRef<Runtime> + ?Sized>(rt: &R, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::bind_with(rt, first_addr(addr)?, 0)
    }

    /// A socket bound to `addr` with `luminal_bind_flags` (dual stack, `SO_REUSEPORT`).
    pub fn bind_with<R: AsRef<Runtime> + ?Sized>(rt: &R, addr: SocketAddr, flags: u32) -> io::Result<UdpSocket> {
        let a = addr::to_raw(&addr);
        let (mut fd, mut err) = (-1, ffi::luminal_io_result::default());
        // SAFETY: the address is read during the call; out-pointers to locals.
        check(unsafe { ffi::luminal_udp_bind(&a, flags, &mut fd, std::ptr::null_mut(), &mut err) }, &err)?;
        // SAFETY: a new socket.
        Ok(UdpSocket { fd: unsafe { OwnedFd::from_raw_fd(fd) }, rt: rt.as_ref().clone() })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_name(self.fd.as_raw_fd(), false)
    }

    /// The connected peer's address (`NotConnected` if none).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_name(self.fd.as_raw_fd(), true)
    }

    /// Sets the default peer (for [`send`](Self::send)) and receives only from it. Never blocks.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        let (a, mut err) = (addr::to_raw(&addr), ffi::luminal_io_result::default());
        // SAFETY: the address is read during the call; an out-pointer to a local.
        check(unsafe { ffi::luminal_udp_connect(self.fd.as_raw_fd(), &a, &mut err) }, &err)
    }

    /// Sends one datagram to `addr`; returns the bytes sent.
    pub async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.send_op(buf, Some(addr))?.await.map(|n| n as usize)
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_op(buf, None)?.await.map(|n| n as usize)
    }

    fn send_op(&self, buf: &[u8], to: Option<SocketAddr>) -> io::Result<Op> {
        let (ptr, len) = (buf.as_ptr() as *const c_void, buf.len());
        let to = to.map(|a| addr::to_raw(&a));
        // SAFETY: `buf` is borrowed by the future awaiting the Op, which drops the runtime's future before that
        // borrow ends; the address is copied by the call.
        Op::new(&self.rt, None, |res, out| unsafe {
            let to = to.as_ref().map_or(std::ptr::null(), |a| a as *const _);
            ffi::luminal_udp_send_to(self.rt.as_raw(), self.fd.as_raw_fd(), ptr, len, to, res, out)
        })
    }

    /// Receives one datagram into `buf` (a longer one is truncated); returns its size and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (ptr, len) = (buf.as_mut_ptr() as *mut c_void, buf.len());
        let (from, extra) = addr::slot(addr::empty());
        let from_addr = from as usize; // heap memory the Op owns (kept out of the future: Send)
                                       // SAFETY: as in send_op; the address slot is owned by the Op and freed after its C future.
        let mut op = Op::new(&self.rt, Some(extra), |res, out| unsafe {
            ffi::luminal_udp_recv_from(self.rt.as_raw(), self.fd.as_raw_fd(), ptr, len, from_addr as *mut _, res, out)
        })?;
        let n = (&mut op).await? as usize;
        // SAFETY: completed: the runtime wrote the address and let go of it.
        let a = unsafe { &*(op.extra_ptr() as *const ffi::luminal_socket_addr) };
        Ok((n, addr::from_raw(a).ok_or_else(|| io::Error::other("a datagram from a non-IP address"))?))
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (ptr, len) = (buf.as_mut_ptr() as *mut c_void, buf.len());
        // SAFETY: as in send_op.
        let op = Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_udp_recv_from(self.rt.as_raw(), self.fd.as_raw_fd(), ptr, len, std::ptr::null_mut(), res, out)
        })?;
        op.await.map(|n| n as usize)
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        set_option(self.fd.as_raw_fd(), ffi::LUMINAL_SOCKOPT_BROADCAST, on as i64)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        get_option(self.fd.as_raw_fd(), ffi::LUMINAL_SOCKOPT_BROADCAST).map(|v| v != 0)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("fd", &self.fd.as_raw_fd()).finish()
    }
}
