using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;

namespace Luminal.Tests.Abi;

enum AbiArea
{
    Symbols,    // header <-> libluminal.so dynamic symbols
    Exports,    // header <-> [UnmanagedCallersOnly(EntryPoint)] methods
    Signatures, // parameter lists and return types
    Structs,    // struct sizes, field offsets, field sizes, field types; mirrors present
}

sealed record AbiDiff(AbiArea Area, string Message)
{
    public override string ToString() => $"[{Area}] {Message}";
}

/// <summary>Compares the header model with the library's symbols and with the C# model; returns every difference.</summary>
static class AbiComparer
{
    /// <summary>(a): every declared function is exported and every exported luminal_* symbol is declared.</summary>
    public static List<AbiDiff> CompareSymbols(HeaderModel h, IEnumerable<string> exportedSymbols)
    {
        var diffs = new List<AbiDiff>();
        var exported = exportedSymbols.Where(s => s.StartsWith("luminal_", StringComparison.Ordinal)).ToHashSet();
        var declared = h.Functions.Select(f => f.Name).ToHashSet();
        foreach (string f in declared.Order())
            if (!exported.Contains(f))
                diffs.Add(new(AbiArea.Symbols, $"{f}: declared in luminal.h but not exported by the library"));
        foreach (string s in exported.Order())
            if (!declared.Contains(s))
                diffs.Add(new(AbiArea.Symbols, $"{s}: exported by the library but not declared in luminal.h"));
        return diffs;
    }

    /// <summary>(b), (c) and (d): the header against the C# exports and [CStruct] mirrors.</summary>
    public static List<AbiDiff> CompareManaged(HeaderModel h, ManagedModel m)
    {
        var cmp = new Comparison(h);
        cmp.Run(m);
        return cmp.Diffs;
    }

    sealed class Comparison(HeaderModel h)
    {
        public List<AbiDiff> Diffs { get; } = new();
        AbiArea area;
        void Add(string msg) => Diffs.Add(new AbiDiff(area, msg));

        public void Run(ManagedModel m)
        {
            area = AbiArea.Signatures;
            foreach (string p in h.Problems) Add($"luminal.h: {p}");

            // (b) entry points
            area = AbiArea.Exports;
            var byName = new Dictionary<string, ManagedExport>();
            foreach (var g in m.Exports.GroupBy(e => e.EntryPoint))
            {
                if (g.Count() > 1)
                    Add($"{g.Key}: several [UnmanagedCallersOnly] methods use this EntryPoint: " +
                        string.Join(", ", g.Select(e => e.Where)));
                byName[g.Key] = g.First();
            }
            var declared = h.Functions.Select(f => f.Name).ToHashSet();
            foreach (var f in h.Functions)
                if (!byName.ContainsKey(f.Name))
                    Add($"{f.Name}: declared in luminal.h but no [UnmanagedCallersOnly(EntryPoint = \"{f.Name}\")] " +
                        "method exists in the C# runtime");
            foreach (var e in m.Exports.Where(e => !declared.Contains(e.EntryPoint)).OrderBy(e => e.EntryPoint))
                Add($"{e.EntryPoint}: [UnmanagedCallersOnly] method {e.Where} is not declared in luminal.h");

            // (c) signatures
            area = AbiArea.Signatures;
            foreach (var f in h.Functions)
            {
                if (f.NoPrototype) Add($"{f.Name}: declared without a prototype; write ({f.Name}(void))");
                if (f.Variadic) Add($"{f.Name}: variadic functions cannot be implemented by [UnmanagedCallersOnly]");
                if (!byName.TryGetValue(f.Name, out var e)) continue;
                var mi = e.Method;
                if (!mi.IsStatic) Add($"{f.Name}: {e.Where} must be static");
                var ps = mi.GetParameters();
                if (ps.Length != f.Params.Count)
                {
                    Add($"{f.Name}: {f.Params.Count} parameter(s) in luminal.h " +
                        $"({string.Join(", ", f.Params.Select(p => p.Type.Spelling))}) but {ps.Length} in {e.Where} " +
                        $"({string.Join(", ", ps.Select(p => ManagedModel.Describe(p.ParameterType)))})");
                }
                Match(f.Return, mi.ReturnType, $"{f.Name}: return value");
                for (int i = 0; i < Math.Min(ps.Length, f.Params.Count); i++)
                    Match(f.Params[i].Type, ps[i].ParameterType,
                        $"{f.Name}: parameter {i + 1} ({f.Params[i].Name} / {ps[i].Name})");
            }

            // (d) structs
            area = AbiArea.Structs;
            var headerRecords = h.HeaderRecords.ToList();
            CRecord? Find(string cname) =>
                headerRecords.FirstOrDefault(r => r.Name == cname || r.Aliases.Contains(cname));
            var mirrored = new HashSet<CRecord>();
            foreach (var g in m.Structs.GroupBy(s => s.CName))
            {
                if (g.Count() > 1)
                    Add($"{g.Key}: several C# structs claim to mirror it: {string.Join(", ", g.Select(s => s.Type.FullName))}");
                foreach (var s in g)
                {
                    CRecord? rec = Find(s.CName);
                    if (rec == null)
                    {
                        Add($"{s.Type.FullName} is marked [CStruct(\"{s.CName}\")] but luminal.h defines no such struct");
                        continue;
                    }
                    mirrored.Add(rec);
                    CompareStruct(rec, s);
                }
            }
            var needed = new Dictionary<CRecord, string>();
            foreach (var f in h.Functions)
            {
                CollectRecords(f.Return, $"{f.Name} (return value)", needed);
                foreach (var p in f.Params) CollectRecords(p.Type, $"{f.Name} (parameter {p.Name})", needed);
            }
            foreach (var (rec, use) in needed)
                if (rec.InHeader && rec.Complete && !mirrored.Contains(rec))
                    Add($"{rec.CSpelling} is used by {use} but no C# struct is marked [CStruct(\"{rec.Name}\")]");
        }

