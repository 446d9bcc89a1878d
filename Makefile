# mcast: build, install, test, demo.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib/mcast
DOCDIR  ?= $(PREFIX)/share/doc/mcast
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# The version is the nearest release tag (v0.x.y, with -N-gHASH past it),
# or before the first tag a Go pseudo-version (v0.0.0-DATE-HASH). A build
# without make (go install) reports the module version Go recorded.
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || \
	TZ=UTC git log -1 --format='v0.0.0-%cd-%h' --abbrev=12 --date=format-local:%Y%m%d%H%M%S 2>/dev/null)
COMMIT  ?= $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null && echo $$c || echo $$c-dirty; })
GO      ?= go
BUILDINFO := github.com/mcasttools/mcast/internal/buildinfo
LDFLAGS := -s -w $(if $(VERSION),-X $(BUILDINFO).Version=$(VERSION)) $(if $(COMMIT),-X $(BUILDINFO).Commit=$(COMMIT))
# The packager, pinned; `go run` fetches it through the module proxy.
NFPM    ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
# Package version: the tag without its v (v0.3.1-2-gabc: 0.3.1+2.gabc), or
# 0.0.0~gitDATE.HASH before the first tag (0.0.0~dev outside git).
PKG_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo "$${v\#v}" | sed 's/-\([0-9]*\)-g/+\1.g/' || git log -1 --format='0.0.0~git%cd.%h' --date=format:%Y%m%d 2>/dev/null || echo 0.0.0~dev)
PKG_ARCH ?= $(shell $(GO) env GOARCH)
# Where make package puts the .deb and .rpm.
PKGOUT  ?= dist/out

.PHONY: build man completions install package test test-unit demo lint clean up logs down docker-check

build: ## static binary at bin/mcast, with sender and receiver beside it
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/mcast ./cmd/mcast
	ln -sf mcast bin/sender
	ln -sf mcast bin/receiver

man: ## a man page per command in build/man (generated from the command definitions, not committed)
	rm -rf build/man
	# Dated by the last commit (SOURCE_DATE_EPOCH), so that the pages are reproducible.
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null) $(GO) run ./internal/cli/gendoc build/man

completions: build ## bash, zsh and fish completion scripts in build/completions
	mkdir -p build/completions
	bin/mcast completion bash > build/completions/mcast
	bin/mcast completion zsh > build/completions/_mcast
	bin/mcast completion fish > build/completions/mcast.fish

install: build man completions ## install mcast into $(BINDIR), sender and receiver into $(LIBDIR), the systemd units, the docs, man pages and completions
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0644 build/man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 0644 build/completions/mcast $(DESTDIR)$(BASHCOMPDIR)/mcast
	install -m 0644 build/completions/_mcast $(DESTDIR)$(ZSHCOMPDIR)/_mcast
	install -m 0644 build/completions/mcast.fish $(DESTDIR)$(FISHCOMPDIR)/mcast.fish
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR)/examples/relay $(DESTDIR)$(DOCDIR)/examples/tunnel \
		$(DESTDIR)$(PREFIX)/share/mcast/grafana $(DESTDIR)$(PREFIX)/share/mcast/prometheus
	install -m 0755 bin/mcast $(DESTDIR)$(BINDIR)/mcast
	# The classic names stay off PATH: export PATH=$(LIBDIR):$$PATH to use them.
	ln -sf $(BINDIR)/mcast $(DESTDIR)$(LIBDIR)/sender
	ln -sf $(BINDIR)/mcast $(DESTDIR)$(LIBDIR)/receiver
	for u in dist/systemd/*.service; do \
		sed 's|/usr/bin/mcast|$(BINDIR)/mcast|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u) && chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	install -m 0644 dist/nfpm/mcast.sysusers $(DESTDIR)$(SYSUSERSDIR)/mcast.conf
	install -m 0644 README.md CHANGELOG.md LICENSE $(DESTDIR)$(DOCDIR)
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 examples/relay/*.conf $(DESTDIR)$(DOCDIR)/examples/relay
	install -m 0644 examples/tunnel/*.yaml $(DESTDIR)$(DOCDIR)/examples/tunnel
	install -m 0644 dist/grafana/*.json $(DESTDIR)$(PREFIX)/share/mcast/grafana
	install -m 0644 dist/prometheus/*.yml $(DESTDIR)$(PREFIX)/share/mcast/prometheus
	@echo "installed; for the relay unit: systemd-sysusers $(SYSUSERSDIR)/mcast.conf && systemctl daemon-reload"

package: build man completions ## .deb and .rpm in $(PKGOUT) (nfpm; version from git tags)
	mkdir -p dist/out $(PKGOUT)
	gzip -n -9 -c CHANGELOG.md > dist/out/changelog.gz
	mkdir -p dist/out/man
	for f in build/man/*.1; do gzip -n -9 -c $$f > dist/out/man/$$(basename $$f).gz; done
	sed -e 's/@VERSION@/$(PKG_VERSION)/' -e "s/@DATE@/$$(git log -1 --format=%aD)/" dist/nfpm/changelog.Debian.in | gzip -n -9 > dist/out/changelog.Debian.gz
	MCAST_PKG_VERSION='$(PKG_VERSION)' MCAST_ARCH='$(PKG_ARCH)' $(NFPM) package --config dist/nfpm/nfpm.yaml --packager deb --target $(PKGOUT)/
	MCAST_PKG_VERSION='$(PKG_VERSION)' MCAST_ARCH='$(PKG_ARCH)' $(NFPM) package --config dist/nfpm/nfpm.yaml --packager rpm --target $(PKGOUT)/

test: ## every test: unit, and integration in network namespaces (needs root)
	bash scripts/test.sh

test-unit: ## the tests that need no root
	$(GO) test ./internal/...

demo: build ## two NICs of one host, in the twonic lab, with default sysctls and with accept_local=1
	bash scripts/demo.sh

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf build
	rm -rf bin dist/out

# The local try with Docker: a sender and two receivers as containers
# (docker-compose.yml, Dockerfile). DOCKER_HOST
# picks the daemon, as for docker itself. Debian's docker-compose (v1) is
# preferred; the compose plugin (docker compose) is used where it is missing.
COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)
export COMPOSE_PROJECT_NAME ?= mcast

# docker-check stops make with one line when Docker cannot be used.
docker-check:
	$(eval docker_problem := $(shell bash scripts/docker-check.sh $(COMPOSE)))
	$(if $(docker_problem),$(error $(docker_problem)))

up: docker-check build ## build the image; start receiver01, receiver02, then the sender once both joined
	bash scripts/docker-up.sh $(COMPOSE)

logs: docker-check ## follow the containers' output with timestamps
	$(COMPOSE) logs --follow --timestamps

down: docker-check ## stop and remove the containers and their network
	$(COMPOSE) down --remove-orphans
