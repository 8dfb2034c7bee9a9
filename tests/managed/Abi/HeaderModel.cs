using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Luminal.Tests.Abi;

// ---------------------------------------------------------------------------------------------------------------
// C types, as far as the ABI check needs them. Spelling is the type as clang printed it (valid C in the header's
// scope); sizes come from a compiled C program (HeaderModel.Sizes), never from assumptions.
// ---------------------------------------------------------------------------------------------------------------

abstract record CType(string Spelling)
{
    public sealed override string ToString() => Spelling;
}

sealed record CVoid(string Spelling) : CType(Spelling);

/// <summary>An integer or floating type. Name is the builtin or stdint/stddef name ("uint32_t", "int", "size_t").</summary>
sealed record CScalar(string Spelling, string Name, bool Signed, bool Floating) : CType(Spelling);

sealed record CEnum(string Spelling, string Name) : CType(Spelling);

sealed record CRecordRef(string Spelling, CRecord Record) : CType(Spelling);

sealed record CPointer(string Spelling, CType Pointee) : CType(Spelling);

sealed record CFunctionPointer(string Spelling, CType Return, IReadOnlyList<CType> Params, bool Variadic)
    : CType(Spelling);

sealed record CArray(string Spelling, CType Element, int Length) : CType(Spelling);

sealed record CUnsupported(string Spelling, string Why) : CType(Spelling);

sealed class CField
{
    public required string Name { get; init; }
    public required CType Type { get; init; }
    public bool IsBitfield { get; init; }
    public long Offset { get; set; } = -1;
    public long Size { get; set; } = -1;
}

sealed class CRecord
{
    public required string Name { get; set; }       // tag name, or the typedef name of an unnamed record
    public required string Keyword { get; init; }   // "struct" or "union"
    public required string Id { get; init; }
    public bool Named { get; init; }
    public bool Complete { get; set; }
    public bool InHeader { get; set; }
    public HashSet<string> Aliases { get; } = new();   // typedef names
    public List<CField> Fields { get; } = new();
    public long Size { get; set; } = -1;
    public string CSpelling => Named ? $"{Keyword} {Name}" : Name;
    public override string ToString() => CSpelling;
}

sealed record CParam(string Name, CType Type);

sealed class CFunction
{
    public required string Name { get; init; }
    public required CType Return { get; init; }
    public required IReadOnlyList<CParam> Params { get; init; }
    public bool Variadic { get; init; }
    public bool NoPrototype { get; init; }
}

/// <summary>
/// What include/luminal.h declares: its functions and structs, read from clang-14's JSON AST, with sizes and
/// offsets measured by compiling and running a small generated C program against the same header.
/// </summary>
sealed class HeaderModel
{
    public string HeaderPath { get; }
    public List<CFunction> Functions { get; } = new();
    public Dictionary<string, CRecord> Records { get; } = new();          // by Name
    public List<string> Problems { get; } = new();                           // unsupported constructs
    public List<string> EnumConstants { get; } = new();                      // enumerators declared in the header
    readonly Dictionary<string, CRecord> recordsById = new();
    readonly Dictionary<string, CRecord> recordsByTag = new();
    readonly Dictionary<string, string> typedefs = new();                  // name -> underlying spelling
    readonly Dictionary<string, CRecord> typedefRecords = new();            // name -> record
    readonly Dictionary<string, string> typedefEnums = new();               // name -> enum name
    readonly Dictionary<string, long> sizes = new();                        // spelling -> sizeof

    HeaderModel(string headerPath) => HeaderPath = headerPath;

    public IEnumerable<CRecord> HeaderRecords => Records.Values.Where(r => r.InHeader && r.Complete);

    public long SizeOf(CType t) => t switch
    {
        CVoid => 0,
        CRecordRef r => r.Record.Size,
        _ => sizes.TryGetValue(t.Spelling, out long s) ? s : -1,
    };

