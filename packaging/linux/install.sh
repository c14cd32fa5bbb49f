#!/bin/sh
# Install (or remove) the rmclinic bundle from this unpacked tarball, for every user of the workstation.
#   sudo ./install.sh                  install to /opt/rmclinic, commands in /usr/local/bin
#   sudo ./install.sh --uninstall      remove them again (the users' data is never touched)
#   ./install.sh --prefix ~/.local     one user only: ~/.local/opt/rmclinic, ~/.local/bin, ~/.local/share
# An upgrade is the same command with the newer tarball: the program files are replaced; each user's data stays
# in ~/.local/share/rmclinic and the database is migrated (after a backup) when rmclinic next starts.
# A portable data folder (rmclinic/data, with rmclinic-portable.ini beside the executable) is patient data: an
# upgrade keeps it in the new program folder, the uninstall leaves it, and a folder that was itself run in
# portable mode is never installed from (its data would be copied into the install and made readable to all).
set -eu
say() { printf '%s\n' "$*"; }  # not echo: dash's echo takes the backslashes in a folder name for escapes
here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
opt=/opt/rmclinic  # with --prefix DIR: DIR/opt/rmclinic
custom_prefix=no
action=install
marker=rmclinic-portable.ini
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix)
      [ $# -ge 2 ] && [ -n "$2" ] || { say "$0: --prefix needs a folder" >&2; exit 2; }
      prefix=$2
      custom_prefix=yes
      shift 2
      ;;
    --uninstall) action=uninstall; shift ;;
    *) say "usage: $0 [--prefix DIR] [--uninstall]" >&2; exit 2 ;;
  esac
done
case "$prefix" in
  /*) ;;
  *) prefix=$(pwd)/$prefix ;;  # the command links and the menu entry need a full path
esac
case "$prefix" in
  *'
'*) say "$0: the folder name must not contain a line break" >&2; exit 2 ;;
esac
if [ "$custom_prefix" = yes ]; then opt=$prefix/opt/rmclinic; fi
share=$prefix/share
sizes="16 24 32 48 64 128 256 512"
bundle_files="rmclinic rmclinic-cli _internal"  # the top of the program folder (packaging/rmclinic.spec)

# portable data in a program folder: data/ or the marker
has_portable_data() { [ -e "$1/data" ] || [ -e "$1/$marker" ] || [ -L "$1/data" ]; }

if [ "$action" = uninstall ]; then
  for f in "$prefix/bin/rmclinic" "$prefix/bin/rmclinic-cli"; do
    # only our own links (a link to the program folder), never another program of the same name
    if [ -L "$f" ]; then
      case "$(readlink "$f")" in "$opt"/*) rm -f "$f" ;; esac
    fi
  done
  rm -f "$share/applications/rmclinic.desktop"
  rm -f "$share/icons/hicolor/scalable/apps/rmclinic.svg"
  for s in $sizes; do rm -f "$share/icons/hicolor/${s}x${s}/apps/rmclinic.png"; done
  if [ -d "$opt" ]; then
    for f in $bundle_files; do rm -rf "${opt:?}/$f"; done
    if rmdir "$opt" 2>/dev/null; then
      say "rmclinic removed from $opt (user data in ~/.local/share/rmclinic was kept)"
    else
      say "rmclinic's program files were removed from $opt; these were left there:"
      ls -A "$opt" | sed 's/^/  /'
      if has_portable_data "$opt"; then
        say "$opt/data holds a portable-mode database with patient data: keep it as your records policy requires."
      fi
    fi
  else
    say "rmclinic was not installed in $opt; its commands, menu entry and icons were removed"
  fi
  exit 0
fi

if has_portable_data "$here/rmclinic"; then
  say "$0: $here/rmclinic has been used in portable mode (it has a data folder or $marker):" >&2
  say "  it holds patient data, which an install would copy into $opt. Unpack the tarball afresh" >&2
  say "  and install from there; keep (or move) this folder's data as your records policy requires." >&2
  exit 1
fi
for leftover in "$opt.new" "$opt.old"; do
  if [ -e "$leftover" ] && has_portable_data "$leftover"; then
    say "$0: $leftover is left from an interrupted upgrade and holds portable data; move its data folder" >&2
    say "  (and $marker) back into $opt, remove $leftover, then run this again." >&2
    exit 1
  fi
done

mkdir -p "$(dirname "$opt")" "$prefix/bin" "$share/applications"
rm -rf "$opt.new" "$opt.old"
cp -R "$here/rmclinic" "$opt.new"
chmod -R u+rwX,go+rX,go-w "$opt.new"  # before any portable data moves in: that stays private
kept=""
if [ -d "$opt" ]; then
  # an upgrade of a program folder used in portable mode: its data and marker move into the new folder
  for f in data "$marker"; do
    if [ -e "$opt/$f" ] || [ -L "$opt/$f" ]; then
      mv "$opt/$f" "$opt.new/$f"
      kept="$kept $f"
    fi
  done
  mv "$opt" "$opt.old"
fi
mv "$opt.new" "$opt"
if [ -e "$opt.old" ]; then
  if has_portable_data "$opt.old"; then  # cannot happen (moved above); never delete data if it does
    say "$0: $opt.old still holds portable data; it was left in place" >&2
    exit 1
  fi
  rm -rf "$opt.old"
fi
ln -sf "$opt/rmclinic" "$prefix/bin/rmclinic"
ln -sf "$opt/rmclinic-cli" "$prefix/bin/rmclinic-cli"

# The menu entry starts the installed executable by its full path (whatever the users' PATH). Exec= is quoted as
# the Desktop Entry Specification says (a folder name may hold spaces): \ " ` $ escaped inside the quotes, every
# backslash then escaped again, % doubled. TryExec= is a plain string: only backslashes are escaped.
exec_path=$(printf '%s\n' "$opt/rmclinic" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')
try_path=$(printf '%s\n' "$opt/rmclinic" | sed -e 's/\\/\\\\/g')
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=rmclinic | "Exec=rmclinic "*) printf 'Exec="%s"%s\n' "$exec_path" "${line#Exec=rmclinic}" ;;
    TryExec=rmclinic) printf 'TryExec=%s\n' "$try_path" ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$here/share/applications/rmclinic.desktop" >"$share/applications/rmclinic.desktop"
chmod 0644 "$share/applications/rmclinic.desktop"
install -D -m 0644 "$here/share/icons/hicolor/scalable/apps/rmclinic.svg" "$share/icons/hicolor/scalable/apps/rmclinic.svg"
for s in $sizes; do
  install -D -m 0644 "$here/share/icons/hicolor/${s}x${s}/apps/rmclinic.png" "$share/icons/hicolor/${s}x${s}/apps/rmclinic.png"
done
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
say "rmclinic installed in $opt; start it from the applications menu or with: $prefix/bin/rmclinic"
if [ -n "$kept" ]; then
  say "the portable data of the previous version was kept in $opt (${kept# }); it is migrated when rmclinic next starts"
fi
