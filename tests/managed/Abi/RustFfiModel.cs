using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace Luminal.Tests.Abi;

// ---------------------------------------------------------------------------------------------------------------
// Rust types as bindings/rust/luminal/src/ffi.rs spells them, as far as the ABI check needs them.
// ---------------------------------------------------------------------------------------------------------------

abstract record RType(string Spelling)
{
    public sealed override string ToString() => Spelling;
}

/// <summary>`c_void` as a pointee, or a function without a return type.</summary>
sealed record RVoid(string Spelling) : RType(Spelling);

sealed record RInt(string Spelling, int Size, bool Signed) : RType(Spelling);

sealed record RPointer(string Spelling, RType Pointee) : RType(Spelling);

/// <summary>`unsafe extern "C" fn(..) -> ..`, possibly wrapped in `Option` (then it may be NULL).</summary>
sealed record RFn(string Spelling, IReadOnlyList<RType> Params, RType Return, bool Nullable) : RType(Spelling);

sealed record RStruct(string Spelling, string Name) : RType(Spelling);

sealed record RArray(string Spelling, RType Element, int Length) : RType(Spelling);

sealed record RUnknown(string Spelling, string Why) : RType(Spelling);

sealed record RParam(string Name, RType Type);

/// <summary>A function of libluminal; Linked if it sits in an `extern "C"` block (a link-time import) rather than in
/// the `declare_library!` table that the crate loads at run time.</summary>
sealed record RFunction(string Name, IReadOnlyList<RParam> Params, RType Return, bool Linked = false);

/// <summary>A `pub const`; Value is its 64-bit value as the declared type reads it, or null (then Why says why).</summary>
sealed record RConst(string Name, RType Type, string Expr, long? Value, string? Why);

sealed record RField(string Name, RType Type);

sealed record RStructDef(string Name, IReadOnlyList<RField> Fields, bool ReprC)
{
    /// <summary>`struct x { _private: [u8; 0] }`: an opaque handle type.</summary>
    public bool Opaque => Fields.Count == 1 && Fields[0].Name == "_private" && Fields[0].Type is RArray { Length: 0 };
}

/// <summary>
/// What ffi.rs declares: the functions of its `declare_library! { pub fn ..; }` table (the crate loads libluminal at
/// run time and calls through that table; any function in an `extern "C" { .. }` block is read too, marked Linked,
/// so that the comparison can refuse it), `pub const`s, `pub type` aliases and `#[repr(C)]` structs. A plain
/// text parse (comments stripped, then regular expressions and bracket matching): ffi.rs is written one declaration
/// per item in a fixed style, and anything the parse cannot classify is reported as an RUnknown type, never skipped.
/// </summary>
sealed class RustFfiModel
{
    public List<RFunction> Functions { get; } = new();
    public List<RConst> Consts { get; } = new();
    public Dictionary<string, RStructDef> Structs { get; } = new();
    readonly Dictionary<string, string> aliases = new();

    public static RustFfiModel Load(string path) => Parse(File.ReadAllText(path));

    public static RustFfiModel Parse(string source)
    {
        var m = new RustFfiModel();
        string text = StripComments(source);

        // Pass 1: names of structs and aliases (types refer to each other in any order).
        var structTexts = new List<(string Name, string Attrs, string Body)>();
        foreach (Match s in Regex.Matches(text, @"((?:#\[[^\]]*\]\s*)*)pub\s+struct\s+(\w+)\s*\{([^}]*)\}"))
            structTexts.Add((s.Groups[2].Value, s.Groups[1].Value, s.Groups[3].Value));
        foreach (Match a in Regex.Matches(text, @"\bpub\s+type\s+(\w+)\s*=\s*([^;]+);"))
            m.aliases[a.Groups[1].Value] = Squash(a.Groups[2].Value);
        var structNames = structTexts.Select(s => s.Name).ToHashSet();

        // Pass 2: structs.
        foreach (var (name, attrs, body) in structTexts)
        {
            var fields = new List<RField>();
            foreach (string f in SplitTopLevel(body))
            {
                Match fm = Regex.Match(f, @"^(?:pub(?:\([^)]*\))?\s+)?(\w+)\s*:\s*(.+)$", RegexOptions.Singleline);
                fields.Add(fm.Success
                    ? new RField(fm.Groups[1].Value, m.ParseType(fm.Groups[2].Value, structNames))
                    : new RField(f, new RUnknown(f, "cannot read this field")));
            }
            m.Structs[name] = new RStructDef(name, fields, Regex.IsMatch(attrs, @"repr\s*\(\s*C\s*\)"));
        }

        // Pass 3: constants.
        foreach (Match c in Regex.Matches(text, @"\bpub\s+const\s+(\w+)\s*:\s*([^=]+)=\s*([^;]+);"))
        {
            RType t = m.ParseType(c.Groups[2].Value, structNames);
            string expr = Squash(c.Groups[3].Value);
            long? v = EvalConst(expr, t, out string? why);
            m.Consts.Add(new RConst(c.Groups[1].Value, t, expr, v, why));
        }

        // Pass 4: the functions of the `declare_library! { ... }` table, and of any `extern "C" { ... }` block.
        var blocks = Regex.Matches(text, @"\bdeclare_library!\s*\{").Select(b => (b, Linked: false))
            .Concat(Regex.Matches(text, @"\bextern\s+""C""\s*\{").Select(b => (b, Linked: true)));
        foreach (var (blk, linked) in blocks)
        {
            int open = blk.Index + blk.Length - 1;
            int close = MatchClose(text, open, '{', '}');
            string body = text[(open + 1)..close];
            foreach (Match fn in Regex.Matches(body, @"\bpub\s+(?:unsafe\s+)?fn\s+(\w+)\s*\("))
            {
                int po = fn.Index + fn.Length - 1;
                int pc = MatchClose(body, po, '(', ')');
                int semi = body.IndexOf(';', pc);
                string tail = Squash(body[(pc + 1)..semi]);
                var ps = SplitTopLevel(body[(po + 1)..pc]).Select(p =>
                {
                    int colon = p.IndexOf(':');
                    return colon < 0
                        ? new RParam("?", new RUnknown(p, "a parameter without a name"))
                        : new RParam(p[..colon].Trim(), m.ParseType(p[(colon + 1)..], structNames));
                }).ToList();
                RType ret = tail.Length == 0 ? new RVoid("()")
                    : tail.StartsWith("->") ? m.ParseType(tail[2..], structNames)
                    : new RUnknown(tail, "cannot read the return type");
                m.Functions.Add(new RFunction(fn.Groups[1].Value, ps, ret, linked));
            }
        }
        return m;
    }

