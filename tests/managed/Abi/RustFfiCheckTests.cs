using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Luminal.Tests.Abi;

/// <summary>
/// The ABI check of the Rust binding: bindings/rust/luminal/src/ffi.rs against include/luminal.h (read by clang-14,
/// as in <see cref="AbiCheckTests"/>). See <see cref="RustFfiComparer"/> for what is compared. Plus a self-test
/// that feeds a doctored ffi.rs to the same comparison to prove it reports each kind of difference.
/// </summary>
[TestFixture]
public class RustFfiCheckTests
{
    static readonly object Gate = new();
    static HeaderModel? cachedHeader;
    static Dictionary<string, long>? cachedConsts;

    static string Root => Tools.RepoRoot();
    static string FfiPath => Path.Combine(Root, RustFfiComparer.FfiRelativePath);

    static (HeaderModel, Dictionary<string, long>) Header()
    {
        lock (Gate)
        {
            if (cachedHeader == null)
            {
                try
                {
                    var h = HeaderModel.Load(Path.Combine(Root, "include", "luminal.h"));
                    cachedConsts = RustFfiComparer.MeasureConstants(h, RustFfiComparer.HeaderConstantNames(h));
                    cachedHeader = h;
                }
                catch (Tools.ToolMissingException e) { Assert.Fail(e.Message); throw; }
            }
            return (cachedHeader, cachedConsts!);
        }
    }

    static List<RustFfiDiff> CompareText(string ffiText)
    {
        var (h, consts) = Header();
        return RustFfiComparer.Compare(h, consts, RustFfiModel.Parse(ffiText));
    }

    static void AssertNone(IEnumerable<RustFfiDiff> diffs, string what, string hint)
    {
        var list = diffs.ToList();
        if (list.Count == 0) return;
        Assert.Fail($"{what}: {list.Count} difference(s) between include/luminal.h and {RustFfiComparer.FfiRelativePath}:\n  " +
                    string.Join("\n  ", list.Select(d => d.Message)) + "\n" + hint);
    }

    [Test]
    public void Abi_RustFfiDeclarationsMatchTheHeader()
    {
        var diffs = CompareText(File.ReadAllText(FfiPath)).Where(d => d.Area == RustFfiArea.Mismatch);
        AssertNone(diffs, "Rust ffi declarations",
            "Fix ffi.rs (or the header): a wrong parameter count, width or value there is undefined behaviour in every Rust caller.");
    }

    [Test]
    public void Abi_RustFfiDeclaresEverythingTheHeaderDeclares()
    {
        var diffs = CompareText(File.ReadAllText(FfiPath)).Where(d => d.Area == RustFfiArea.Missing);
        AssertNone(diffs, "Missing from the Rust ffi",
            "ffi.rs is the header one to one: declare the new function, constant or struct there too.");
    }

    [Test]
    public void Abi_RustFfiCheckerSeesTheWholeFile()
    {
        // Guards the parse itself: a parse that silently found nothing would make the other tests pass.
        var (h, consts) = Header();
        var r = RustFfiModel.Load(FfiPath);
        Assert.That(r.Functions, Has.Count.GreaterThanOrEqualTo(h.Functions.Count / 2), "too few fns read from ffi.rs's declare_library!");
        Assert.That(r.Functions.Where(f => f.Linked), Is.Empty, "ffi.rs links nothing");
        Assert.That(r.Functions.Select(f => f.Name), Has.Member("luminal_spawn").And.Member("luminal_stream_write"));
        Assert.That(r.Consts.Select(c => c.Name), Has.Member("LUMINAL_E_INVALID_ARGUMENT").And.Member("LUMINAL_TIMED_OUT_OUTPUT"));
        Assert.That(r.Structs.Keys, Has.Member("luminal_future").And.Member("luminal_runtime"));
        Assert.That(r.Structs["luminal_runtime"].Opaque, Is.True);
        Assert.That(r.Functions.SelectMany(f => f.Params.Select(p => p.Type)).OfType<RUnknown>(), Is.Empty);
        Assert.That(consts, Contains.Key("LUMINAL_ABI_VERSION").And.ContainKey("LUMINAL_E_IO").And.ContainKey("LUMINAL_FAILED_OUTPUT"));
        Assert.That(consts["LUMINAL_E_IO"], Is.EqualTo(-11));
        Assert.That(consts["LUMINAL_TIMED_OUT_OUTPUT"], Is.EqualTo(~4L), "(void *)~(uintptr_t)4 read as intptr_t");
        TestContext.Out.WriteLine($"checked {r.Functions.Count} fns, {r.Consts.Count} consts and {r.Structs.Count} structs of " +
                                  $"ffi.rs against {h.Functions.Count} functions and {consts.Count} constants of luminal.h");
    }

