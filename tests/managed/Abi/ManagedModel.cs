using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Luminal.Interop;

namespace Luminal.Tests.Abi;

sealed record ManagedExport(string EntryPoint, MethodInfo Method)
{
    public string Where => $"{Method.DeclaringType?.FullName}.{Method.Name}";
}

sealed record ManagedField(string Name, Type Type, int Offset, int Size, FieldInfo Info);

sealed record ManagedStruct(string CName, Type Type, int Size, IReadOnlyList<ManagedField> Fields);

/// <summary>The C# side of the ABI: every [UnmanagedCallersOnly(EntryPoint=...)] method and every [CStruct] struct.</summary>
sealed class ManagedModel
{
    public List<ManagedExport> Exports { get; } = new();
    public List<ManagedStruct> Structs { get; } = new();

    public static Assembly RuntimeAssembly => typeof(CStructAttribute).Assembly;

    public static ManagedModel Load() => Load(RuntimeAssembly);

    public static ManagedModel Load(Assembly asm)
    {
        var m = new ManagedModel();
        Type[] types;
        try { types = asm.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t != null).ToArray()!; }
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static |
                                 BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (Type t in types)
        {
            foreach (MethodInfo mi in t.GetMethods(all))
            {
                var uco = mi.GetCustomAttribute<UnmanagedCallersOnlyAttribute>();
                if (uco?.EntryPoint != null) m.Exports.Add(new ManagedExport(uco.EntryPoint, mi));
            }
            var cs = t.GetCustomAttribute<CStructAttribute>();
            if (cs != null) m.Structs.Add(DescribeStruct(cs.Name, t));
        }
        return m;
    }

    /// <summary>A [CStruct]'s mirror name, or null.</summary>
    public static string? CNameOf(Type t) => t.IsValueType ? t.GetCustomAttribute<CStructAttribute>()?.Name : null;

    static ManagedStruct DescribeStruct(string cname, Type t)
    {
        if (!t.IsValueType)
            return new ManagedStruct(cname, t, -1, Array.Empty<ManagedField>());
        var fields = t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => new ManagedField(f.Name, f.FieldType, FieldOffset(f), SizeOf(f.FieldType), f))
            .OrderBy(f => f.Offset)
            .ToList();
        return new ManagedStruct(cname, t, SizeOf(t), fields);
    }

    /// <summary>The size the runtime (and so NativeAOT) gives a type: Unsafe.SizeOf, pointer size for pointers.</summary>
    public static int SizeOf(Type t)
    {
        if (t == typeof(void)) return 0;
        if (t.IsPointer || t.IsFunctionPointer || t.IsByRef) return IntPtr.Size;
        if (!t.IsValueType) return IntPtr.Size; // an object reference: never valid in the ABI, reported elsewhere
        MethodInfo sizeOf = typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t);
        return (int)sizeOf.Invoke(null, null)!;
    }

    /// <summary>The field's real offset in the runtime's layout (ldflda on a local), not the marshalling layout.</summary>
    static int FieldOffset(FieldInfo f)
    {
        var dm = new DynamicMethod("offset_" + f.Name, typeof(int), Type.EmptyTypes, typeof(ManagedModel).Module,
            skipVisibility: true);
        ILGenerator il = dm.GetILGenerator();
        LocalBuilder local = il.DeclareLocal(f.DeclaringType!);
        il.Emit(OpCodes.Ldloca, local);
        il.Emit(OpCodes.Ldflda, f);
        il.Emit(OpCodes.Ldloca, local);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Conv_I4);
        il.Emit(OpCodes.Ret);
        return (int)dm.Invoke(null, null)!;
    }

    public static string Describe(Type t)
    {
        if (t.IsFunctionPointer)
        {
            string conv = t.IsUnmanagedFunctionPointer ? "unmanaged" : "managed";
            var ps = t.GetFunctionPointerParameterTypes().Select(Describe)
                .Append(Describe(t.GetFunctionPointerReturnType()));
            return $"delegate* {conv}<{string.Join(", ", ps)}>";
        }
        if (t.IsPointer) return Describe(t.GetElementType()!) + "*";
        if (t == typeof(void)) return "void";
        if (t == typeof(IntPtr)) return "nint";
        if (t == typeof(UIntPtr)) return "nuint";
        if (t == typeof(int)) return "int";
        if (t == typeof(uint)) return "uint";
        if (t == typeof(long)) return "long";
        if (t == typeof(ulong)) return "ulong";
        if (t == typeof(short)) return "short";
        if (t == typeof(ushort)) return "ushort";
        if (t == typeof(byte)) return "byte";
        if (t == typeof(sbyte)) return "sbyte";
        if (t == typeof(bool)) return "bool";
        if (t == typeof(float)) return "float";
        if (t == typeof(double)) return "double";
        return CNameOf(t) is { } c ? $"{t.Name} [CStruct(\"{c}\")]" : t.Name;
    }
}
