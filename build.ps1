# Luminal's build entry point for PowerShell 7+ (Windows first; it runs the same on Linux and macOS, which is how
# it is exercised here). Mirrors build.sh:
#   ./build.ps1            build the library, the C, C++ and Rust examples, and run the examples
#   ./build.ps1 test       build everything and run every test
#   ./build.ps1 lib        build only build/lib/<luminal.dll + luminal.lib | libluminal.so | libluminal.dylib>
#   ./build.ps1 soak       the long fuzz pass (fuzz_api) and the soak program (CTest label soak; slow, not part of test)
param([ValidateSet('all', 'test', 'lib', 'soak')][string]$Mode = 'all')
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$Build = Join-Path $PSScriptRoot 'build'
$Config = if ($env:CONFIG) { $env:CONFIG } else { 'Release' }
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'; $env:DOTNET_NOLOGO = '1'

$Arch = if ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'Arm64') { 'arm64' } else { 'x64' }
# NativeAOT names the library after the project (Luminal.Native.<ext>); the C contract names it luminal.
if ($IsWindows) { $Rid = "win-$Arch"; $Ext = '.dll'; $LibName = 'luminal.dll'; $Exe = '.exe' }
elseif ($IsMacOS) { $Rid = "osx-$Arch"; $Ext = '.dylib'; $LibName = 'libluminal.dylib'; $Exe = '' }
else { $Rid = "linux-$Arch"; $Ext = '.so'; $LibName = 'libluminal.so'; $Exe = '' }

function Invoke-Checked([scriptblock]$Block) { & $Block; if ($LASTEXITCODE -ne 0) { throw "failed: $Block" } }

function Build-Lib {
    Write-Host "== $LibName ($Rid, $Config)"
    Invoke-Checked { dotnet publish src/Luminal.Native -c $Config -r $Rid -o "$Build/native" --nologo -v quiet -clp:ErrorsOnly }
    New-Item -ItemType Directory -Force "$Build/lib" | Out-Null
    # Copy, then rename: programs still running the old library keep their file intact (where the OS allows).
    Copy-Item "$Build/native/Luminal.Native$Ext" "$Build/lib/$LibName.tmp" -Force
    Move-Item "$Build/lib/$LibName.tmp" "$Build/lib/$LibName" -Force
    if ($IsWindows) {
        # NativeAOT emits the import library next to the obj output; C/C++ callers link against it.
        $implib = Get-ChildItem -Recurse "src/Luminal.Native/bin/$Config" -Filter 'Luminal.Native.lib' | Select-Object -First 1
        if ($implib) { Copy-Item $implib.FullName "$Build/lib/luminal.lib" -Force }
    }
}

function Build-Native {
    Write-Host "== C/C++ (cmake)"
    Invoke-Checked { cmake -S . -B "$Build/cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DLUMINAL_LIB_DIR=$Build/lib" }
    Invoke-Checked { cmake --build "$Build/cmake" --config RelWithDebInfo -j ([Environment]::ProcessorCount) }
    if ($IsWindows) { Copy-Item "$Build/lib/$LibName" "$Build/cmake" -Force } # next to the executables
}

function Build-Rust {
    if (-not (Test-Path bindings/rust)) { return }
    Write-Host "== Rust (cargo)"
    $env:LUMINAL_LIB_DIR = "$Build/lib"
    Push-Location bindings/rust; try { Invoke-Checked { cargo build --release --offline --workspace --all-targets -q } } finally { Pop-Location }
}

function Add-LibToSearchPath {
    if ($IsWindows) { $env:PATH = "$Build/lib;$env:PATH" }
    elseif ($IsMacOS) { $env:DYLD_LIBRARY_PATH = "$Build/lib" }
    else { $env:LD_LIBRARY_PATH = "$Build/lib" }
}

function Invoke-Examples {
    Add-LibToSearchPath
    Write-Host "== examples"
    Get-ChildItem -Recurse "$Build/cmake/examples/c", "$Build/cmake/examples/cpp" -Filter "example_*$Exe" -ErrorAction SilentlyContinue |
        Where-Object { $IsWindows -or -not $_.Extension } |
        ForEach-Object { Write-Host "-- $($_.Name)"; Invoke-Checked { & $_.FullName } }
    $bin = "bindings/rust/target/release"
    foreach ($e in @('hello', 'plugin-host')) {
        if (Test-Path "$bin/$e$Exe") { Write-Host "-- rust: $e"; Invoke-Checked { & "$bin/$e$Exe" } }
    }
}

function Invoke-Tests {
    Add-LibToSearchPath
    Write-Host "== managed tests (NUnit)"
    Invoke-Checked { dotnet test tests/managed -c $Config --nologo -v quiet }
    Write-Host "== native tests (CTest)"
    Push-Location "$Build/cmake"; try { Invoke-Checked { ctest -C RelWithDebInfo --output-on-failure -j 2 -LE soak } } finally { Pop-Location }
    if (Test-Path bindings/rust) {
        Write-Host "== Rust tests (cargo test)"
        $env:LUMINAL_LIB_DIR = "$Build/lib"
        Push-Location bindings/rust; try { Invoke-Checked { cargo test --release --offline --workspace -q } } finally { Pop-Location }
    }
}

function Invoke-Soak {
    Add-LibToSearchPath
    Write-Host "== long fuzz pass and soak (CTest label soak)"
    Push-Location "$Build/cmake"; try { Invoke-Checked { ctest -C RelWithDebInfo --output-on-failure -V -L soak } } finally { Pop-Location }
}

switch ($Mode) {
    'lib' { Build-Lib }
    'soak' { Build-Lib; Build-Native; Invoke-Soak }
    'all' { Build-Lib; Build-Native; Build-Rust; Invoke-Examples }
    'test' { Build-Lib; Build-Native; Build-Rust; Invoke-Tests }
}
