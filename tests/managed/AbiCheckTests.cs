using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Luminal.Tests.Abi;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>
/// The ABI check: include/luminal.h (read by clang-14) against (a) the symbols libluminal.so exports, (b) the C#
/// [UnmanagedCallersOnly(EntryPoint = ...)] methods, (c) their parameter and return types, and (d) the [CStruct]
/// mirrors' sizes and field offsets. Plus: the header compiles warning-free as C99 and C++11, and a self-test that
/// feeds a doctored header to the same comparison to prove it reports differences.
/// </summary>
[TestFixture]
public class AbiCheckTests
{
    static readonly object Gate = new();
    static HeaderModel? cachedHeader;
    static ManagedModel? cachedManaged;

    static string Root => Tools.RepoRoot();
    static string HeaderPath => Path.Combine(Root, "include", "luminal.h");

    static T OrFailOnMissingTool<T>(Func<T> f)
    {
        try { return f(); }
        catch (Tools.ToolMissingException e) { Assert.Fail(e.Message); throw; }
    }

    static HeaderModel Header()
    {
        lock (Gate) return cachedHeader ??= OrFailOnMissingTool(() => HeaderModel.Load(HeaderPath));
    }

    static ManagedModel Managed()
    {
        lock (Gate) return cachedManaged ??= ManagedModel.Load();
    }

    static void AssertNoDiffs(IEnumerable<AbiDiff> diffs, string what, string? hint = null)
    {
        var list = diffs.ToList();
        if (list.Count == 0) return;
        Assert.Fail($"{what}: {list.Count} difference(s) between include/luminal.h and the implementation:\n  " +
                    string.Join("\n  ", list.Select(d => d.Message)) + (hint != null ? "\n" + hint : ""));
    }

    // -- (a) the library's dynamic symbols -------------------------------------------------------------------------

    static string LibraryPath()
    {
        string name = OperatingSystem.IsMacOS() ? "libluminal.dylib" : "libluminal.so";
        return Path.Combine(Root, "build", "lib", name);
    }

    /// <summary>Defined dynamic symbols of the library, symbol versions (@V1.0, @@V1.0) stripped.</summary>
    static List<string> ExportedSymbols(string lib)
    {
        string nm = Tools.Require("nm", "Install binutils.");
        var args = new[] { "-D", "--defined-only", lib };
        var r = Tools.Run(nm, args);
        Assert.That(r.ExitCode, Is.EqualTo(0), $"{Tools.Describe(nm, args)} failed:\n{r.Stderr}");
        var syms = new List<string>();
        foreach (string line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string sym = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last();
            int at = sym.IndexOf('@');
            syms.Add(at >= 0 ? sym[..at] : sym);
        }
        return syms;
    }

