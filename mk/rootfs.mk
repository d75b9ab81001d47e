# Root filesystems of real distributions for the container tests (tests/tests/container_*.rs):
# the generated Knative workspace container runs in them under bubblewrap, as uid 1000 with
# no capabilities (see tests/src/rootfs.rs).
#
#   make rootfs        mmdebstrap + bubblewrap (apt), then every root below, once
#
# Each root is built from Debian's repositories by mmdebstrap, into a temporary folder that
# is renamed into place, and marked complete by a stamp naming its recipe; a second run
# finds the stamps and does nothing (a changed recipe rebuilds that root):
#
#   .cache/rootfs/bookworm/   Debian 12, variant minbase, WITHOUT ca-certificates
#   .cache/rootfs/trixie/     Debian 13, variant minbase, WITHOUT ca-certificates
#   .cache/rootfs/musl/       no glibc at all: Debian's busybox-static (/bin/sh and the
#                             applets) and musl (the loader /lib/ld-musl-x86_64.so.1)
#
# Variables: ROOTFS_MIRROR (default http://deb.debian.org/debian).

ROOTFS_DIR := $(CURDIR)/.cache/rootfs
ROOTFS_MIRROR ?= http://deb.debian.org/debian
ROOTFS_APT_PACKAGES := mmdebstrap bubblewrap
# Smaller roots, same programs: no manuals, docs or translations.
ROOTFS_SLIM := --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*'
# What makes each root: a change here rebuilds it (the stamp holds the recipe).
ROOTFS_RECIPE_debian = mmdebstrap --variant=minbase $(ROOTFS_SLIM) (no ca-certificates)
ROOTFS_RECIPE_musl = mmdebstrap --variant=extract --include=busybox-static,musl + busybox --install -s
ROOTFS_OS_RELEASE_musl := 'PRETTY_NAME="busybox and musl (Debian packages)"' 'ID=busybox-musl'

export DCS_TEST_ROOTFS_DIR := $(ROOTFS_DIR)

.PHONY: rootfs rootfs-tools

## rootfs: the bookworm, trixie and musl root filesystems of the container tests
rootfs: rootfs-tools $(ROOTFS_DIR)/bookworm/.dcs-rootfs $(ROOTFS_DIR)/trixie/.dcs-rootfs \
  $(ROOTFS_DIR)/musl/.dcs-rootfs

rootfs-tools:
	@bash mk/apt-install.sh $(ROOTFS_APT_PACKAGES)

# Each stamp recipe runs on every `make rootfs` (rootfs-tools is phony) and returns at
# once when the stamp already names the current recipe.
$(ROOTFS_DIR)/bookworm/.dcs-rootfs $(ROOTFS_DIR)/trixie/.dcs-rootfs: rootfs-tools
	@suite=$$(basename "$(@D)"); want="$$suite: $(ROOTFS_RECIPE_debian)"; \
	if [ "$$(cat "$@" 2>/dev/null)" = "$$want" ]; then exit 0; fi; \
	echo "building the $$suite root filesystem in $(@D) (minbase, no ca-certificates; once)"; \
	rm -rf "$(@D)" "$(@D).tmp" && mkdir -p "$(ROOTFS_DIR)" && \
	mmdebstrap --variant=minbase --format=directory $(ROOTFS_SLIM) \
	  "$$suite" "$(@D).tmp" "$(ROOTFS_MIRROR)" && \
	if [ -e "$(@D).tmp/etc/ssl/certs/ca-certificates.crt" ]; then \
	  echo "the $$suite root has CA certificates; it must not"; exit 1; fi && \
	printf '%s\n' "$$want" > "$(@D).tmp/.dcs-rootfs" && mv "$(@D).tmp" "$(@D)"

$(ROOTFS_DIR)/musl/.dcs-rootfs: rootfs-tools
	@want="musl: $(ROOTFS_RECIPE_musl)"; \
	if [ "$$(cat "$@" 2>/dev/null)" = "$$want" ]; then exit 0; fi; \
	echo "building the musl/busybox root filesystem in $(@D) (once)"; \
	rm -rf "$(@D)" "$(@D).tmp" && mkdir -p "$(ROOTFS_DIR)" && \
	mmdebstrap --variant=extract --include=busybox-static,musl --format=directory \
	  --extract-hook='chroot "$$1" /bin/busybox --install -s /bin' \
	  bookworm "$(@D).tmp" "$(ROOTFS_MIRROR)" && \
	printf '%s\n' $(ROOTFS_OS_RELEASE_musl) > "$(@D).tmp/etc/os-release" && \
	if ls "$(@D).tmp"/lib*/ld-linux* "$(@D).tmp"/usr/lib*/ld-linux* >/dev/null 2>&1; then \
	  echo "the musl root has a glibc loader; it must not"; exit 1; fi && \
	test -x "$(@D).tmp/bin/busybox" && test -L "$(@D).tmp/bin/sh" && test -e "$(@D).tmp/lib/ld-musl-x86_64.so.1" && \
	printf '%s\n' "$$want" > "$(@D).tmp/.dcs-rootfs" && mv "$(@D).tmp" "$(@D)"