    // -- types ------------------------------------------------------------------------------------------------

    static readonly Dictionary<string, (int Size, bool Signed)> Ints = new()
    {
        ["u8"] = (1, false), ["i8"] = (1, true), ["u16"] = (2, false), ["i16"] = (2, true),
        ["u32"] = (4, false), ["i32"] = (4, true), ["u64"] = (8, false), ["i64"] = (8, true),
        ["usize"] = (IntPtr.Size, false), ["isize"] = (IntPtr.Size, true),
        ["c_char"] = (1, true), ["c_schar"] = (1, true), ["c_uchar"] = (1, false),
        ["c_short"] = (2, true), ["c_ushort"] = (2, false), ["c_int"] = (4, true), ["c_uint"] = (4, false),
        ["c_long"] = (IntPtr.Size, true), ["c_ulong"] = (IntPtr.Size, false),
        ["c_longlong"] = (8, true), ["c_ulonglong"] = (8, false),
    };

    RType ParseType(string spelling, HashSet<string> structNames, int depth = 0)
    {
        string s = Squash(spelling);
        if (depth > 20) return new RUnknown(s, "type aliases nest too deep (a cycle?)");
        // Paths such as std::os::raw::c_int: the last segment names the type.
        string bare = Regex.Replace(s, @"^(?:[A-Za-z_]\w*::)+(?=\w+$)", "");
        if (s.StartsWith("*mut ") || s.StartsWith("*const "))
            return new RPointer(s, ParseType(s[(s.IndexOf(' ') + 1)..], structNames, depth + 1));
        Match opt = Regex.Match(s, @"^Option\s*<(.*)>$", RegexOptions.Singleline);
        if (opt.Success)
        {
            RType inner = ParseType(opt.Groups[1].Value, structNames, depth + 1);
            return inner is RFn f ? f with { Spelling = s, Nullable = true }
                : new RUnknown(s, "Option<> of something else than a function pointer");
        }
        Match fn = Regex.Match(s, @"^(?:unsafe\s+)?extern\s+""C""\s+fn\s*\(");
        if (fn.Success)
        {
            int po = fn.Index + fn.Length - 1;
            int pc = MatchClose(s, po, '(', ')');
            var ps = SplitTopLevel(s[(po + 1)..pc]).Select(p =>
            {
                int colon = TopLevelColon(p);
                return ParseType(colon < 0 ? p : p[(colon + 1)..], structNames, depth + 1);
            }).ToList();
            string tail = s[(pc + 1)..].Trim();
            RType ret = tail.Length == 0 ? new RVoid("()")
                : tail.StartsWith("->") ? ParseType(tail[2..], structNames, depth + 1)
                : new RUnknown(s, "cannot read the callback's return type");
            return new RFn(s, ps, ret, Nullable: false);
        }
        Match arr = Regex.Match(s, @"^\[(.+);\s*(\d+)\s*\]$");
        if (arr.Success)
            return new RArray(s, ParseType(arr.Groups[1].Value, structNames, depth + 1),
                int.Parse(arr.Groups[2].Value, CultureInfo.InvariantCulture));
        if (bare == "c_void" || s == "()") return new RVoid(s);
        if (Ints.TryGetValue(bare, out var i)) return new RInt(s, i.Size, i.Signed);
        if (structNames.Contains(bare)) return new RStruct(s, bare);
        if (aliases.TryGetValue(bare, out string? under))
        {
            RType u = ParseType(under, structNames, depth + 1);
            return u switch
            {
                RInt x => x with { Spelling = s },
                RPointer x => x with { Spelling = s },
                RFn x => x with { Spelling = s },
                _ => u,
            };
        }
        return new RUnknown(s, "unknown type");
    }