    /// <summary>Parses the header (a file named luminal.h) with clang-14 and measures its layouts.</summary>
    public static HeaderModel Load(string headerPath)
    {
        headerPath = Path.GetFullPath(headerPath);
        var m = new HeaderModel(headerPath);
        string clang = Tools.Clang();
        var args = new[] { "-x", "c", "-std=c99", "-Xclang", "-ast-dump=json", "-fsyntax-only", headerPath };
        var r = Tools.Run(clang, args);
        if (r.ExitCode != 0)
            throw new InvalidOperationException(
                $"clang failed on {headerPath} ({Tools.Describe(clang, args)}):\n{r.Stderr}");
        using (var doc = JsonDocument.Parse(r.Stdout, new JsonDocumentOptions { MaxDepth = 4096 }))
            m.ReadAst(doc.RootElement);
        m.Measure(clang);
        return m;
    }

    // -- AST ------------------------------------------------------------------------------------------------

    void ReadAst(JsonElement tu)
    {
        // clang's JSON delta-encodes locations: "file" is only printed when it differs from the previously printed
        // location (includedFrom excepted). Walk every node in document order to know each declaration's file.
        string? currentFile = null;
        var decls = new List<(JsonElement Node, string? File)>();
        foreach (JsonElement node in tu.GetProperty("inner").EnumerateArray())
        {
            if (node.TryGetProperty("loc", out JsonElement loc)) TrackFile(loc, ref currentFile);
            string? declFile = currentFile;
            TrackFile(node, ref currentFile);
            decls.Add((node, declFile));
        }

        bool InHeader(string? f) => f != null && SamePath(f, HeaderPath);

        // Pass 1: records, enums and typedefs from every file (system typedefs such as uint32_t are needed too).
        foreach (var (n, file) in decls)
        {
            string kind = Str(n, "kind");
            if (kind == "RecordDecl")
            {
                string id = Str(n, "id");
                string name = Str(n, "name");
                string keyword = Str(n, "tagUsed") is { Length: > 0 } k ? k : "struct";
                CRecord? rec = name.Length > 0 && recordsByTag.TryGetValue(name, out var existing) ? existing : null;
                if (rec == null)
                {
                    rec = new CRecord { Name = name, Keyword = keyword, Id = id, Named = name.Length > 0 };
                    if (name.Length > 0) recordsByTag[name] = rec;
                }
                recordsById[id] = rec;
                if (n.TryGetProperty("previousDecl", out var prev) && prev.ValueKind == JsonValueKind.String)
                    recordsById[prev.GetString()!] = rec;
                rec.InHeader |= InHeader(file);
                if (n.TryGetProperty("completeDefinition", out var cd) && cd.ValueKind == JsonValueKind.True)
                {
                    rec.Complete = true;
                    rec.Fields.Clear();
                    ReadFieldsLater.Add((rec, n));
                }
            }
            else if (kind == "EnumDecl" && InHeader(file) && n.TryGetProperty("inner", out JsonElement enumerators))
            {
                foreach (JsonElement e in enumerators.EnumerateArray())
                    if (Str(e, "kind") == "EnumConstantDecl") EnumConstants.Add(Str(e, "name"));
            }
            else if (kind == "TypedefDecl")
            {
                string name = Str(n, "name");
                string under = n.GetProperty("type").GetProperty("qualType").GetString()!;
                typedefs[name] = under;
                string? owned = OwnedTagId(n);
                if (owned != null && recordsById.TryGetValue(owned, out var rec))
                {
                    typedefRecords[name] = rec;
                    rec.Aliases.Add(name);
                }
            }
        }
        // Unnamed records take the name of their typedef.
        foreach (var rec in recordsById.Values.Distinct())
            if (!rec.Named && rec.Aliases.Count > 0) rec.Name = rec.Aliases.First();
        foreach (var rec in recordsById.Values.Distinct())
        {
            if (rec.Name.Length > 0) Records[rec.Name] = rec;
            else if (rec.InHeader && rec.Complete) Problems.Add($"an unnamed {rec.Keyword} without a typedef name");
        }
        foreach (var (name, rec) in typedefRecords)
            if (rec.Named) rec.Aliases.Add(name);

        // Pass 2: struct fields (now that every typedef is known).
        foreach (var (rec, node) in ReadFieldsLater)
        {
            if (!node.TryGetProperty("inner", out JsonElement inner)) continue;
            foreach (JsonElement f in inner.EnumerateArray())
            {
                string fk = Str(f, "kind");
                if (fk == "RecordDecl") continue; // a nested type definition; its use shows up as a FieldDecl
                if (fk != "FieldDecl") continue;
                string fname = Str(f, "name");
                CType t = Parse(f.GetProperty("type").GetProperty("qualType").GetString()!);
                bool bit = f.TryGetProperty("isBitfield", out var b) && b.ValueKind == JsonValueKind.True;
                if (fname.Length == 0)
                    Problems.Add($"{rec}: an anonymous member (type {t}) is not supported by the ABI check");
                if (bit)
                    Problems.Add($"{rec}.{fname}: bit-fields are not supported by the ABI check");
                rec.Fields.Add(new CField { Name = fname, Type = t, IsBitfield = bit });
            }
        }

        // Pass 3: the header's functions.
        foreach (var (n, file) in decls)
        {
            if (Str(n, "kind") != "FunctionDecl" || !InHeader(file)) continue;
            if (Str(n, "storageClass") == "static") continue; // a static inline helper is not exported
            string name = Str(n, "name");
            string ftype = n.GetProperty("type").GetProperty("qualType").GetString()!;
            var ps = new List<CParam>();
            if (n.TryGetProperty("inner", out JsonElement inner))
                foreach (JsonElement p in inner.EnumerateArray())
                    if (Str(p, "kind") == "ParmVarDecl")
                        ps.Add(new CParam(Str(p, "name"), Parse(p.GetProperty("type").GetProperty("qualType").GetString()!)));
            int open = MatchOpen(ftype, ftype.Length - 1);
            CType ret = open > 0 && ftype.EndsWith(')')
                ? Parse(ftype[..open])
                : new CUnsupported(ftype, "cannot read the return type");
            string paramText = open >= 0 ? ftype[(open + 1)..^1].Trim() : "";
            Functions.Add(new CFunction
            {
                Name = name, Return = ret, Params = ps,
                Variadic = n.TryGetProperty("variadic", out var v) && v.ValueKind == JsonValueKind.True,
                NoPrototype = ps.Count == 0 && paramText.Length == 0,
            });
        }
    }

