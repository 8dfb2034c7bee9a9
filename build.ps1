# Luminal's build entry point for PowerShell 7+ (Windows first; it runs the same on Linux and macOS, which is how
# it is exercised here). Mirrors build.sh:
#   ./build.ps1            build the library, the C, C++ and Rust examples, and run the examples
#   ./build.ps1 test       build everything and run every test
#   ./build.ps1 lib        build only build/lib/<luminal.dll + luminal.lib | libluminal.so | libluminal.dylib>
#   ./build.ps1 soak       the long fuzz pass (fuzz_api) and the soak program (CTest label soak; slow, not part of test)
#   -Rid RID               build for another architecture (as build.sh --rid): on linux-x64, -Rid linux-arm64
#                          cross-compiles the library (clang-14 + the aarch64 cross libc, installed with apt by
#                          build.sh) into build/linux-arm64/lib and runs the C tests and examples under qemu-user
param([ValidateSet('all', 'test', 'lib', 'soak')][string]$Mode = 'all', [string]$Rid = '')
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$Build = Join-Path $PSScriptRoot 'build'
$Config = if ($env:CONFIG) { $env:CONFIG } else { 'Release' }
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'; $env:DOTNET_NOLOGO = '1'

$Arch = if ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'Arm64') { 'arm64' } else { 'x64' }
# NativeAOT names the library after the project (Luminal.Native.<ext>); the C contract names it luminal.
if ($IsWindows) { $HostRid = "win-$Arch"; $Ext = '.dll'; $LibName = 'luminal.dll'; $Exe = '.exe' }
elseif ($IsMacOS) { $HostRid = "osx-$Arch"; $Ext = '.dylib'; $LibName = 'libluminal.dylib'; $Exe = '' }
else { $HostRid = "linux-$Arch"; $Ext = '.so'; $LibName = 'libluminal.so'; $Exe = '' }
if (-not $Rid) { $Rid = $HostRid }

# Another RID's build goes to build/<rid>/ (the host's stays in build/lib and build/cmake). Cross builds: the same
# pair as build.sh (linux-x64 -> linux-arm64); the C programs then run under qemu-user.
$Out = $Build; $Cross = ''; $Emu = @(); $Toolchain = @(); $CrossArgs = @()
if ($Rid -ne $HostRid) {
    if ("$HostRid>$Rid" -ne 'linux-x64>linux-arm64') { throw "cannot build for $Rid on $HostRid (cross builds: linux-x64 -> linux-arm64)" }
    if ($Mode -eq 'soak') { throw 'soak runs on the host architecture only' }
    $Out = Join-Path $Build $Rid; $Cross = 'aarch64-linux-gnu'
    $Emu = @('qemu-aarch64-static', '-L', "/usr/$Cross")
    $Toolchain = @("-DCMAKE_TOOLCHAIN_FILE=$PSScriptRoot/cmake/toolchains/$Cross.cmake")
    $CrossArgs = @('-p:CppCompilerAndLinker=clang-14') # NativeAOT passes --target=, which gcc does not take
    foreach ($tool in @("$Cross-gcc", 'clang-14', 'qemu-aarch64-static')) {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "$tool is missing: ./build.sh lib --rid $Rid installs the cross toolchain with apt" }
    }
}
$LibDir = Join-Path $Out 'lib'; $CMakeDir = Join-Path $Out 'cmake'

# The version is written once, in include/luminal.h.
function Get-HeaderDefine([string]$Name) { (Select-String -Path include/luminal.h -Pattern "^#define LUMINAL_$Name (\d+)").Matches[0].Groups[1].Value }
$Major = Get-HeaderDefine VERSION_MAJOR
$Version = "$Major.$(Get-HeaderDefine VERSION_MINOR).$(Get-HeaderDefine VERSION_PATCH)"

function Invoke-Checked([scriptblock]$Block) { & $Block; if ($LASTEXITCODE -ne 0) { throw "failed: $Block" } }

function Build-Lib {
    Write-Host "== $LibName ($Rid, $Config)"
    Invoke-Checked { dotnet publish src/Luminal.Native -c $Config -r $Rid -o "$Out/native" @CrossArgs --nologo -v quiet -clp:ErrorsOnly }
    New-Item -ItemType Directory -Force $LibDir | Out-Null
    # Linux: the versioned file with its soname and link-time links, as build.sh makes them (CMake imports the
    # versioned file; a plain copy onto libluminal.so would leave the programs loading a stale .so.MAJOR).
    $real = if ($IsLinux) { "libluminal.so.$Version" } else { $LibName }
    # Copy, then rename: programs still running the old library keep their file intact (where the OS allows).
    Copy-Item "$Out/native/Luminal.Native$Ext" "$LibDir/$real.tmp" -Force
    Move-Item "$LibDir/$real.tmp" "$LibDir/$real" -Force
    if ($IsLinux) {
        New-Item -ItemType SymbolicLink -Force -Path "$LibDir/libluminal.so.$Major" -Target $real | Out-Null
        New-Item -ItemType SymbolicLink -Force -Path "$LibDir/$LibName" -Target "libluminal.so.$Major" | Out-Null
    }
    if ($IsWindows) {
        # NativeAOT emits the import library next to the obj output; C/C++ callers link against it.
        $implib = Get-ChildItem -Recurse "src/Luminal.Native/bin/$Config" -Filter 'Luminal.Native.lib' | Select-Object -First 1
        if ($implib) { Copy-Item $implib.FullName "$LibDir/luminal.lib" -Force }
    }
}

