using System.Collections.Generic;
using Luminal.Handles;
using Microsoft.Coyote.Rewriting;
using Microsoft.Coyote.Specifications;

namespace Luminal.Coyote;

/// <summary>
/// The slot table's free list: a lock-free stack whose head packs a pop counter with the index, so that a pop
/// that read a stale NextFree loses its CAS (ABA). Three threads allocate and free
/// (one through its private stash, handed back in one chain at the end). No slot may be handed out while
/// someone holds it, and in the end every slot is free exactly once.
/// Found when broken: PopShared without the counter bump (ABA, 103 schedules: a slot twice on the free list).
/// </summary>
static class SlotTableSystematic
{
    [SkipRewriting("test bookkeeping")]
    sealed class Item : Slot
    {
        public bool Held;

        public static Item Take(Item? item)
        {
            Specification.Assert(item is not null, "table full");
            Specification.Assert(!item!.Held, $"slot {item.Index} handed out while held");
            item.Held = true;
            return item;
        }

        public static Item Release(Item item)
        {
            item.Held = false;
            return item;
        }
    }

    // One table for all iterations (a table's chunk directory is 512 KiB): each iteration leaves every slot free.
    static readonly SlotTable<Item> Table = NewTable();

    static SlotTable<Item> NewTable()
    {
        var table = new SlotTable<Item>(() => new Item());
        var first = new Item[3];
        for (int i = 0; i < 3; i++) first[i] = table.Allocate()!;
        for (int i = 0; i < 3; i++) table.Free(first[i]);
        return table;
    }

    [Systematic(1500)]
    static void AllocateAndFreeRace()
    {
        SlotTable<Item> table = Table;
        Par.Run(() =>
        {
            Item a = Item.Take(table.Allocate());
            table.Free(Item.Release(a));
            Item b = Item.Take(table.Allocate());
            table.Free(Item.Release(b));
        }, () =>
        {
            Item a = Item.Take(table.Allocate());
            Item b = Item.Take(table.Allocate());
            table.Free(Item.Release(a));
            table.Free(Item.Release(b));
        }, () =>
        {
            var cache = new SlotCache<Item>();
            Item a = Item.Take(table.Allocate(cache));
            table.Free(Item.Release(a), cache);
            table.ReturnAll(cache);
        });
        // Every slot ever created is on the free list exactly once: popping them all gives each once.
        Microsoft.Coyote.Runtime.SchedulingPoint.Suppress();
        int created = table.Count;
        var all = new Item[created];
        var seen = new HashSet<int>();
        for (int i = 0; i < created; i++)
        {
            all[i] = table.Allocate()!;
            Specification.Assert(all[i].Index < created && seen.Add(all[i].Index),
                $"slot {all[i].Index} twice on the free list");
        }
        foreach (Item it in all) table.Free(it);
    }
}
