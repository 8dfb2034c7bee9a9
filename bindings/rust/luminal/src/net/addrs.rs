//! What `connect` accepts ([`ToAddrs`]) and name resolution on the runtime's blocking pool ([`lookup_host`]).

use crate::addr;
use crate::ffi;
use crate::io_op::Op;
use crate::Runtime;
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that names one or more socket addresses: an address (resolved already), or a host and a port
/// (resolved by the runtime on its blocking pool, never on a worker, when it is not an IP literal).
pub trait ToAddrs {
    /// The addresses, or the host name and port still to resolve.
    fn to_addrs(&self) -> io::Result<Addrs>;
}

/// What a [`ToAddrs`] names.
#[derive(Clone, Debug)]
pub enum Addrs {
    /// Addresses, in the order to try them.
    Resolved(Vec<SocketAddr>),
    /// A host name and a port, to resolve.
    Lookup(String, u16),
}

impl ToAddrs for SocketAddr {
    fn to_addrs(&self) -> io::Result<Addrs> {
        Ok(Addrs::Resolved(vec![*self]))
    }
}

impl ToAddrs for SocketAddrV4 {
    fn to_addrs(&self) -> io::Result<Addrs> {
        SocketAddr::V4(*self).to_addrs()
    }
}

impl ToAddrs for SocketAddrV6 {
    fn to_addrs(&self) -> io::Result<Addrs> {
        SocketAddr::V6(*self).to_addrs()
    }
}

impl ToAddrs for (IpAddr, u16) {
    fn to_addrs(&self) -> io::Result<Addrs> {
        SocketAddr::new(self.0, self.1).to_addrs()
    }
}

impl ToAddrs for (Ipv4Addr, u16) {
    fn to_addrs(&self) -> io::Result<Addrs> {
        SocketAddr::new(self.0.into(), self.1).to_addrs()
    }
}

impl ToAddrs for (Ipv6Addr, u16) {
    fn to_addrs(&self) -> io::Result<Addrs> {
        SocketAddr::new(self.0.into(), self.1).to_addrs()
    }
}

impl ToAddrs for (&str, u16) {
    fn to_addrs(&self) -> io::Result<Addrs> {
        host_port(self.0, self.1)
    }
}

impl ToAddrs for (String, u16) {
    fn to_addrs(&self) -> io::Result<Addrs> {
        host_port(&self.0, self.1)
    }
}

/// `"host:port"`, `"1.2.3.4:80"`, `"[::1]:80"`.
impl ToAddrs for str {
    fn to_addrs(&self) -> io::Result<Addrs> {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Ok(Addrs::Resolved(vec![a]));
        }
        let (host, port) = self.rsplit_once(':').ok_or_else(|| invalid("expected \"host:port\""))?;
        let port = port.parse::<u16>().map_err(|_| invalid("invalid port"))?;
        host_port(host, port)
    }
}

impl ToAddrs for String {
    fn to_addrs(&self) -> io::Result<Addrs> {
        self.as_str().to_addrs()
    }
}

impl ToAddrs for [SocketAddr] {
    fn to_addrs(&self) -> io::Result<Addrs> {
        Ok(Addrs::Resolved(self.to_vec()))
    }
}

impl<T: ToAddrs + ?Sized> ToAddrs for &T {
    fn to_addrs(&self) -> io::Result<Addrs> {
        (**self).to_addrs()
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

fn host_port(host: &str, port: u16) -> io::Result<Addrs> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<Ipv4Addr>() {
        return Ok(Addrs::Resolved(vec![SocketAddr::new(ip.into(), port)]));
    }
    if let Ok(ip) = bare.parse::<Ipv6Addr>() {
        return Ok(Addrs::Resolved(vec![SocketAddr::new(ip.into(), port)]));
    }
    if bare.is_empty() {
        return Err(invalid("empty host name"));
    }
    Ok(Addrs::Lookup(bare.to_string(), port))
}

/// The addresses `addr` names, resolving a host name with `luminal_resolve` (getaddrinfo on the runtime's
/// blocking pool: a slow DNS answer never holds a worker). `ErrorKind::NotFound` for a name that does not exist.
pub async fn lookup_host<R: AsRef<Runtime> + ?Sized, A: ToAddrs + ?Sized>(
    rt: &R,
    addr: &A,
) -> io::Result<Vec<SocketAddr>> {
    let what = addr.to_addrs()?;
    resolve_addrs(rt.as_ref(), what).await
}

pub(crate) async fn resolve<A: ToAddrs>(rt: &Runtime, addr: A) -> io::Result<Vec<SocketAddr>> {
    let what = addr.to_addrs()?;
    resolve_addrs(rt, what).await
}

async fn resolve_addrs(rt: &Runtime, what: Addrs) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = match what {
        Addrs::Resolved(v) => return Ok(v),
        Addrs::Lookup(h, p) => (h, p),
    };
    let host = CString::new(host).map_err(|_| invalid("a host name with a NUL"))?;
    let (list, extra) = addr::addr_list_slot();
    let list_addr = list as usize; // the slot lives on the heap, owned by the Op (kept out of the future: Send)
                                   // SAFETY: the host string is copied by the call; the list is owned by the Op and freed after its C future.
    let mut op = Op::new(rt, Some(extra), |res, out| unsafe {
        ffi::luminal_resolve(rt.as_raw(), host.as_ptr(), port, list_addr as *mut ffi::luminal_addr_list, res, out)
    })?;
    (&mut op).await?;
    // SAFETY: completed: the runtime filled the list and let go of it; the Op still owns it.
    let l = unsafe { &*(op.extra_ptr() as *const ffi::luminal_addr_list) };
    let mut out = Vec::with_capacity(l.count);
    for i in 0..l.count {
        // SAFETY: `count` addresses at `addrs`, alive until the list is released with the Op.
        if let Some(a) = addr::from_raw(unsafe { &*l.addrs.add(i) }) {
            out.push(a);
        }
    }
    Ok(out)
}
