; Inno Setup script: the Windows installer of rmclinic (build it on Windows; see packaging/README.md).
;   1. .venv\Scripts\python packaging\build.py          -> dist\rmclinic\ (rmclinic.exe, rmclinic-cli.exe, _internal\)
;   2. "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\rmclinic.iss
;                                                        -> dist\rmclinic-0.1.0-setup.exe
;   3. sign both executables before step 2 and the setup after it (signtool sign /fd SHA256 /tr <timestamp URL> ...)
;
; Per-machine install to Program Files, a Start-menu shortcut, an uninstaller. Upgrading installs over the previous
; version (same AppId): the program files are replaced, and each user's data in %LOCALAPPDATA%\rmclinic (database,
; backups, logs) is never touched, by the upgrade or by the uninstaller; rmclinic migrates the database, after a
; backup, when it next starts. Silent install for software deployment: rmclinic-0.1.0-setup.exe /VERYSILENT /NORESTART

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "rmclinic"
#define SourceDir "..\..\dist\rmclinic"

[Setup]
; Never change the AppId: it is how an upgrade finds the installed version.
AppId={{6F1D3C52-8B8E-4E57-9B0A-2C7E5D4A9F31}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=rmclinic
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=rmclinic-{#AppVersion}-setup
SetupIconFile=..\icons\rmclinic.ico
UninstallDisplayIcon={app}\rmclinic.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
RestartApplications=no

MinVersion=10.0

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; an upgrade replaces the bundled libraries whole: nothing of an older version's _internal is left behind
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\rmclinic.exe"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#SourceDir}\rmclinic-cli.exe"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#SourceDir}\_internal\*"; DestDir: "{app}\_internal"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\rmclinic.exe"; Comment: "Recurrent-miscarriage clinic records"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\rmclinic.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\rmclinic.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent unchecked

[UninstallDelete]
; only what the program folder itself may hold (a portable-mode data folder is the user's, and is kept)
Type: dirifempty; Name: "{app}"
