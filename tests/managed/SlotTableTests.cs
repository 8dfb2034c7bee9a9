using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Luminal.Handles;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>The pooled object table behind every handle, with and without a thread's private stash.</summary>
public class SlotTableTests
{
    sealed class Item : Slot { }

    [Test]
    public void ObjectsAreReusedThroughTheStashAndTheSharedStack()
    {
        var table = new SlotTable<Item>(() => new Item());
        var stash = new SlotCache<Item>();
        // More than a stash holds: part of them reaches the shared stack when the stash fills.
        List<Item> first = Enumerable.Range(0, 1000).Select(_ => table.Allocate(stash)!).ToList();
        Assert.That(first.Distinct().Count(), Is.EqualTo(1000));
        Assert.That(table.Count, Is.EqualTo(1000));
        foreach (Item i in first) table.Free(i, stash);
        // Allocating them all again (from the stash, refilled from the shared stack) creates nothing new and hands
        // out no object twice.
        var again = new List<Item>();
        for (int n = 0; n < 1000; n++) again.Add(table.Allocate(stash)!);
        Assert.That(again.Distinct().Count(), Is.EqualTo(1000));
        Assert.That(table.Count, Is.EqualTo(1000));
        Assert.That(again.ToHashSet().SetEquals(first));
        // What a stash still holds goes back to the shared stack when its thread ends, where a thread without a
        // stash finds it.
        foreach (Item i in again.Take(100)) table.Free(i, stash);
        table.ReturnAll(stash);
        var fresh = Enumerable.Range(0, 100).Select(_ => table.Allocate()!).ToList();
        Assert.That(table.Count, Is.EqualTo(1000));
        Assert.That(fresh.ToHashSet().SetEquals(again.Take(100)));
    }

    [Test]
    public void ThreadsWithStashesAndWithoutNeverShareAnObject()
    {
        var table = new SlotTable<Item>(() => new Item());
        const int Threads = 4, Rounds = 20_000;
        var owner = new int[Threads * 64 + 4096];
        int errors = 0;
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            SlotCache<Item>? stash = t % 2 == 0 ? new SlotCache<Item>() : null; // half with stashes, half without
            var held = new List<Item>();
            var rng = new System.Random(t);
            for (int r = 0; r < Rounds; r++)
            {
                if (held.Count < 64 && (held.Count == 0 || rng.Next(2) == 0))
                {
                    Item i = table.Allocate(stash)!;
                    if (Interlocked.CompareExchange(ref owner[i.Index], t + 1, 0) != 0) Interlocked.Increment(ref errors);
                    held.Add(i);
                }
                else
                {
                    Item i = held[^1];
                    held.RemoveAt(held.Count - 1);
                    Volatile.Write(ref owner[i.Index], 0);
                    table.Free(i, stash);
                }
            }
            foreach (Item i in held) { Volatile.Write(ref owner[i.Index], 0); table.Free(i, stash); }
            if (stash is not null) table.ReturnAll(stash);
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        Assert.That(errors, Is.EqualTo(0), "an object was handed to two holders at once");
        // Every object is free again: allocating the table's whole population creates nothing new.
        int count = table.Count;
        var all = Enumerable.Range(0, count).Select(_ => table.Allocate()!).ToList();
        Assert.That(all.Distinct().Count(), Is.EqualTo(count));
        Assert.That(table.Count, Is.EqualTo(count));
    }
}
