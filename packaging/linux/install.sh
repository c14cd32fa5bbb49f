#!/bin/sh
# Install (or remove) the rmclinic bundle from this unpacked tarball, for every user of the workstation.
#   sudo ./install.sh                  install to /opt/rmclinic, commands in /usr/local/bin
#   sudo ./install.sh --uninstall      remove them again (the users' data is never touched)
#   ./install.sh --prefix ~/.local     one user only: ~/.local/opt/rmclinic, ~/.local/bin, ~/.local/share
# An upgrade is the same command with the newer tarball: the program folder is replaced; each user's data stays
# in ~/.local/share/rmclinic and the database is migrated (after a backup) when rmclinic next starts.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
opt=/opt/rmclinic
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; opt=$2/opt/rmclinic; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    *) echo "usage: $0 [--prefix DIR] [--uninstall]" >&2; exit 2 ;;
  esac
done
share=$prefix/share
sizes="16 24 32 48 64 128 256 512"

if [ "$action" = uninstall ]; then
  rm -f "$prefix/bin/rmclinic" "$prefix/bin/rmclinic-cli" "$share/applications/rmclinic.desktop"
  rm -f "$share/icons/hicolor/scalable/apps/rmclinic.svg"
  for s in $sizes; do rm -f "$share/icons/hicolor/${s}x${s}/apps/rmclinic.png"; done
  rm -rf "$opt"
  echo "rmclinic removed from $opt (user data in ~/.local/share/rmclinic was kept)"
  exit 0
fi

mkdir -p "$(dirname "$opt")" "$prefix/bin" "$share/applications"
rm -rf "$opt.new"
cp -R "$here/rmclinic" "$opt.new"
rm -rf "$opt"
mv "$opt.new" "$opt"
chmod -R u+rwX,go+rX,go-w "$opt"
ln -sf "$opt/rmclinic" "$prefix/bin/rmclinic"
ln -sf "$opt/rmclinic-cli" "$prefix/bin/rmclinic-cli"
# the menu entry starts the installed executable by its full path (whatever the users' PATH)
sed -e "s|^Exec=rmclinic|Exec=$opt/rmclinic|" -e "s|^TryExec=rmclinic|TryExec=$opt/rmclinic|" \
  "$here/share/applications/rmclinic.desktop" >"$share/applications/rmclinic.desktop"
chmod 0644 "$share/applications/rmclinic.desktop"
install -D -m 0644 "$here/share/icons/hicolor/scalable/apps/rmclinic.svg" "$share/icons/hicolor/scalable/apps/rmclinic.svg"
for s in $sizes; do
  install -D -m 0644 "$here/share/icons/hicolor/${s}x${s}/apps/rmclinic.png" "$share/icons/hicolor/${s}x${s}/apps/rmclinic.png"
done
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
echo "rmclinic installed in $opt; start it from the applications menu or with: $prefix/bin/rmclinic"