    [Test]
    public void Abi_HeaderFunctionsAreExactlyTheLibraryExports()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("the nm -D symbol check runs on Linux");
        string lib = LibraryPath();
        if (!File.Exists(lib))
            Assert.Fail($"{lib} does not exist: run ./build.sh lib first (./build.sh test builds it before the tests)");
        var syms = ExportedSymbols(lib);
        Assert.That(syms.Any(s => s.StartsWith("luminal_", StringComparison.Ordinal)), Is.True,
            $"nm -D --defined-only {lib} lists no luminal_* symbol at all");
        AssertNoDiffs(AbiComparer.CompareSymbols(Header(), syms), "exported symbols",
            $"(checked {lib}, built {File.GetLastWriteTime(lib):u}; if it is stale, rebuild it with ./build.sh lib)");
    }

    // -- (b), (c), (d) against the C# runtime ------------------------------------------------------------------------

    [Test]
    public void Abi_HeaderFunctionsAreExactlyTheUnmanagedCallersOnlyExports()
    {
        var diffs = AbiComparer.CompareManaged(Header(), Managed()).Where(d => d.Area == AbiArea.Exports);
        AssertNoDiffs(diffs, "[UnmanagedCallersOnly] entry points");
    }

    [Test]
    public void Abi_ParameterAndReturnTypesMatch()
    {
        var diffs = AbiComparer.CompareManaged(Header(), Managed()).Where(d => d.Area == AbiArea.Signatures);
        AssertNoDiffs(diffs, "function signatures");
    }

    [Test]
    public void Abi_StructLayoutsMatchTheirCStructMirrors()
    {
        var diffs = AbiComparer.CompareManaged(Header(), Managed()).Where(d => d.Area == AbiArea.Structs);
        AssertNoDiffs(diffs, "struct layouts");
    }

    [Test]
    public void Abi_CheckerSeesTheWholeHeader()
    {
        // Guards the checker itself: a parse that silently found nothing would make every other test pass.
        HeaderModel h = Header();
        ManagedModel m = Managed();
        Assert.That(h.Functions, Has.Count.GreaterThanOrEqualTo(10), "too few functions read from luminal.h");
        Assert.That(h.Functions.Select(f => f.Name), Has.Member("luminal_spawn"));
        Assert.That(h.HeaderRecords.Select(r => r.Name), Has.Member("luminal_future"));
        Assert.That(m.Exports, Has.Count.GreaterThanOrEqualTo(10), "too few [UnmanagedCallersOnly] exports found");
        Assert.That(m.Structs.Select(s => s.CName), Has.Member("luminal_future"));
        var future = h.Records["luminal_future"];
        Assert.That(future.Size, Is.GreaterThanOrEqualTo(4 * IntPtr.Size), "sizeof(luminal_future) as measured from C");
        Assert.That(future.Fields.Select(f => f.Offset), Is.Ordered.Ascending.And.All.GreaterThanOrEqualTo(0));
        Assert.That(future.Fields[0].Offset, Is.EqualTo(0));
        Assert.That(future.Fields.Select(f => f.Size), Has.All.GreaterThan(0));
        TestContext.Out.WriteLine($"checked {h.Functions.Count} functions and {h.HeaderRecords.Count()} structs " +
                                  $"({string.Join(", ", h.HeaderRecords.Select(r => r.Name))}) against " +
                                  $"{m.Exports.Count} C# exports and {m.Structs.Count} [CStruct] mirrors");
    }

    // -- the header compiles cleanly as C99 and C++11 ------------------------------------------------------------

    static void AssertCompilesCleanly(string compiler, string lang, string std, params string[] extra)
    {
        using var tmp = new Tools.TempDir();
        // Included twice (include guard) from a TU that uses nothing else: the header must be self-contained.
        string src = Path.Combine(tmp.Path, lang == "c" ? "use.c" : "use.cpp");
        File.WriteAllText(src, $"#include \"{HeaderPath}\"\n#include \"{HeaderPath}\"\n" +
                               "int luminal_abi_check_dummy(void);\nint luminal_abi_check_dummy(void) { return LUMINAL_ABI_VERSION; }\n");
        var args = new List<string> { "-x", lang, "-std=" + std, "-Wall", "-Wextra", "-Wpedantic", "-Werror" };
        args.AddRange(extra);
        args.AddRange(new[] { "-fsyntax-only", src });
        var r = Tools.Run(compiler, args);
        Assert.That(r.ExitCode, Is.EqualTo(0) , $"{Tools.Describe(compiler, args)} failed:\n{r.Stderr}{r.Stdout}");
        Assert.That(r.Stderr.Trim(), Is.Empty, $"{Tools.Describe(compiler, args)} printed diagnostics");
    }

    [Test]
    public void Abi_HeaderCompilesWarningFreeAsC99()
    {
        string clang = OrFailOnMissingTool(Tools.Clang);
        AssertCompilesCleanly(clang, "c", "c99", "-Wstrict-prototypes", "-Wmissing-prototypes");
        if (Tools.Which("gcc") is { } gcc)
            AssertCompilesCleanly(gcc, "c", "c99", "-Wstrict-prototypes", "-Wmissing-prototypes");
    }

    [Test]
    public void Abi_HeaderCompilesWarningFreeAsCxx11()
    {
        string clangxx = OrFailOnMissingTool(Tools.ClangXX);
        AssertCompilesCleanly(clangxx, "c++", "c++11");
        if (Tools.Which("g++") is { } gxx)
            AssertCompilesCleanly(gxx, "c++", "c++11");
    }

    /// <summary>include/luminal_plugin.h, included twice by a plugin that defines both entry points with
    /// LUMINAL_PLUGIN_EXPORT and reads a field through LUMINAL_PLUGIN_HOST_HAS, compiles warning-free (C99, C++11):
    /// the prototypes in the header match the contract's definitions, and C++ gets C linkage.</summary>
    static void AssertPluginHeaderCompilesCleanly(string compiler, string lang, string std, params string[] extra)
    {
        using var tmp = new Tools.TempDir();
        string header = Path.Combine(Root, "include", "luminal_plugin.h");
        string src = Path.Combine(tmp.Path, lang == "c" ? "plugin.c" : "plugin.cpp");
        File.WriteAllText(src, $"#include \"{header}\"\n#include \"{header}\"\n" +
            "LUMINAL_PLUGIN_EXPORT luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state) {\n" +
            "  if (!LUMINAL_PLUGIN_HOST_HAS(host, host_data)) return LUMINAL_E_UNSUPPORTED;\n" +
            "  *plugin_state = host->host_data;\n  return LUMINAL_OK;\n}\n" +
            "LUMINAL_PLUGIN_EXPORT void luminal_plugin_fini(void *plugin_state) { (void)plugin_state; }\n" +
            "luminal_plugin_init_fn luminal_check_init = luminal_plugin_init;\n" +
            "luminal_plugin_fini_fn luminal_check_fini = luminal_plugin_fini;\n");
        var args = new List<string> { "-x", lang, "-std=" + std, "-Wall", "-Wextra", "-Wpedantic", "-Werror" };
        args.AddRange(extra);
        args.AddRange(new[] { "-fsyntax-only", src });
        var r = Tools.Run(compiler, args);
        Assert.That(r.ExitCode, Is.EqualTo(0), $"{Tools.Describe(compiler, args)} failed:\n{r.Stderr}{r.Stdout}");
        Assert.That(r.Stderr.Trim(), Is.Empty, $"{Tools.Describe(compiler, args)} printed diagnostics");
    }

    [Test]
    public void Abi_PluginHeaderCompilesWarningFree()
    {
        string clang = OrFailOnMissingTool(Tools.Clang);
        AssertPluginHeaderCompilesCleanly(clang, "c", "c99", "-Wstrict-prototypes");
        AssertPluginHeaderCompilesCleanly(OrFailOnMissingTool(Tools.ClangXX), "c++", "c++11");
        if (Tools.Which("gcc") is { } gcc) AssertPluginHeaderCompilesCleanly(gcc, "c", "c99", "-Wstrict-prototypes");
        if (Tools.Which("g++") is { } gxx) AssertPluginHeaderCompilesCleanly(gxx, "c++", "c++11");
    }

    // -- self-test: the checker reports a doctored header ----------------------------------------------------------

    /// <summary>Index of the ')' matching the '(' at <paramref name="open"/>.</summary>
    static int MatchClose(string s, int open)
    {
        int depth = 0;
        for (int i = open; i < s.Length; i++)
        {
            if (s[i] == '(' || s[i] == '{') depth++;
            else if ((s[i] == ')' || s[i] == '}') && --depth == 0) return i;
        }
        throw new InvalidOperationException("unbalanced header text");
    }

    [Test]
    public void Abi_SelfTest_DoctoredHeaderIsReported()
    {
        HeaderModel real = Header();
        ManagedModel managed = Managed();
        // Differences the real header already has (reported by the other tests) are subtracted below, so the
        // self-test still proves its point while a header change is in flight.
        var baseline = AbiComparer.CompareManaged(real, managed)
            .Concat(AbiComparer.CompareSymbols(real, real.Functions.Select(f => f.Name)))
            .Select(d => d.ToString()).ToHashSet();
        string text = File.ReadAllText(HeaderPath);

        // 1. an extra parameter on a function that has parameters
        CFunction withParams = real.Functions.First(f => f.Params.Count > 0);
        Match decl = Regex.Match(text, $@"\b{withParams.Name}\s*\(");
        Assert.That(decl.Success, $"cannot find {withParams.Name}( in luminal.h");
        int close = MatchClose(text, decl.Index + decl.Length - 1);
        text = text[..close] + ", int abi_selftest_extra" + text[close..];

        // 2. a field appended to a mirrored struct
        CRecord rec = real.HeaderRecords.First(r => managed.Structs.Any(s => s.CName == r.Name));
        Match body = Regex.Match(text, $@"\b{rec.Keyword}\s+{rec.Name}\s*\{{");
        Assert.That(body.Success, $"cannot find the definition of {rec.CSpelling} in luminal.h");
        int brace = MatchClose(text, body.Index + body.Length - 1);
        text = text[..brace] + "  uint64_t abi_selftest_field;\n" + text[brace..];

        // 3. a return type changed to a different size
        CFunction retFn = real.Functions.First(f => f.Return is CScalar { Name: "uint32_t" or "int" } && f != withParams);
        Match retDecl = Regex.Match(text, $@"\b(uint32_t|int)(\s+{retFn.Name}\s*\()");
        Assert.That(retDecl.Success, $"cannot find the declaration of {retFn.Name}");
        text = text[..retDecl.Index] + "uint64_t" + retDecl.Groups[2].Value + text[(retDecl.Index + retDecl.Length)..];

        // 4. one function removed, 5. one added
        CFunction removed = real.Functions.Last(f => f != withParams && f != retFn);
        Match rm = Regex.Match(text, $@"(?m)^LUMINAL_API[^;]*?\b{removed.Name}\s*\([^;]*;");
        Assert.That(rm.Success, $"cannot find the declaration of {removed.Name}");
        text = text[..rm.Index] + text[(rm.Index + rm.Length)..];
        text += "\nLUMINAL_API void luminal_abi_selftest_bogus(void);\n";

        using var tmp = new Tools.TempDir();
        string doctoredPath = Path.Combine(tmp.Path, "luminal.h");
        File.WriteAllText(doctoredPath, text);
        HeaderModel doctored = OrFailOnMissingTool(() => HeaderModel.Load(doctoredPath));
        var diffs = AbiComparer.CompareManaged(doctored, managed);
        // The real library's symbols are the real header's functions; no build is needed for the self-test.
        diffs.AddRange(AbiComparer.CompareSymbols(doctored, real.Functions.Select(f => f.Name)));
        diffs.RemoveAll(d => baseline.Contains(d.ToString()));
        string all = string.Join("\n", diffs);
        TestContext.Out.WriteLine(all);

        void Expect(AbiArea area, params string[] parts) =>
            Assert.That(diffs.Any(d => d.Area == area && parts.All(p => d.Message.Contains(p))), Is.True,
                $"expected a [{area}] difference mentioning {string.Join(" + ", parts)}; got:\n{all}");

        Expect(AbiArea.Signatures, withParams.Name, "parameter(s) in luminal.h");
        Expect(AbiArea.Structs, rec.Name, "sizeof");
        Expect(AbiArea.Structs, rec.Name, "field(s) in C");
        Expect(AbiArea.Signatures, retFn.Name, "return value", "uint64_t");
        Expect(AbiArea.Exports, removed.Name, "not declared in luminal.h");
        Expect(AbiArea.Exports, "luminal_abi_selftest_bogus", "no [UnmanagedCallersOnly");
        Expect(AbiArea.Symbols, "luminal_abi_selftest_bogus", "not exported");
        Expect(AbiArea.Symbols, removed.Name, "not declared");
        Assert.That(diffs, Has.Count.EqualTo(8), $"unexpected extra differences:\n{all}");
    }

    [Test]
    public void Abi_SelfTest_LayoutAndTypeMismatchesAreReported()
    {
        // Field order, field type and by-pointer struct mirrors, on a header written from scratch.
        const string header = """
            #include <stddef.h>
            #include <stdint.h>
            #define LUMINAL_API
            typedef struct luminal_future {
              void *state;
              void (*drop_output)(void *);
              void (*drop)(void *);
              int32_t poll;
            } luminal_future;
            typedef struct luminal_unmirrored { int x; } luminal_unmirrored;
            LUMINAL_API uint32_t luminal_abi_version(int extra);
            LUMINAL_API void luminal_selftest_takes(const luminal_unmirrored *p, size_t n);
            """;
        using var tmp = new Tools.TempDir();
        string path = Path.Combine(tmp.Path, "luminal.h");
        File.WriteAllText(path, header);
        HeaderModel h = OrFailOnMissingTool(() => HeaderModel.Load(path));
        var diffs = AbiComparer.CompareManaged(h, Managed());
        string all = string.Join("\n", diffs);
        TestContext.Out.WriteLine(all);

        void Expect(params string[] parts) =>
            Assert.That(diffs.Any(d => parts.All(p => d.Message.Contains(p))), Is.True,
                $"expected a difference mentioning {string.Join(" + ", parts)}; got:\n{all}");

        Expect("luminal_future", "field 2 (drop_output", "names differ");
        Expect("luminal_future", "field 4 (poll", "size 4 in C but 8 in C#");
        Expect("luminal_future", "field 4 (poll", "C int32_t must be C# int");
        Expect("luminal_abi_version", "1 parameter(s) in luminal.h");
        Expect("luminal_unmirrored", "no C# struct is marked");
        Expect("luminal_runtime_options", "defines no such struct");
        Expect("luminal_selftest_takes", "no [UnmanagedCallersOnly");
    }
}
