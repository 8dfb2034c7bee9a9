using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace Luminal.Tests.Abi;

enum RustFfiArea
{
    Mismatch, // ffi.rs declares something the header does not, or declares it differently
    Missing,  // the header declares something ffi.rs lacks
}

sealed record RustFfiDiff(RustFfiArea Area, string Message)
{
    public override string ToString() => $"[{Area}] {Message}";
}

/// <summary>
/// Compares bindings/rust/luminal/src/ffi.rs with the header model: every function of its `declare_library!` table
/// (none may be in a linked `extern "C"` block) is declared once and exists in the
/// header with as many parameters, each of the same kind (pointer, integer, function pointer, struct by value) and
/// width (and, for pointers, the same pointee: handle type, struct, integer width or pointer depth); every
/// `pub const LUMINAL_*` has the header's value (enumerators and #define'd values, evaluated by the C compiler);
/// every `#[repr(C)]` struct has the header struct's fields, in order, at the same offsets, with the same size;
/// and every function, constant and struct of the header is declared in ffi.rs.
/// </summary>
static class RustFfiComparer
{
    public const string FfiRelativePath = "bindings/rust/luminal/src/ffi.rs";

    /// <summary>The header's named integer constants: enumerators and object-like #defines with a value.</summary>
    public static List<string> HeaderConstantNames(HeaderModel h)
    {
        var names = new List<string>(h.EnumConstants);
        foreach (Match d in Regex.Matches(File.ReadAllText(h.HeaderPath), @"(?m)^\s*#\s*define\s+(LUMINAL_\w+)[ \t]+(\S.*)$"))
        {
            string body = d.Groups[2].Value;
            if (body.Contains("__attribute__") || body.Contains("__declspec")) continue; // LUMINAL_API
            if (body.TrimStart().StartsWith('"')) continue; // a string (LUMINAL_VERSION_STRING): not an integer
            if (!names.Contains(d.Groups[1].Value)) names.Add(d.Groups[1].Value);
        }
        return names;
    }

