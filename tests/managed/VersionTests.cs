using System.IO;
using System.Text.RegularExpressions;
using Luminal.Tests.Abi;
using NUnit.Framework;

namespace Luminal.Tests;

/// <summary>The version is written once, in include/luminal.h; everything else that states it must agree.</summary>
public class VersionTests
{
    static string Header => File.ReadAllText(Path.Combine(Tools.RepoRoot(), "include", "luminal.h"));

    static string Define(string name)
    {
        Match m = Regex.Match(Header, $@"#define {name} (\S+)");
        Assert.That(m.Success, $"luminal.h defines {name}");
        return m.Groups[1].Value;
    }

    [Test]
    public void TheHeaderIsConsistentWithItself()
    {
        string text = $"{Define("LUMINAL_VERSION_MAJOR")}.{Define("LUMINAL_VERSION_MINOR")}.{Define("LUMINAL_VERSION_PATCH")}";
        Assert.That(Define("LUMINAL_VERSION_STRING"), Is.EqualTo($"\"{text}\""));
    }

    [Test]
    public void TheLibraryIsBuiltFromTheHeadersVersion()
    {
        string text = $"{Define("LUMINAL_VERSION_MAJOR")}.{Define("LUMINAL_VERSION_MINOR")}.{Define("LUMINAL_VERSION_PATCH")}";
        Assert.That(LuminalVersion.Text, Is.EqualTo(text));
        Assert.That(LuminalVersion.Abi.ToString(), Is.EqualTo(Define("LUMINAL_ABI_VERSION")));
    }

    [Test]
    public void TheRustCrateHasTheHeadersVersion()
    {
        string text = $"{Define("LUMINAL_VERSION_MAJOR")}.{Define("LUMINAL_VERSION_MINOR")}.{Define("LUMINAL_VERSION_PATCH")}";
        string cargo = File.ReadAllText(Path.Combine(Tools.RepoRoot(), "bindings", "rust", "Cargo.toml"));
        Match m = Regex.Match(cargo, @"(?m)^version\s*=\s*""([^""]+)""");
        Assert.That(m.Success, "bindings/rust/Cargo.toml has a workspace version");
        Assert.That(m.Groups[1].Value, Is.EqualTo(text), "bindings/rust/Cargo.toml [workspace.package] version");
        string ffi = File.ReadAllText(Path.Combine(Tools.RepoRoot(), "bindings", "rust", "luminal", "src", "ffi.rs"));
        Match abi = Regex.Match(ffi, @"LUMINAL_ABI_VERSION\s*:\s*u32\s*=\s*(\d+)");
        Assert.That(abi.Success, "ffi.rs declares LUMINAL_ABI_VERSION");
        Assert.That(abi.Groups[1].Value, Is.EqualTo(Define("LUMINAL_ABI_VERSION")));
    }
}
