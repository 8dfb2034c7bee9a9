using System.Runtime.InteropServices;

namespace Luminal.Io;

/// <summary>luminal_dir_entry: one name in a directory and its kind (a DT_* value of readdir(3)).</summary>
[Interop.CStruct("luminal_dir_entry")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeDirEntry
{
    public byte* Name;
    public uint Kind;
    public uint Reserved;
}

/// <summary>luminal_dir_list: the entries of a directory, and their names after them, in one native allocation.</summary>
[Interop.CStruct("luminal_dir_list")]
[StructLayout(LayoutKind.Sequential)]
unsafe struct NativeDirList
{
    public NativeDirEntry* Entries;
    public nuint Count;

    public static void Release(NativeDirList* list)
    {
        if (list == null) return;
        if (list->Entries != null) NativeMemory.Free(list->Entries);
        list->Entries = null;
        list->Count = 0;
    }
}
