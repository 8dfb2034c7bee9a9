namespace Luminal.Io.Pool;

/// <summary>
/// luminal_resolve, on both backends: getaddrinfo(3) on a blocking-pool thread (it may wait seconds for DNS; no
/// worker ever makes it, and no io_uring opcode does it). The result is the number of addresses written to the
/// caller's list; a list nobody read is freed (<see cref="ResolveArgs.Release"/>).
/// </summary>
static unsafe class Resolve
{
    public static PoolOp Row => new(&Run);

    static long Run(IoOp op)
    {
        ref ResolveArgs a = ref op.Args<ResolveArgs>();
        return Resolver.Lookup(a.Host, a.Port, a.List);
    }
}
