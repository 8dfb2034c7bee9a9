# Luminal's build entry point on Windows (PowerShell 7+). Mirrors build.sh:
#   ./build.ps1            build luminal.dll, the C and Rust examples, and run the examples
#   ./build.ps1 test       build everything and run every test
#   ./build.ps1 lib        build only build/lib/luminal.dll (+ luminal.lib import library)
param([ValidateSet('all', 'test', 'lib')][string]$Mode = 'all')
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$Build = Join-Path $PSScriptRoot 'build'
$Config = if ($env:CONFIG) { $env:CONFIG } else { 'Release' }
$Rid = if ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'Arm64') { 'win-arm64' } else { 'win-x64' }

function Invoke-Checked([scriptblock]$Block) { & $Block; if ($LASTEXITCODE -ne 0) { throw "failed: $Block" } }

function Build-Lib {
    Write-Host "== luminal.dll ($Rid, $Config)"
    Invoke-Checked { dotnet publish src/Luminal.Native -c $Config -r $Rid -o "$Build/native" --nologo -v quiet }
    New-Item -ItemType Directory -Force "$Build/lib" | Out-Null
    Copy-Item "$Build/native/Luminal.Native.dll" "$Build/lib/luminal.dll" -Force
    # NativeAOT emits the import library next to the obj output; C/C++ callers link against it.
    $implib = Get-ChildItem -Recurse "src/Luminal.Native/bin/$Config" -Filter 'Luminal.Native.lib' | Select-Object -First 1
    if ($implib) { Copy-Item $implib.FullName "$Build/lib/luminal.lib" -Force }
}

function Build-Native {
    Write-Host "== C/C++ (cmake)"
    Invoke-Checked { cmake -S . -B "$Build/cmake" "-DLUMINAL_LIB_DIR=$Build/lib" }
    Invoke-Checked { cmake --build "$Build/cmake" --config RelWithDebInfo }
    Copy-Item "$Build/lib/luminal.dll" "$Build/cmake" -Recurse -Force
}

function Build-Rust {
    if (-not (Test-Path bindings/rust)) { return }
    Write-Host "== Rust (cargo)"
    $env:LUMINAL_LIB_DIR = "$Build/lib"
    Push-Location bindings/rust; try { Invoke-Checked { cargo build --release --offline --workspace --all-targets } } finally { Pop-Location }
}

function Invoke-Examples {
    $env:PATH = "$Build/lib;$env:PATH"
    Get-ChildItem -Recurse "$Build/cmake/examples/c" -Filter 'example_*.exe' | ForEach-Object { Write-Host "-- $($_.Name)"; Invoke-Checked { & $_.FullName } }
}

function Invoke-Tests {
    $env:PATH = "$Build/lib;$env:PATH"
    Invoke-Checked { dotnet test tests/managed -c $Config --nologo }
    Push-Location "$Build/cmake"; try { Invoke-Checked { ctest -C RelWithDebInfo --output-on-failure } } finally { Pop-Location }
    if (Test-Path bindings/rust) {
        Push-Location bindings/rust; try { Invoke-Checked { cargo test --release --offline --workspace } } finally { Pop-Location }
    }
}

switch ($Mode) {
    'lib' { Build-Lib }
    'all' { Build-Lib; Build-Native; Build-Rust; Invoke-Examples }
    'test' { Build-Lib; Build-Native; Build-Rust; Invoke-Tests }
}
