using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using Microsoft.Coyote;
using Microsoft.Coyote.Rewriting;
using Microsoft.Coyote.SystematicTesting;

namespace Luminal.Coyote;

/// <summary>A systematic test: a static method run by Coyote's engine once per explored interleaving.</summary>
[AttributeUsage(AttributeTargets.Method)]
sealed class SystematicAttribute : Attribute
{
    public SystematicAttribute(uint iterations) => Iterations = iterations;

    /// <summary>Interleavings explored in the default run (LUMINAL_COYOTE_SCALE multiplies it).</summary>
    public uint Iterations { get; }

    /// <summary>The test exists to show that Coyote finds a bug: passing means a bug was found.</summary>
    public bool ExpectBug { get; init; }
}

/// <summary>What the tests share.</summary>
static class Par
{
    /// <summary>Runs the actions as concurrent controlled operations and waits for all of them.</summary>
    public static void Run(params System.Action[] actions)
    {
        var tasks = new System.Threading.Tasks.Task[actions.Length];
        for (int i = 0; i < actions.Length; i++) tasks[i] = System.Threading.Tasks.Task.Run(actions[i]);
        // The array overload: Coyote rewrites it; .NET 10's params-span overload it does not know (a real block).
        System.Threading.Tasks.Task.WaitAll(tasks);
    }
}

/// <summary>
/// Entry points for the NUnit side (tests/managed/CoyoteTests.cs), which calls them by reflection inside the
/// AssemblyLoadContext holding the rewritten assemblies.
/// </summary>
public static class Harness
{
    /// <summary>Every systematic test, as "Class.Method".</summary>
    public static string[] Tests() => Methods().Select(m => $"{m.DeclaringType!.Name}.{m.Name}").ToArray();

    /// <summary>
    /// Runs one test. Returns null if the outcome was the expected one (no bug; or a bug for a test that expects
    /// one), else what went wrong: Coyote's report with the failing schedule. <paramref name="summary"/> tells how
    /// many interleavings were explored and how long it took. The LUMINAL_COYOTE_* variables are described at the
    /// top of tests/managed/CoyoteTests.cs.
    /// </summary>
    public static string? Run(string name, out string summary)
    {
        MethodInfo method = Methods().Single(m => $"{m.DeclaringType!.Name}.{m.Name}" == name);
        var attr = method.GetCustomAttribute<SystematicAttribute>()!;
        if (!RewritingEngine.IsAssemblyRewritten(typeof(Luminal.Scheduler.LocalQueue).Assembly)
            || !RewritingEngine.IsAssemblyRewritten(typeof(Harness).Assembly))
        {
            summary = "";
            return "the assemblies are not rewritten: Coyote would see no interleavings (see Luminal.Coyote.csproj)";
        }

        double scale = double.TryParse(Env("SCALE"), out double s) ? s : 1;
        uint iterations = (uint)Math.Max(1, attr.Iterations * scale);
        uint seed = Env("SEED") == "random" ? (uint)Random.Shared.Next() : uint.TryParse(Env("SEED"), out uint v) ? v : 20261;
        bool verbose = Env("VERBOSE") is not null;

        Configuration config = Configuration.Create()
            .WithTestingIterations(iterations)
            .WithRandomGeneratorSeed(seed)
            // Every field load and store in the rewritten code is a scheduling point (not only Interlocked/Volatile).
            .WithMemoryAccessRaceCheckingEnabled(Env("MEM") != "0")
            .WithTelemetryEnabled(false)
            .WithDeadlockTimeout(10_000) // ms without progress before a "potential deadlock": generous on a busy CI machine
            .WithVerbosityEnabled(verbose ? Microsoft.Coyote.Logging.VerbosityLevel.Debug : Microsoft.Coyote.Logging.VerbosityLevel.None)
            .WithUncontrolledInvocationStackTraceLoggingEnabled(verbose);
        config = Env("STRATEGY") switch
        {
            "random" => config.WithRandomStrategy(),
            "prob" => config.WithProbabilisticStrategy(3),
            "delay" => config.WithDelayBoundingStrategy(false, 10),
            _ => config.WithPrioritizationStrategy(false, 10), // PCT: few, well-placed preemptions per schedule
        };
        // Static set-up (TaskStateSystematic's runtime) runs here, outside the controlled threads.
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(method.DeclaringType!.TypeHandle);
        var action = (Action)Delegate.CreateDelegate(typeof(Action), method);
        var sw = Stopwatch.StartNew();
        using TestingEngine engine = TestingEngine.Create(config, action);
        engine.Run();
        sw.Stop();
        int bugs = engine.TestReport.NumOfFoundBugs;
        summary = $"{name}: {engine.TestReport.NumOfExploredUnfairPaths + engine.TestReport.NumOfExploredFairPaths} " +
            $"interleavings in {sw.Elapsed.TotalSeconds:F1} s (seed {seed}), {bugs} bug(s)";
        if (attr.ExpectBug)
        {
            summary += $": {engine.TestReport.BugReports.FirstOrDefault()}";
            return bugs > 0 ? null : $"Coyote found no bug in a test that contains one: {summary}";
        }
        if (bugs == 0) return null;
        // The end of the failing schedule (the bug is at the end); the seed reproduces all of it.
        string[] trace = engine.ReadableTrace.Split('\n');
        string tail = string.Join("\n", trace.Skip(Math.Max(0, trace.Length - 300)));
        return $"{summary}\n{string.Join("\n", engine.TestReport.BugReports)}\n--- end of the schedule ---\n{tail}";
    }

    static string? Env(string name) => Environment.GetEnvironmentVariable("LUMINAL_COYOTE_" + name);

    static IEnumerable<MethodInfo> Methods() =>
        typeof(Harness).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Where(m => m.GetCustomAttribute<SystematicAttribute>() is not null)
            .OrderBy(m => m.DeclaringType!.Name).ThenBy(m => m.Name);
}