    readonly List<(CRecord Rec, JsonElement Node)> ReadFieldsLater = new();

    static string? OwnedTagId(JsonElement typedefNode)
    {
        if (!typedefNode.TryGetProperty("inner", out var inner)) return null;
        foreach (var t in inner.EnumerateArray())
        {
            if (t.TryGetProperty("ownedTagDecl", out var o) && o.TryGetProperty("id", out var id)) return id.GetString();
            if (t.TryGetProperty("decl", out var d) && d.TryGetProperty("id", out var id2) && Str(d, "kind") == "RecordDecl")
                return id2.GetString();
            string? deeper = OwnedTagId(t);
            if (deeper != null) return deeper;
        }
        return null;
    }

    static void TrackFile(JsonElement e, ref string? current)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    if (p.Name == "includedFrom") continue;
                    if (p.Name == "file" && p.Value.ValueKind == JsonValueKind.String) current = p.Value.GetString();
                    else if (p.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array) TrackFile(p.Value, ref current);
                }
                break;
            case JsonValueKind.Array:
                foreach (JsonElement x in e.EnumerateArray()) TrackFile(x, ref current);
                break;
        }
    }

    static bool SamePath(string a, string b)
    {
        try { return Path.GetFullPath(a) == Path.GetFullPath(b); }
        catch { return false; }
    }

    static string Str(JsonElement e, string prop) =>
        e.TryGetProperty(prop, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    // -- type spellings -----------------------------------------------------------------------------------------

    static readonly Dictionary<string, bool> FixedWidth = new()
    {
        ["int8_t"] = true, ["uint8_t"] = false, ["int16_t"] = true, ["uint16_t"] = false,
        ["int32_t"] = true, ["uint32_t"] = false, ["int64_t"] = true, ["uint64_t"] = false,
        ["size_t"] = false, ["ssize_t"] = true, ["intptr_t"] = true, ["uintptr_t"] = false, ["ptrdiff_t"] = true,
    };

    static readonly Dictionary<string, (string Name, bool Signed, bool Floating)> Builtins = new()
    {
        ["char"] = ("char", true, false), ["signed char"] = ("signed char", true, false),
        ["unsigned char"] = ("unsigned char", false, false), ["_Bool"] = ("_Bool", false, false),
        ["bool"] = ("_Bool", false, false),
        ["short"] = ("short", true, false), ["unsigned short"] = ("unsigned short", false, false),
        ["int"] = ("int", true, false), ["unsigned int"] = ("unsigned int", false, false),
        ["long"] = ("long", true, false), ["unsigned long"] = ("unsigned long", false, false),
        ["long long"] = ("long long", true, false), ["unsigned long long"] = ("unsigned long long", false, false),
        ["float"] = ("float", true, true), ["double"] = ("double", true, true),
        ["long double"] = ("long double", true, true),
    };

    static readonly string[] Qualifiers = { "const", "volatile", "restrict", "__restrict" };

    /// <summary>Classifies a type spelling as clang prints it ("const luminal_waker *", "void *(*)(void *)").</summary>
    public CType Parse(string spelling)
    {
        string s = spelling.Trim();
        if (s.EndsWith(')'))
        {
            int open = MatchOpen(s, s.Length - 1);
            string head = open > 0 ? s[..open].TrimEnd() : "";
            if (head.EndsWith(')'))
            {
                int o2 = MatchOpen(head, head.Length - 1);
                string inner = o2 >= 0 ? head[(o2 + 1)..^1].Trim() : "";
                if (inner.StartsWith('*') && StripQualifiers(inner[1..]).Length == 0 && o2 > 0)
                {
                    var parts = SplitTopLevel(s[(open + 1)..^1]);
                    bool variadic = parts.Remove("...");
                    if (parts.Count == 1 && parts[0] == "void") parts.Clear();
                    return new CFunctionPointer(s, Parse(head[..o2]), parts.Select(Parse).ToList(), variadic);
                }
            }
            return new CUnsupported(s, "function or complex declarator type");
        }
        string t = StripTrailingQualifiers(s);
        if (t.EndsWith('*')) return new CPointer(s, Parse(t[..^1]));
        if (t.EndsWith(']'))
        {
            int lb = t.LastIndexOf('[');
            if (lb > 0 && int.TryParse(t[(lb + 1)..^1], NumberStyles.None, CultureInfo.InvariantCulture, out int len))
                return new CArray(s, Parse(t[..lb]), len);
            return new CUnsupported(s, "array type");
        }
        t = StripQualifiers(t);
        if (t == "void") return new CVoid(s);
        foreach (string kw in new[] { "struct ", "union " })
            if (t.StartsWith(kw))
            {
                string tag = t[kw.Length..].Trim();
                return recordsByTag.TryGetValue(tag, out var rec)
                    ? new CRecordRef(s, rec)
                    : new CUnsupported(s, $"unknown {kw.Trim()} {tag}");
            }
        if (t.StartsWith("enum ")) return new CEnum(s, t[5..].Trim());
        if (FixedWidth.TryGetValue(t, out bool signed)) return new CScalar(s, t, signed, false);
        string norm = NormalizeBuiltin(t);
        if (Builtins.TryGetValue(norm, out var b)) return new CScalar(s, b.Name, b.Signed, b.Floating);
        if (typedefRecords.TryGetValue(t, out var trec)) return new CRecordRef(s, trec);
        if (typedefs.TryGetValue(t, out string? under) && under != t)
        {
            CType u = Parse(under);
            // keep the typedef's own spelling so that sizeof() is measured on what the header wrote
            return u switch
            {
                CScalar sc => sc with { Spelling = s },
                CEnum en => en with { Spelling = s },
                CRecordRef rr => rr with { Spelling = s },
                CPointer p => p with { Spelling = s },
                CFunctionPointer fp => fp with { Spelling = s },
                CArray a => a with { Spelling = s },
                CVoid => new CVoid(s),
                _ => u,
            };
        }
        return new CUnsupported(s, "unknown type");
    }

    static string NormalizeBuiltin(string t)
    {
        var words = t.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => w != "int" || t == "int" || t == "unsigned int").ToList();
        string joined = string.Join(' ', words);
        return joined switch
        {
            "unsigned" => "unsigned int",
            "signed" => "int",
            "signed int" => "int",
            "short int" => "short",
            "long int" => "long",
            _ => joined.Replace("signed short", "short").Replace("signed long", "long"),
        };
    }

    static string StripTrailingQualifiers(string s)
    {
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (string q in Qualifiers)
                if (s.EndsWith(q) && (s.Length == q.Length || !IsIdent(s[^(q.Length + 1)])))
                {
                    s = s[..^q.Length].TrimEnd();
                    changed = true;
                }
        }
        return s;
    }

    static string StripQualifiers(string s)
    {
        var words = s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !Qualifiers.Contains(w));
        return string.Join(' ', words);
    }

    static bool IsIdent(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>Index of the '(' matching the ')' at <paramref name="close"/>, or -1.</summary>
    public static int MatchOpen(string s, int close)
    {
        if (close < 0 || close >= s.Length || s[close] != ')') return -1;
        int depth = 0;
        for (int i = close; i >= 0; i--)
        {
            if (s[i] == ')' || s[i] == ']') depth++;
            else if (s[i] == '(' || s[i] == '[') { if (--depth == 0) return i; }
        }
        return -1;
    }

    static List<string> SplitTopLevel(string s)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '(' or '[') depth++;
            else if (c is ')' or ']') depth--;
            else if (c == ',' && depth == 0) { parts.Add(s[start..i].Trim()); start = i + 1; }
        }
        string last = s[start..].Trim();
        if (last.Length > 0 || parts.Count > 0) parts.Add(last);
        return parts;
    }

    // -- sizes and offsets, measured by a C program ---------------------------------------------------------------

    void Measure(string clang)
    {
        var spellings = new List<string>();
        void Want(CType t)
        {
            switch (t)
            {
                case CVoid: case CUnsupported: return;
                case CRecordRef: return; // measured as a record
                case CPointer p: Want(p.Pointee); break;
                case CFunctionPointer f: Want(f.Return); foreach (var x in f.Params) Want(x); break;
                case CArray a: Want(a.Element); break;
            }
            if (!spellings.Contains(t.Spelling)) spellings.Add(t.Spelling);
        }
        foreach (var f in Functions) { Want(f.Return); foreach (var p in f.Params) Want(p.Type); }
        var recs = Records.Values.Where(r => r.Complete && r.InHeader).ToList();
        foreach (var r in recs) foreach (var fld in r.Fields) Want(fld.Type);

        var c = new StringBuilder();
        c.AppendLine("#include <stdio.h>");
        c.AppendLine("#include <stddef.h>");
        c.AppendLine($"#include \"{HeaderPath.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        c.AppendLine("int main(void) {");
        for (int i = 0; i < spellings.Count; i++)
            c.AppendLine($"  printf(\"T {i} %zu\\n\", sizeof({spellings[i]}));");
        for (int i = 0; i < recs.Count; i++)
        {
            var r = recs[i];
            c.AppendLine($"  printf(\"R {i} %zu\\n\", sizeof({r.CSpelling}));");
            for (int j = 0; j < r.Fields.Count; j++)
            {
                var f = r.Fields[j];
                if (f.IsBitfield || f.Name.Length == 0) continue;
                c.AppendLine($"  printf(\"F {i} {j} %zu %zu\\n\", offsetof({r.CSpelling}, {f.Name}), " +
                             $"sizeof(((({r.CSpelling} *)0)->{f.Name})));");
            }
        }
        c.AppendLine("  return 0;");
        c.AppendLine("}");

        using var tmp = new Tools.TempDir();
        string src = Path.Combine(tmp.Path, "layout.c"), exe = Path.Combine(tmp.Path, "layout");
        File.WriteAllText(src, c.ToString());
        var args = new[] { "-std=gnu99", "-w", "-o", exe, src };
        var cr = Tools.Run(clang, args);
        if (cr.ExitCode != 0)
            throw new InvalidOperationException(
                $"the generated layout program did not compile ({Tools.Describe(clang, args)}):\n{cr.Stderr}\n--- layout.c ---\n{c}");
        var rr = Tools.Run(exe, Array.Empty<string>());
        if (rr.ExitCode != 0)
            throw new InvalidOperationException($"the generated layout program failed ({rr.ExitCode}): {rr.Stderr}");
        foreach (string line in rr.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] w = line.Split(' ');
            long L(int k) => long.Parse(w[k], CultureInfo.InvariantCulture);
            switch (w[0])
            {
                case "T": sizes[spellings[(int)L(1)]] = L(2); break;
                case "R": recs[(int)L(1)].Size = L(2); break;
                case "F":
                    var fld = recs[(int)L(1)].Fields[(int)L(2)];
                    fld.Offset = L(3);
                    fld.Size = L(4);
                    break;
            }
        }
    }
}