        static void CollectRecords(CType t, string use, Dictionary<CRecord, string> into)
        {
            switch (t)
            {
                case CRecordRef r: into.TryAdd(r.Record, use); break;
                case CPointer p: CollectRecords(p.Pointee, use, into); break;
            }
        }

        void CompareStruct(CRecord rec, ManagedStruct s)
        {
            string where = $"{rec.CSpelling} / {s.Type.FullName}";
            if (!s.Type.IsValueType) { Add($"{where}: [CStruct] must be on a struct"); return; }
            if (s.Type.IsAutoLayout) Add($"{where}: needs [StructLayout(LayoutKind.Sequential)] or Explicit, not Auto");
            if (rec.Keyword == "union" && !s.Type.IsExplicitLayout)
                Add($"{where}: a union needs [StructLayout(LayoutKind.Explicit)]");
            if (rec.Size != s.Size) Add($"{where}: sizeof is {rec.Size} in C but {s.Size} in C#");
            if (rec.Fields.Count != s.Fields.Count)
                Add($"{where}: {rec.Fields.Count} field(s) in C ({string.Join(", ", rec.Fields.Select(f => f.Name))}) " +
                    $"but {s.Fields.Count} in C# ({string.Join(", ", s.Fields.Select(f => f.Name))})");
            for (int i = 0; i < Math.Min(rec.Fields.Count, s.Fields.Count); i++)
            {
                CField cf = rec.Fields[i];
                ManagedField mf = s.Fields[i];
                string fw = $"{where}: field {i + 1} ({cf.Name} / {mf.Name})";
                if (NormalizeName(cf.Name) != NormalizeName(mf.Name))
                    Add($"{fw}: the names differ (fields out of order?)");
                if (cf.Offset != mf.Offset) Add($"{fw}: offset {cf.Offset} in C but {mf.Offset} in C#");
                if (cf.Size != mf.Size) Add($"{fw}: size {cf.Size} in C but {mf.Size} in C#");
                if (cf.Type is CArray a) MatchArray(a, mf, fw);
                else Match(cf.Type, mf.Type, fw, checkSize: false);
            }
        }

        void MatchArray(CArray a, ManagedField mf, string where)
        {
            var fb = mf.Info.GetCustomAttributes(typeof(FixedBufferAttribute), false).OfType<FixedBufferAttribute>()
                .FirstOrDefault();
            if (fb != null)
            {
                if (fb.Length != a.Length) Add($"{where}: C array of {a.Length} but C# fixed buffer of {fb.Length}");
                Match(a.Element, fb.ElementType, where + " (element)");
                return;
            }
            var ia = mf.Type.GetCustomAttributes(typeof(InlineArrayAttribute), false).OfType<InlineArrayAttribute>()
                .FirstOrDefault();
            var elemField = mf.Type.GetFields(System.Reflection.BindingFlags.Instance |
                                              System.Reflection.BindingFlags.Public |
                                              System.Reflection.BindingFlags.NonPublic).FirstOrDefault();
            if (ia != null && elemField != null)
            {
                if (ia.Length != a.Length) Add($"{where}: C array of {a.Length} but C# [InlineArray({ia.Length})]");
                Match(a.Element, elemField.FieldType, where + " (element)");
                return;
            }
            Add($"{where}: C `{a}` must be a C# fixed buffer or [InlineArray] struct, not {ManagedModel.Describe(mf.Type)}");
        }

        static string NormalizeName(string n)
        {
            if (n.StartsWith('<') && n.IndexOf('>') > 0) n = n[1..n.IndexOf('>')]; // auto-property backing field
            return n.Replace("_", "").ToLowerInvariant();
        }

