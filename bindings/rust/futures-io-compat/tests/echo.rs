//! A pipe used only through the futures-io traits.
use futures_io::{AsyncRead, AsyncWrite};
use luminal_futures_io::Compat;
use std::future::poll_fn;
use std::pin::Pin;

#[test]
fn pipe_through_futures_io() {
    let rt = luminal::Runtime::builder().worker_threads(1).build().unwrap();
    let (r, w) = luminal::net::pipe(&rt).unwrap();
    let (mut r, mut w) = (Compat::new(r), Compat::new(w));
    let got = rt.block_on(async move {
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write(cx, b"hello")).await.unwrap();
        assert_eq!(n, 5);
        poll_fn(|cx| Pin::new(&mut w).poll_flush(cx)).await.unwrap();
        let mut buf = [0u8; 8];
        let n = poll_fn(|cx| Pin::new(&mut r).poll_read(cx, &mut buf)).await.unwrap();
        buf[..n].to_vec()
    });
    assert_eq!(got, b"hello");
}
