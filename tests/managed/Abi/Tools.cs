using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace Luminal.Tests.Abi;

/// <summary>Locating the repo and external tools (clang-14, nm), and running them.</summary>
static class Tools
{
    public sealed class ToolMissingException(string message) : Exception(message);

    public record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>The folder holding include/luminal.h, found by walking up from the test assembly.</summary>
    public static string RepoRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "include", "luminal.h")))
                    return d.FullName;
        }
        throw new InvalidOperationException(
            $"cannot find include/luminal.h above {AppContext.BaseDirectory}; run the tests from inside the Luminal repo");
    }

    /// <summary>Full path of an executable on PATH, or null.</summary>
    public static string? Which(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            string p = Path.Combine(dir, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    public static string Require(string name, string hint) =>
        Which(name) ?? throw new ToolMissingException($"'{name}' was not found on PATH. {hint}");

    public const string ClangHint =
        "The ABI check needs clang-14: install it with `sudo apt-get install clang-14` " +
        "(./build.sh test installs it automatically).";

    public static string Clang() => Require("clang-14", ClangHint);
    public static string ClangXX() => Require("clang++-14", ClangHint);

    public static Result Run(string exe, IEnumerable<string> args, string? workDir = null, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDir ?? Directory.GetCurrentDirectory(),
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["LC_ALL"] = "C";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            try { p.Kill(entireProcessTree: true); } catch { }
            throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish within {timeoutMs / 1000} s");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Describe(string exe, IEnumerable<string> args) =>
        exe + " " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"'{a}'" : a));

    /// <summary>A fresh temporary directory, deleted on Dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("luminal-abi-").FullName;
        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch { }
        }
    }
}