    static int TopLevelColon(string p)
    {
        int depth = 0;
        for (int k = 0; k < p.Length; k++)
        {
            char c = p[k];
            if (c is '(' or '[' or '<') depth++;
            else if (c is ')' or ']' or '>') depth--;
            else if (c == ':' && depth == 0 && (k + 1 >= p.Length || p[k + 1] != ':') && (k == 0 || p[k - 1] != ':'))
                return k;
        }
        return -1;
    }

    // -- constants --------------------------------------------------------------------------------------------

    /// <summary>
    /// Evaluates the forms ffi.rs uses: an integer literal (decimal or 0x, `_` separators, optional suffix), with
    /// optional unary `-` or `!` in front and an optional `as <type>` after. Anything else is refused with a reason.
    /// </summary>
    static long? EvalConst(string expr, RType declared, out string? why)
    {
        why = null;
        Match m = Regex.Match(expr,
            @"^(?<op>[-!]?)\s*\(?\s*(?<lit>0x[0-9A-Fa-f_]+|[0-9][0-9_]*)(?<suf>[iu](?:8|16|32|64|size))?\s*\)?\s*(?:as\s+(?<as>.+))?$");
        if (!m.Success)
        {
            why = "the ABI check can only evaluate `[-|!]<integer literal>[suffix] [as <type>]`";
            return null;
        }
        string lit = m.Groups["lit"].Value.Replace("_", "");
        ulong v = lit.StartsWith("0x")
            ? ulong.Parse(lit[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(lit, CultureInfo.InvariantCulture);
        // The width the operator works in: the literal's suffix, else the declared type's.
        int bits = m.Groups["suf"].Success ? SuffixBits(m.Groups["suf"].Value) : 8 * WidthOf(declared);
        ulong mask = bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;
        switch (m.Groups["op"].Value)
        {
            case "-": v = (0 - v) & mask; break;
            case "!": v = ~v & mask; break;
        }
        // Read the value as the declared type does: sign-extend a signed integer of its width.
        if (declared is RInt { Signed: true } ri && ri.Size < 8)
        {
            int sb = 8 * ri.Size;
            v &= (1UL << sb) - 1;
            if ((v >> (sb - 1)) != 0) v |= ~((1UL << sb) - 1);
        }
        else if (declared is RInt ru && ru.Size < 8) v &= (1UL << (8 * ru.Size)) - 1;
        return unchecked((long)v);
    }

    static int SuffixBits(string suf) => suf[1..] switch
    {
        "8" => 8, "16" => 16, "32" => 32, "64" => 64, _ => 8 * IntPtr.Size,
    };

    static int WidthOf(RType t) => t switch
    {
        RInt i => i.Size,
        _ => IntPtr.Size,
    };

    // -- text helpers -----------------------------------------------------------------------------------------

    /// <summary>Removes // and /* */ comments (not inside string literals), keeping line breaks.</summary>
    public static string StripComments(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int k = 0; k < s.Length; k++)
        {
            if (s[k] == '"')
            {
                int end = k + 1;
                while (end < s.Length && s[end] != '"') end += s[end] == '\\' ? 2 : 1;
                sb.Append(s, k, Math.Min(end + 1, s.Length) - k);
                k = end;
            }
            else if (s[k] == '/' && k + 1 < s.Length && s[k + 1] == '/')
            {
                while (k < s.Length && s[k] != '\n') k++;
                if (k < s.Length) sb.Append('\n');
            }
            else if (s[k] == '/' && k + 1 < s.Length && s[k + 1] == '*')
            {
                int end = s.IndexOf("*/", k + 2, StringComparison.Ordinal);
                end = end < 0 ? s.Length : end + 2;
                sb.Append('\n', s[k..end].Count(c => c == '\n'));
                k = end - 1;
            }
            else sb.Append(s[k]);
        }
        return sb.ToString();
    }

    static string Squash(string s) => Regex.Replace(s, @"\s+", " ").Trim();

    public static int MatchClose(string s, int open, char o, char c)
    {
        int depth = 0;
        for (int k = open; k < s.Length; k++)
        {
            if (s[k] == o) depth++;
            else if (s[k] == c && --depth == 0) return k;
        }
        throw new FormatException($"unbalanced '{o}' at offset {open} of ffi.rs");
    }

    /// <summary>Splits at commas outside (), [] and &lt;&gt;; drops empty trailing parts.</summary>
    static List<string> SplitTopLevel(string s)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int k = 0; k < s.Length; k++)
        {
            char c = s[k];
            if (c is '(' or '[' or '<') depth++;
            else if (c is ')' or ']' or '>' && !(c == '>' && k > 0 && s[k - 1] == '-')) depth--;
            else if (c == ',' && depth == 0) { parts.Add(Squash(s[start..k])); start = k + 1; }
        }
        parts.Add(Squash(s[start..]));
        return parts.Where(p => p.Length > 0).ToList();
    }
}