        /// <summary>Checks kind and size of one C type against one C# type; adds a diff per problem.</summary>
        bool Match(CType c, Type t, string where, bool checkSize = true)
        {
            int before = Diffs.Count;
            string? why = c switch
            {
                CUnsupported u => $"the ABI check cannot handle this C type ({u.Why})",
                CVoid => t == typeof(void) ? null : "C void must be C# void",
                CScalar s => MatchScalar(s, t),
                CEnum => t == typeof(int) || (t.IsEnum && Enum.GetUnderlyingType(t) == typeof(int))
                    ? null
                    : "a C enum is passed as int: use int",
                CRecordRef r => MatchRecord(r, t),
                CPointer p => MatchPointer(p, t, where),
                CFunctionPointer f => MatchFunctionPointer(f, t, where),
                CArray => "arrays are only supported as struct fields",
                _ => $"unknown C type kind {c.GetType().Name}",
            };
            if (why != null) Add($"{where}: C `{c}` vs C# `{ManagedModel.Describe(t)}`: {why}");
            else if (checkSize && Diffs.Count == before && c is not CVoid)
            {
                long cs = h.SizeOf(c);
                int ms = ManagedModel.SizeOf(t);
                if (cs >= 0 && cs != ms)
                    Add($"{where}: C `{c}` is {cs} bytes but C# `{ManagedModel.Describe(t)}` is {ms}");
            }
            return Diffs.Count == before;
        }

        string? MatchScalar(CScalar s, Type t)
        {
            long size = h.SizeOf(s);
            Type[] ok = s.Name switch
            {
                "size_t" or "uintptr_t" => [typeof(nuint)],
                "intptr_t" or "ptrdiff_t" or "ssize_t" => [typeof(nint)],
                "char" => [typeof(byte), typeof(sbyte)],
                "_Bool" => [typeof(byte), typeof(bool)],
                _ when s.Floating => size switch { 4 => [typeof(float)], 8 => [typeof(double)], _ => [] },
                _ => (s.Signed, size) switch
                {
                    (true, 1) => [typeof(sbyte)], (false, 1) => [typeof(byte)],
                    (true, 2) => [typeof(short)], (false, 2) => [typeof(ushort)],
                    (true, 4) => [typeof(int)], (false, 4) => [typeof(uint)],
                    (true, 8) => [typeof(long)], (false, 8) => [typeof(ulong)],
                    _ => [],
                },
            };
            if (ok.Contains(t)) return null;
            return ok.Length == 0
                ? $"no C# mirror is defined for C {s.Name}"
                : $"C {s.Name} must be C# {string.Join(" or ", ok.Select(ManagedModel.Describe))}";
        }

        static string? MatchRecord(CRecordRef r, Type t)
        {
            string? name = ManagedModel.CNameOf(t);
            if (!r.Record.Complete) return "an incomplete (opaque) struct cannot be passed by value";
            if (name == null) return $"a struct passed by value must be the C# struct marked [CStruct(\"{r.Record.Name}\")]";
            if (name != r.Record.Name && !r.Record.Aliases.Contains(name))
                return $"the C# struct mirrors {name}, not {r.Record.Name}";
            return null;
        }

        string? MatchPointer(CPointer p, Type t, string where)
        {
            if (t == typeof(nint) || t == typeof(nuint)) return null;
            if (t.IsFunctionPointer) return "a data pointer must not be mirrored by a function pointer";
            if (!t.IsPointer) return "a pointer must be nint, nuint or a C# pointer";
            Type elem = t.GetElementType()!;
            if (elem == typeof(void)) return null;
            switch (p.Pointee)
            {
                case CVoid:
                    return null; // void* may be typed on the C# side
                case CRecordRef { Record.Complete: false } opaque:
                    return ManagedModel.CNameOf(elem) is { } n
                        ? $"{opaque.Record.Name} is an opaque handle but the C# pointee is the mirror of {n}"
                        : null;
                case CRecordRef r:
                    string? cn = ManagedModel.CNameOf(elem);
                    return cn == r.Record.Name || (cn != null && r.Record.Aliases.Contains(cn))
                        ? null
                        : $"must point to the struct marked [CStruct(\"{r.Record.Name}\")] (or be void*, nint)";
                default:
                    Match(p.Pointee, elem, where + " (pointee)");
                    return null;
            }
        }

        string? MatchFunctionPointer(CFunctionPointer f, Type t, string where)
        {
            if (t == typeof(nint) || t == typeof(nuint)) return null;
            if (t.IsPointer && t.GetElementType() == typeof(void)) return null;
            if (!t.IsFunctionPointer) return "a function pointer must be delegate* unmanaged<...>, nint, nuint or void*";
            if (!t.IsUnmanagedFunctionPointer) return "must be an unmanaged function pointer (delegate* unmanaged<...>)";
            if (f.Variadic) return "variadic callbacks are not supported";
            Type[] ps = t.GetFunctionPointerParameterTypes();
            if (ps.Length != f.Params.Count)
                return $"the callback takes {f.Params.Count} parameter(s) in C but {ps.Length} in C#";
            Match(f.Return, t.GetFunctionPointerReturnType(), where + " (callback return value)");
            for (int i = 0; i < ps.Length; i++)
                Match(f.Params[i], ps[i], where + $" (callback parameter {i + 1})");
            return null;
        }
    }
}