    /// <summary>The values of <paramref name="names"/> as C sees them, `(long long)(intptr_t)(NAME)`.</summary>
    public static Dictionary<string, long> MeasureConstants(HeaderModel h, IReadOnlyList<string> names)
    {
        var c = new StringBuilder();
        c.AppendLine("#include <stdio.h>");
        c.AppendLine("#include <stdint.h>");
        c.AppendLine($"#include \"{h.HeaderPath.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        c.AppendLine("int main(void) {");
        foreach (string n in names)
            c.AppendLine($"  printf(\"{n} %lld\\n\", (long long)(intptr_t)({n}));");
        c.AppendLine("  return 0;");
        c.AppendLine("}");
        string clang = Tools.Clang();
        using var tmp = new Tools.TempDir();
        string src = Path.Combine(tmp.Path, "consts.c"), exe = Path.Combine(tmp.Path, "consts");
        File.WriteAllText(src, c.ToString());
        var args = new[] { "-std=gnu99", "-w", "-o", exe, src };
        var cr = Tools.Run(clang, args);
        if (cr.ExitCode != 0)
            throw new InvalidOperationException(
                $"the generated constants program did not compile ({Tools.Describe(clang, args)}):\n{cr.Stderr}\n--- consts.c ---\n{c}");
        var rr = Tools.Run(exe, Array.Empty<string>());
        if (rr.ExitCode != 0) throw new InvalidOperationException($"the generated constants program failed: {rr.Stderr}");
        var values = new Dictionary<string, long>();
        foreach (string line in rr.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] w = line.Split(' ');
            values[w[0]] = long.Parse(w[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return values;
    }

    public static List<RustFfiDiff> Compare(HeaderModel h, IReadOnlyDictionary<string, long> headerConsts, RustFfiModel r)
    {
        var cmp = new Comparison(h, r);
        cmp.Run(headerConsts);
        return cmp.Diffs;
    }

    sealed class Comparison(HeaderModel h, RustFfiModel r)
    {
        public List<RustFfiDiff> Diffs { get; } = new();

        void Mismatch(string m) => Diffs.Add(new(RustFfiArea.Mismatch, m));
        void Missing(string m) => Diffs.Add(new(RustFfiArea.Missing, m));

        public void Run(IReadOnlyDictionary<string, long> headerConsts)
        {
            // Functions.
            var cfns = h.Functions.ToDictionary(f => f.Name);
            foreach (var g in r.Functions.GroupBy(f => f.Name).Where(g => g.Count() > 1))
                Mismatch($"fn {g.Key}: declared {g.Count()} times in ffi.rs");
            foreach (RFunction rf in r.Functions)
            {
                if (rf.Linked)
                    Mismatch($"fn {rf.Name}: declared in a linked `extern \"C\"` block; the crate loads libluminal at run " +
                             "time, so ffi.rs declares every function in its `declare_library!` table");
                if (!cfns.TryGetValue(rf.Name, out CFunction? cf))
                {
                    Mismatch($"fn {rf.Name}: declared in ffi.rs but not in luminal.h (removed or renamed there?)");
                    continue;
                }
                if (cf.Params.Count != rf.Params.Count)
                    Mismatch($"fn {rf.Name}: {cf.Params.Count} parameter(s) in luminal.h " +
                             $"({string.Join(", ", cf.Params.Select(p => p.Type.Spelling))}) but {rf.Params.Count} in ffi.rs " +
                             $"({string.Join(", ", rf.Params.Select(p => p.Type.Spelling))})");
                Check(cf.Return, rf.Return, $"fn {rf.Name}: return value", field: false);
                for (int i = 0; i < Math.Min(cf.Params.Count, rf.Params.Count); i++)
                    Check(cf.Params[i].Type, rf.Params[i].Type,
                        $"fn {rf.Name}: parameter {i + 1} ({cf.Params[i].Name} / {rf.Params[i].Name})", field: false);
            }
            var rnames = r.Functions.Select(f => f.Name).ToHashSet();
            foreach (CFunction cf in h.Functions.Where(f => !rnames.Contains(f.Name)).OrderBy(f => f.Name))
                Missing($"fn {cf.Name}: declared in luminal.h but missing from ffi.rs");

            // Constants.
            foreach (RConst rc in r.Consts.Where(c => c.Name.StartsWith("LUMINAL_", StringComparison.Ordinal)))
            {
                if (!headerConsts.TryGetValue(rc.Name, out long cv))
                    Mismatch($"const {rc.Name}: defined in ffi.rs but luminal.h has no such enumerator or #define");
                else if (rc.Value is not long rv)
                    Mismatch($"const {rc.Name} = {rc.Expr}: {rc.Why}");
                else if (rv != cv)
                    Mismatch($"const {rc.Name}: {rc.Expr} in ffi.rs is {rv} (0x{rv:x}) but luminal.h gives {cv} (0x{cv:x})");
                if (rc.Type is RUnknown u) Mismatch($"const {rc.Name}: cannot read its type `{u.Spelling}` ({u.Why})");
            }
            var rconsts = r.Consts.Select(c => c.Name).ToHashSet();
            foreach (string n in headerConsts.Keys.Where(n => !rconsts.Contains(n)).Order())
                Missing($"const {n}: defined in luminal.h but missing from ffi.rs");

            // Structs.
            foreach (RStructDef rs in r.Structs.Values.Where(s => s.Name.StartsWith("luminal_", StringComparison.Ordinal)))
            {
                if (!h.Records.TryGetValue(rs.Name, out CRecord? rec) || !rec.InHeader)
                {
                    Mismatch($"struct {rs.Name}: defined in ffi.rs but not in luminal.h");
                    continue;
                }
                if (!rs.ReprC) Mismatch($"struct {rs.Name}: needs #[repr(C)]");
                if (!rec.Complete)
                {
                    if (!rs.Opaque)
                        Mismatch($"struct {rs.Name}: opaque in luminal.h, so ffi.rs must declare it as " +
                                 "`{{ _private: [u8; 0] }}` (nothing may read through a handle)");
                    continue;
                }
                if (rs.Opaque) { Mismatch($"struct {rs.Name}: opaque in ffi.rs but defined in luminal.h"); continue; }
                CompareStruct(rec, rs);
            }
            foreach (CRecord rec in h.Records.Values.Where(x => x.InHeader && x.Name.StartsWith("luminal_", StringComparison.Ordinal)
                                                                 && !r.Structs.ContainsKey(x.Name)).OrderBy(x => x.Name))
                Missing($"struct {rec.Name}: declared in luminal.h but missing from ffi.rs");
        }

        void CompareStruct(CRecord rec, RStructDef rs)
        {
            string where = $"struct {rs.Name}";
            if (rec.Fields.Count != rs.Fields.Count)
                Mismatch($"{where}: {rec.Fields.Count} field(s) in luminal.h ({string.Join(", ", rec.Fields.Select(f => f.Name))}) " +
                         $"but {rs.Fields.Count} in ffi.rs ({string.Join(", ", rs.Fields.Select(f => f.Name))})");
            long offset = 0, maxAlign = 1;
            for (int i = 0; i < rs.Fields.Count; i++)
            {
                RField rf = rs.Fields[i];
                long size = SizeOf(rf.Type), align = AlignOf(rf.Type);
                if (size < 0 || align < 1) { Mismatch($"{where}.{rf.Name}: cannot size `{rf.Type}`"); return; }
                offset = (offset + align - 1) / align * align;
                maxAlign = Math.Max(maxAlign, align);
                if (i < rec.Fields.Count)
                {
                    CField cf = rec.Fields[i];
                    string fw = $"{where}: field {i + 1} ({cf.Name} / {rf.Name})";
                    if (cf.Name != rf.Name) Mismatch($"{fw}: the names differ (fields out of order?)");
                    if (cf.Offset != offset) Mismatch($"{fw}: offset {cf.Offset} in C but {offset} in ffi.rs");
                    Check(cf.Type, rf.Type, fw, field: true);
                }
                offset += size;
            }
            long total = (offset + maxAlign - 1) / maxAlign * maxAlign;
            if (rec.Size != total) Mismatch($"{where}: sizeof is {rec.Size} in C but {total} in ffi.rs");
        }

        long SizeOf(RType t) => t switch
        {
            RInt i => i.Size,
            RPointer or RFn => IntPtr.Size,
            RArray a => SizeOf(a.Element) * a.Length,
            RStruct s when h.Records.TryGetValue(s.Name, out var rec) => rec.Size,
            _ => -1,
        };

        long AlignOf(RType t) => t switch
        {
            RInt i => i.Size,
            RPointer or RFn => IntPtr.Size,
            RArray a => AlignOf(a.Element),
            RStruct => IntPtr.Size, // every struct of the header holds a pointer-sized field
            _ => -1,
        };

        /// <summary>One C type against one Rust type: kind, width, signedness and pointee.</summary>
        void Check(CType c, RType rt, string where, bool field)
        {
            string? why = Why(c, rt, where, field);
            if (why != null) Mismatch($"{where}: C `{c}` vs Rust `{rt}`: {why}");
        }

        string? Why(CType c, RType rt, string where, bool field)
        {
            if (rt is RUnknown u) return $"the ABI check cannot read the Rust type ({u.Why})";
            switch (c)
            {
                case CUnsupported cu:
                    return $"the ABI check cannot handle this C type ({cu.Why})";
                case CVoid:
                    return rt is RVoid ? null : "C void must be no return type (or c_void behind a pointer)";
                case CScalar s:
                {
                    if (rt is not RInt ri) return "an integer must be a Rust integer type";
                    long cs = h.SizeOf(s);
                    if (cs != ri.Size) return $"{cs} bytes in C but {ri.Size} in Rust";
                    if (s.Name != "char" && ri.Signed != s.Signed)
                        return $"C {s.Name} is {(s.Signed ? "signed" : "unsigned")} but Rust {rt} is not";
                    return null;
                }
                case CEnum:
                {
                    if (rt is not RInt ri) return "a C enum must be a Rust integer type";
                    long cs = h.SizeOf(c);
                    return cs == ri.Size ? null : $"{cs} bytes in C but {ri.Size} in Rust";
                }
                case CRecordRef rec:
                    return rt is RStruct rs && (rs.Name == rec.Record.Name || rec.Record.Aliases.Contains(rs.Name))
                        ? null
                        : $"a struct passed by value must be ffi.rs's `{rec.Record.Name}`";
                case CPointer p:
                {
                    if (rt is not RPointer rp) return "a pointer must be a Rust raw pointer (*mut / *const)";
                    return PointeeWhy(p.Pointee, rp.Pointee, where);
                }
                case CFunctionPointer f:
                {
                    if (rt is not RFn rf) return "a function pointer must be `Option<unsafe extern \"C\" fn(..)>` (or an alias)";
                    if (field && !rf.Nullable) return "a function pointer C may leave NULL must be wrapped in Option<>";
                    if (rf.Params.Count != f.Params.Count)
                        return $"the callback takes {f.Params.Count} parameter(s) in C but {rf.Params.Count} in Rust";
                    Check(f.Return, rf.Return, where + " (callback return value)", field: false);
                    for (int i = 0; i < f.Params.Count; i++)
                        Check(f.Params[i], rf.Params[i], where + $" (callback parameter {i + 1})", field: false);
                    return null;
                }
                case CArray a:
                {
                    if (rt is not RArray ra) return "a C array field must be a Rust array";
                    if (ra.Length != a.Length) return $"{a.Length} elements in C but {ra.Length} in Rust";
                    Check(a.Element, ra.Element, where + " (element)", field: false);
                    return null;
                }
                default:
                    return $"unknown C type kind {c.GetType().Name}";
            }
        }

        string? PointeeWhy(CType c, RType rt, string where)
        {
            if (rt is RVoid) return null; // *mut c_void stands for any data pointer
            switch (c)
            {
                case CVoid:
                    return null; // a typed Rust pointer for a C void* is the binding's choice
                case CRecordRef rec:
                    return rt is RStruct rs && (rs.Name == rec.Record.Name || rec.Record.Aliases.Contains(rs.Name))
                        ? null
                        : $"must point to ffi.rs's `{rec.Record.Name}` (or c_void)";
                case CPointer inner:
                    return rt is RPointer rp ? PointeeWhy(inner.Pointee, rp.Pointee, where) : "the pointer depth differs";
                default:
                    return Why(c, rt, where + " (pointee)", field: false);
            }
        }
    }
}
