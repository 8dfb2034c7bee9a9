using System;
using System.Collections.Generic;
using System.Text;

namespace Luminal.Observe;

/// <summary>luminal_log_level.</summary>
enum LogLevel { Error = 1, Warn = 2, Info = 3, Debug = 4 }

/// <summary>
/// A runtime's log: the luminal_log_fn of its options (up to its level), else stderr at the level LUMINAL_LOG names
/// (read once per process), else nothing. Every event is rare (a decision, a mistake, a failure), so a line may
/// allocate; the hot paths never log. Never called with a Luminal lock held: the callback may call back in.
/// </summary>
sealed unsafe class Log
{
    readonly delegate* unmanaged<void*, int, byte*, void> _fn;
    readonly void* _user;
    readonly int _level; // the most verbose level written; 0 = silent

    /// <summary>LUMINAL_LOG=error|warn|info|debug: the level stderr gets when no callback is given (0 = none).</summary>
    static readonly int StderrLevel = ParseLevel(Environment.GetEnvironmentVariable("LUMINAL_LOG"));

    // Runtimes that have a callback, for failures that happen where no runtime is known (Exports.Fail).
    static readonly List<Log> Live = new();

    public Log(delegate* unmanaged<void*, int, byte*, void> fn, void* user, int level)
    {
        _fn = fn;
        _user = user;
        _level = fn != null ? (level == 0 ? (int)LogLevel.Info : level) : StderrLevel;
        if (fn != null) lock (Live) Live.Add(this);
    }

    public static int ParseLevel(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "error" => 1,
        "warn" or "warning" => 2,
        "info" => 3,
        "debug" => 4,
        _ => 0,
    };

    /// <summary>Would a line at <paramref name="level"/> go anywhere? (Check before building an expensive line.)</summary>
    public bool Enabled(LogLevel level) => (int)level <= _level;

    public void Write(LogLevel level, string message)
    {
        if (!Enabled(level)) return;
        if (_fn == null) { WriteStderr(level, message); return; }
        byte[] utf8 = Encoding.UTF8.GetBytes(message + "\0");
        fixed (byte* p = utf8) _fn(_user, (int)level, p);
    }

    /// <summary>The runtime is gone: failures elsewhere are no longer reported to its callback.</summary>
    public void Retire()
    {
        if (_fn != null) lock (Live) Live.Remove(this);
    }

    /// <summary>A failure outside any known runtime (an export mapped it to LUMINAL_E_INTERNAL): every live runtime
    /// with a callback hears of it, and stderr if LUMINAL_LOG asks for errors and no callback exists.</summary>
    public static void Everywhere(LogLevel level, string message)
    {
        Log[] logs;
        lock (Live) logs = Live.ToArray();
        foreach (Log log in logs) log.Write(level, message);
        if (logs.Length == 0 && (int)level <= StderrLevel) WriteStderr(level, message);
    }

    static void WriteStderr(LogLevel level, string message)
    {
        string line = string.Concat("luminal: ", LevelName(level), ": ", message, "\n");
        byte[] utf8 = Encoding.UTF8.GetBytes(line);
        fixed (byte* p = utf8) Io.Libc.Write(2, p, (nuint)utf8.Length); // one write: lines from threads don't interleave
    }

    static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Error => "error",
        LogLevel.Warn => "warn",
        LogLevel.Info => "info",
        _ => "debug",
    };
}