    static string Doctor(string text, string pattern, string replacement)
    {
        var re = new Regex(pattern);
        Assert.That(re.IsMatch(text), $"the self-test cannot find /{pattern}/ in ffi.rs: update the self-test");
        return re.Replace(text, replacement, 1);
    }

    [Test]
    public void Abi_SelfTest_DoctoredRustFfiIsReported()
    {
        string real = File.ReadAllText(FfiPath);
        var baseline = CompareText(real).Select(d => d.ToString()).ToHashSet();
        string t = real;
        // 1. an extra parameter, 2. a narrower return value, 3. a pointer to the wrong handle type
        t = Doctor(t, @"pub fn luminal_task_release\(t: \*mut luminal_task\)", "pub fn luminal_task_release(t: *mut luminal_task, extra: i32)");
        t = Doctor(t, @"pub fn luminal_now_ns\(\) -> u64", "pub fn luminal_now_ns() -> u32");
        t = Doctor(t, @"pub fn luminal_task_abort\(t: \*mut luminal_task\)", "pub fn luminal_task_abort(t: *mut luminal_runtime)");
        // 4. a wrong constant, 5. a struct field of the wrong width
        t = Doctor(t, @"LUMINAL_E_IO: luminal_status = -11", "LUMINAL_E_IO: luminal_status = -13");
        t = Doctor(t, @"pub value: u64", "pub value: u32");
        // 6. a function the header lacks, 7. a header function removed from ffi.rs, 8. a signedness change
        t = Doctor(t, @"declare_library! \{", "declare_library! {\n    pub fn luminal_selftest_bogus();");
        t = Doctor(t, @"pub fn luminal_pipe\([^;]*;", "");
        t = Doctor(t, @"pub fn luminal_runtime_worker_count\(rt: \*mut luminal_runtime\) -> u32",
            "pub fn luminal_runtime_worker_count(rt: *mut luminal_runtime) -> i32");
        // 9. a function declared a second time, in a linked extern block (two differences: linked, and twice)
        t += "\nextern \"C\" {\n    pub fn luminal_version() -> *const c_char;\n}\n";
        var diffs = CompareText(t).Where(d => !baseline.Contains(d.ToString())).ToList();
        string all = string.Join("\n", diffs);
        TestContext.Out.WriteLine(all);

        void Expect(RustFfiArea area, params string[] parts) =>
            Assert.That(diffs.Any(d => d.Area == area && parts.All(p => d.Message.Contains(p))), Is.True,
                $"expected a [{area}] difference mentioning {string.Join(" + ", parts)}; got:\n{all}");

        Expect(RustFfiArea.Mismatch, "luminal_task_release", "1 parameter(s) in luminal.h", "2 in ffi.rs");
        Expect(RustFfiArea.Mismatch, "luminal_now_ns", "return value", "8 bytes in C but 4 in Rust");
        Expect(RustFfiArea.Mismatch, "luminal_task_abort", "must point to ffi.rs's `luminal_task`");
        Expect(RustFfiArea.Mismatch, "LUMINAL_E_IO", "is -13", "gives -11");
        Expect(RustFfiArea.Mismatch, "luminal_io_result", "value", "8 bytes in C but 4 in Rust");
        Expect(RustFfiArea.Mismatch, "luminal_io_result", "sizeof is 16 in C but 12");
        Expect(RustFfiArea.Mismatch, "luminal_selftest_bogus", "not in luminal.h");
        Expect(RustFfiArea.Missing, "luminal_pipe", "missing from ffi.rs");
        Expect(RustFfiArea.Mismatch, "luminal_runtime_worker_count", "unsigned");
        Expect(RustFfiArea.Mismatch, "luminal_version", "linked `extern \"C\"` block");
        Expect(RustFfiArea.Mismatch, "luminal_version", "declared 2 times");
        Assert.That(diffs, Has.Count.EqualTo(11), $"unexpected extra differences:\n{all}");
    }

    [Test]
    public void Abi_SelfTest_RustConstantForms()
    {
        // The evaluator reads every form ffi.rs uses, and refuses the rest instead of guessing.
        var m = RustFfiModel.Parse("""
            pub type s32 = i32;
            pub const A: s32 = -1;
            pub const B: *mut c_void = !8usize as *mut c_void;
            pub const C: u32 = 0x10;
            pub const D: u32 = 1 << 4;
            """);
        var v = m.Consts.ToDictionary(c => c.Name);
        Assert.That(v["A"].Value, Is.EqualTo(-1));
        Assert.That(v["B"].Value, Is.EqualTo(~8L));
        Assert.That(v["C"].Value, Is.EqualTo(16));
        Assert.That(v["D"].Value, Is.Null);
        Assert.That(v["D"].Why, Does.Contain("can only evaluate"));
    }
}