# The layout probe (tests/layout) for native.kernel_layout: the runtime's kernel layouts as compiled for $Rid.
function Build-LayoutProbe {
    if (-not $IsLinux) { return }
    Write-Host "== layout probe ($Rid)"
    Invoke-Checked { dotnet publish tests/layout -c $Config -r $Rid -o "$Out/layout-probe" @CrossArgs --nologo -v quiet -clp:ErrorsOnly }
}

function Build-Native {
    Write-Host "== C/C++ (cmake, $Rid)"
    Invoke-Checked { cmake -S . -B $CMakeDir -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DLUMINAL_LIB_DIR=$LibDir" @Toolchain }
    Invoke-Checked { cmake --build $CMakeDir --config RelWithDebInfo -j ([Environment]::ProcessorCount) }
    if ($IsWindows) { Copy-Item "$LibDir/$LibName" $CMakeDir -Force } # next to the executables
}

function Build-Rust {
    if (-not (Test-Path bindings/rust)) { return }
    if ($Cross) { Write-Host "== Rust: skipped for $Rid (no aarch64-unknown-linux-gnu std here; the host run builds and tests it)"; return }
    Write-Host "== Rust (cargo)"
    $env:LUMINAL_LIB_DIR = $LibDir
    Push-Location bindings/rust; try { Invoke-Checked { cargo build --release --offline --workspace --all-targets -q } } finally { Pop-Location }
}

function Add-LibToSearchPath {
    if ($IsWindows) { $env:PATH = "$LibDir;$env:PATH" }
    elseif ($IsMacOS) { $env:DYLD_LIBRARY_PATH = $LibDir }
    elseif (-not $Cross) { $env:LD_LIBRARY_PATH = $LibDir } # cross: the programs' RPATH finds it (under qemu -L)
}

function Invoke-Examples {
    Add-LibToSearchPath
    Write-Host "== examples"
    Get-ChildItem -Recurse "$CMakeDir/examples/c", "$CMakeDir/examples/cpp" -Filter "example_*$Exe" -ErrorAction SilentlyContinue |
        Where-Object { $IsWindows -or -not $_.Extension } |
        ForEach-Object {
            Write-Host "-- $($_.Name)"
            if ($Cross) { Invoke-Checked { & $Emu[0] $Emu[1..($Emu.Count - 1)] $_.FullName } } else { Invoke-Checked { & $_.FullName } }
        }
    if ($Cross) { return }
    $bin = "bindings/rust/target/release"
    foreach ($e in @('hello', 'plugin-host')) {
        if (Test-Path "$bin/$e$Exe") { Write-Host "-- rust: $e"; Invoke-Checked { & "$bin/$e$Exe" } }
    }
}

function Invoke-Tests {
    Add-LibToSearchPath
    if ($Cross) { Write-Host "== NUnit: runs on the host (./build.ps1 test); it checks the managed code, the same for every RID" }
    else {
        Write-Host "== managed tests (NUnit)"
        Invoke-Checked { dotnet test tests/managed -c $Config --nologo -v quiet }
    }
    Write-Host "== native tests (CTest, $Rid)"
    Push-Location $CMakeDir; try { Invoke-Checked { ctest -C RelWithDebInfo --output-on-failure -j 2 -LE soak } } finally { Pop-Location }
    if ((Test-Path bindings/rust) -and -not $Cross) {
        Write-Host "== Rust tests (cargo test)"
        $env:LUMINAL_LIB_DIR = $LibDir
        Push-Location bindings/rust; try { Invoke-Checked { cargo test --release --offline --workspace -q } } finally { Pop-Location }
    }
}

function Invoke-Soak {
    Add-LibToSearchPath
    Write-Host "== long fuzz pass and soak (CTest label soak)"
    Push-Location $CMakeDir; try { Invoke-Checked { ctest -C RelWithDebInfo --output-on-failure -V -L soak } } finally { Pop-Location }
}

switch ($Mode) {
    'lib' { Build-Lib }
    'soak' { Build-Lib; Build-Native; Invoke-Soak }
    'all' { Build-Lib; Build-Native; Build-Rust; Invoke-Examples }
    'test' { Build-Lib; Build-LayoutProbe; Build-Native; Build-Rust; Invoke-Tests }
}
