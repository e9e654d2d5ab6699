#!/usr/bin/env bash
# get-corpus.sh TARGET_DIR
#
# Reproduces the corpus of the pdfqa-more question set: six PDF manuals taken from
# Debian bookworm documentation packages (versions recorded below).  Each package is
# fetched with `apt-get download`, the chosen PDF is copied flat into TARGET_DIR
# (gunzipped if the package ships it as .pdf.gz) and checked against the recorded
# sha256 sum; a mismatch only warns, because page numbers in questions.jsonl are
# physical PDF page indices and may shift with another package version.
#
# Progress and warnings go to stderr; the last line on stdout is TARGET_DIR
# (absolute).  Exits non-zero on failure.
set -euo pipefail

# package | version the questions were built from | PDF in the corpus | sha256 of that PDF
MANUALS=(
  "systemtap-doc|4.8-2|SystemTap_Beginners_Guide.pdf|b50d709b0ab4567665cf0eda6f8f52b37c57a8f981b9fac375cb38de2c50f224"
  "zsh-doc|5.9-4|zsh.pdf|c0063d29d65a90b80467bfe946c4a0256b7d9c28b126521203f54f60aa8779ca"
  "glpk-doc|5.0-1|glpk.pdf|002d0328518a17b58919a2860b7f72d52594a73008f72c85f0dd70dfa138250f"
  "libhsqldb-java-doc|2.7.1-1+deb12u1|guide.pdf|3b16bb65d5076b7ee9b188ae050fa10278bc9b08168a4fa5bb9b2c5d6fa363ba"
  "firehol-doc|3.1.7+ds-2.1|firehol-manual.pdf|4c39b5bbc4fa3f371fcd989bbd89f5eebc006d49c9b29d73c00324dbcd220d7b"
  "asymptote-doc|2.85+ds-1|asymptote.pdf|e17165321f74a5ec1b884cf20773cc43361df8f7fc707b071debf4ef707de051"
)

die() { echo "get-corpus.sh: error: $*" >&2; exit 1; }
warn() { echo "get-corpus.sh: warning: $*" >&2; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: get-corpus.sh TARGET_DIR"
for tool in apt-get dpkg-deb find sha256sum gunzip; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done

mkdir -p "$1" || die "cannot create $1"
TARGET_DIR=$(cd "$1" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/get-corpus.XXXXXX")
chmod 755 "$WORK"  # lets apt's sandbox user write the .deb when run as root
trap 'rm -rf "$WORK"' EXIT

# --- download the .debs (one apt-get update and a retry if any download fails) ---
download() { (cd "$WORK" && apt-get download "$1") >>"$WORK/download.log" 2>&1; }
updated=0
mismatch=0
for entry in "${MANUALS[@]}"; do
  IFS='|' read -r pkg want_version pdf want_sum <<<"$entry"
  if ! download "$pkg"; then
    if [ $updated -eq 0 ]; then
      warn "apt-get download $pkg failed; running apt-get update -qq and retrying once"
      apt-get update -qq >&2 || warn "apt-get update failed (not root?)"
      updated=1
    fi
    if ! download "$pkg"; then
      cat "$WORK/download.log" >&2
      die "apt-get download $pkg failed"
    fi
  fi
  shopt -s nullglob
  debs=("$WORK"/"${pkg}"_*.deb)
  shopt -u nullglob
  [ ${#debs[@]} -eq 1 ] || die "expected one ${pkg}_*.deb after download, found ${#debs[@]}"
  deb=${debs[0]}
  version=$(dpkg-deb -f "$deb" Version) || die "cannot read version of $deb"
  echo "get-corpus.sh: downloaded $pkg $version" >&2
  [ "$version" = "$want_version" ] ||
    warn "$pkg version is $version but the question set was built from $want_version"

  # --- unpack and copy the manual (regular files only: some packages also ship symlinks) ---
  root="$WORK/root-$pkg"
  dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed"
  src=$(find "$root" -type f -name "$pdf" | sort | head -n 1)
  [ -n "$src" ] || src=$(find "$root" -type f -name "$pdf.gz" | sort | head -n 1)
  [ -n "$src" ] || die "$pdf (or $pdf.gz) not found in $pkg $version"
  if [[ $src == *.gz ]]; then
    gunzip -c "$src" >"$TARGET_DIR/$pdf" || die "gunzip of $src failed"
  else
    cp "$src" "$TARGET_DIR/$pdf" || die "copy of $src failed"
  fi
  sum=$(sha256sum "$TARGET_DIR/$pdf" | cut -d' ' -f1)
  if [ "$sum" = "$want_sum" ]; then
    echo "get-corpus.sh: $pdf sha256 OK" >&2
  else
    mismatch=1
    warn "$pdf sha256 mismatch: got $sum, expected $want_sum (page numbers may not match)"
  fi
  rm -rf "$root" "$deb"
done
[ $mismatch -eq 0 ] || warn "some checksums differ from the recorded ones"

echo "$TARGET_DIR"
