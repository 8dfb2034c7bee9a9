using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>
/// Systematic concurrency tests (Microsoft.Coyote) of the lock-free parts: the local run queue, the task state
/// word, the slot table's free list. The tests themselves are in <c>Coyote/</c> (see the comment at the top of
/// Coyote/Luminal.Coyote.csproj): that assembly and a copy of Luminal.Native are rewritten by `coyote rewrite`
/// so that every Interlocked/Volatile call and every field access is a point where Coyote may switch threads,
/// and Coyote then runs each test over thousands of chosen interleavings, one thread at a time.
///
/// Why rewriting and not hooks in the runtime: Coyote 1.7's rewriter turns Interlocked and Volatile calls into
/// scheduling points and, with memory-location rewriting, every field load and store too, so the real code is
/// instrumented without touching it: no seam in production, none to forget when the code changes. And only the
/// copy in Coyote's folder is instrumented: every other test here, and the
/// library, runs the plain code. The rewritten copy is loaded into its own AssemblyLoadContext, so the two
/// Luminal.Native assemblies (plain and rewritten) never meet. What rewriting cannot show: reorderings by the
/// CPU or JIT (Coyote runs one thread at a time, so every interleaving is sequentially consistent); a missing
/// fence is found only if it is also a missing step, e.g. a CAS replaced by a plain write.
///
/// Run only these: dotnet test tests/managed -c Release --filter FullyQualifiedName~CoyoteTests. A run is
/// reproducible (fixed seed); LUMINAL_COYOTE_SEED=random (or a number) explores other schedules,
/// LUMINAL_COYOTE_SCALE=10 ten times as many, LUMINAL_COYOTE_STRATEGY=random|prob|delay another strategy than
/// PCT (priority-based, which finds the ordering bugs tried here within tens of schedules), LUMINAL_COYOTE_MEM=0
/// only Interlocked/Volatile calls as scheduling points (not every field access), LUMINAL_COYOTE_VERBOSE=1 Coyote's
/// log (the same seed replays the same schedules). A failure prints the bug and the end of the schedule that found it.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class CoyoteTests
{
    // A test runs its threads one at a time, so it keeps one core busy: two run at once (NUnit's workers, one per
    // core), each in a load context of its own per worker thread, so that they share no statics (the task
    // table, Coyote's runtime). A third context only lists the tests.
    [ThreadStatic] static Assembly? _workerCopy;
    static readonly Lazy<Assembly> Listing = new(Load);

    static Assembly Load()
    {
        string dir = Path.Combine(Path.GetDirectoryName(typeof(CoyoteTests).Assembly.Location)!, "coyote");
        return new FolderContext(dir).LoadFromAssemblyPath(Path.Combine(dir, "Luminal.Coyote.dll"));
    }

    static IEnumerable<string> Names() =>
        (string[])Listing.Value.GetType("Luminal.Coyote.Harness")!.GetMethod("Tests")!.Invoke(null, null)!;

    [TestCaseSource(nameof(Names))]
    public void Systematic(string name)
    {
        _workerCopy ??= Load();
        MethodInfo run = _workerCopy.GetType("Luminal.Coyote.Harness")!.GetMethod("Run")!;
        object?[] args = { name, null };
        var failure = (string?)run.Invoke(null, args);
        TestContext.Out.WriteLine(args[1]);
        if (failure is not null) Assert.Fail(failure);
    }

    /// <summary>Loads the rewritten assemblies (and Coyote's) from one folder; the framework from the default context.</summary>
    sealed class FolderContext : AssemblyLoadContext
    {
        readonly string _dir;
        public FolderContext(string dir) : base("coyote-" + Guid.NewGuid()) => _dir = dir;

        protected override Assembly? Load(AssemblyName name)
        {
            string path = Path.Combine(_dir, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
