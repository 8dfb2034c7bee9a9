using System;
using System.Runtime.InteropServices;

namespace Luminal.Plugins;

/// <summary>
/// The loader calls a plugin needs: dlopen(RTLD_NOW | RTLD_LOCAL), dlsym, dlclose. RTLD_NOW (not .NET's
/// NativeLibrary.Load, which asks for RTLD_LAZY) so that a plugin with an unresolved function fails at open with a
/// status instead of crashing at its first call. The functions are looked up in the C library once (glibc 2.34+,
/// musl and macOS export them there; older glibc from libdl.so.2). Windows: NativeLibrary (LoadLibrary).
/// </summary>
static unsafe class DynamicLibrary
{
    static readonly delegate* unmanaged<byte*, int, nint> DlOpen;
    static readonly delegate* unmanaged<nint, byte*, nint> DlSym;
    static readonly delegate* unmanaged<nint, int> DlClose;
    static readonly int OpenFlags = OperatingSystem.IsMacOS() ? 0x2 | 0x4 : 0x2; // RTLD_NOW | RTLD_LOCAL (0 on Linux)

    static DynamicLibrary()
    {
        if (OperatingSystem.IsWindows()) return;
        foreach (string name in OperatingSystem.IsMacOS() ? ["libSystem.dylib"] : new[] { "libc.so.6", "libdl.so.2", "libc" })
        {
            if (!NativeLibrary.TryLoad(name, out nint lib)) continue;
            if (NativeLibrary.TryGetExport(lib, "dlopen", out nint open) && NativeLibrary.TryGetExport(lib, "dlsym", out nint sym)
                && NativeLibrary.TryGetExport(lib, "dlclose", out nint close))
            {
                DlOpen = (delegate* unmanaged<byte*, int, nint>)open;
                DlSym = (delegate* unmanaged<nint, byte*, nint>)sym;
                DlClose = (delegate* unmanaged<nint, int>)close;
                return;
            }
        }
    }

    /// <summary>Loads the library at the NUL-terminated <paramref name="path"/>: its handle, or 0.</summary>
    public static nint Open(byte* path)
    {
        if (OperatingSystem.IsWindows())
        {
            string? p = Marshal.PtrToStringUTF8((nint)path);
            return p is not null && NativeLibrary.TryLoad(p, out nint h) ? h : 0;
        }
        return DlOpen == null ? 0 : DlOpen(path, OpenFlags);
    }

    /// <summary>The address of <paramref name="name"/> (NUL-terminated ASCII) in <paramref name="lib"/>, or 0.</summary>
    public static nint Symbol(nint lib, ReadOnlySpan<byte> name)
    {
        if (OperatingSystem.IsWindows())
            return NativeLibrary.TryGetExport(lib, System.Text.Encoding.ASCII.GetString(name[..^1]), out nint a) ? a : 0;
        fixed (byte* p = name) return DlSym(lib, p);
    }

    /// <summary>Drops this load's reference; the loader unmaps the library when no reference is left.</summary>
    public static void Close(nint lib)
    {
        if (OperatingSystem.IsWindows()) NativeLibrary.Free(lib);
        else DlClose(lib);
    }
}
